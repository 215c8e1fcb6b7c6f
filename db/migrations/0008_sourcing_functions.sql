-- 0008: the rules of recall and sourcing, and the field-level diff of two versions, as functions,
-- so the write service (db/writes.py) applies them to every affected fact in one statement and
-- the read paths (REST, both GraphQL paths, the corrections feed) print the same diff.

-- Why an article no longer supports what cites it: retracted, withheld or canceled (NULL: usable).
-- Retraction wins: a retracted article stays retracted whatever its pubStatus says.
CREATE FUNCTION article_withdrawn_state(retracted_at timestamptz, pub_status text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN retracted_at IS NOT NULL THEN 'retracted'
                WHEN pub_status IN ('withheld', 'canceled') THEN pub_status END
$$;

-- A fact's sourcing from the articles its references point into (its derived article_ids): none
-- withdrawn (or no references at all) → supported; some → partlyWithdrawn; every one → withdrawn.
-- STABLE, not IMMUTABLE: it reads articles, and within a writing transaction it must see the
-- article change that transaction just made.
CREATE FUNCTION fact_sourcing(article_ids text[]) RETURNS text LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN count(*) FILTER (WHERE w) = 0 THEN 'supported'
                WHEN bool_and(w) THEN 'withdrawn'
                ELSE 'partlyWithdrawn' END
    FROM (SELECT article_withdrawn_state(a.retracted_at, a.pub_status) IS NOT NULL AS w
          FROM articles a WHERE a.id = ANY(article_ids)) cited
$$;

-- What changed between two snapshots of a fact, field by field, in key order:
-- [{"field", "from", "to"}]. version and updatedAt change with every version and say nothing, so
-- they are left out. With no previous snapshot (a creation) the diff is empty: the snapshot is all
-- of it, and an empty list reads the same on every path (a planned list is never null).
CREATE FUNCTION snapshot_diff(old jsonb, new jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(
        (SELECT jsonb_agg(jsonb_build_object('field', k, 'from', old -> k, 'to', new -> k) ORDER BY k COLLATE "C")
         FROM (SELECT jsonb_object_keys(old || new) AS k) keys
         WHERE old IS NOT NULL AND k NOT IN ('version', 'updatedAt') AND (old -> k) IS DISTINCT FROM (new -> k)),
        '[]'::jsonb)
$$;
