-- 0006_cursor_function: keyset cursors rendered by PostgreSQL, for the GraphQL read planner
-- (db/plan/), which builds whole responses in SQL. Byte-for-byte what db/pagination.encode makes:
-- url-safe base64 of the compact JSON array [order, sort key, id], without padding. Inlined by the
-- planner (a one-expression SQL function), so it costs what the expression costs.
CREATE FUNCTION nf_cursor(ord text, sort_key text, id text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT rtrim(translate(encode(convert_to(
        '[' || to_json(ord)::text || ',' || to_json(sort_key)::text || ',' || to_json(id)::text || ']',
        'UTF8'), 'base64'), E'+/\n', '-_'), '=')
$$;
