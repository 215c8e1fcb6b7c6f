-- 0016: no word of a withheld or canceled article reaches read-scope or anonymous callers through a
-- reference. A fact that is only partly withdrawn (0007) stays readable for them, but each of its
-- references carries quoteText, the article's own words: a reference into an article whose text is
-- hidden now is left out of what they read — the fact's `references`, each deployment asset's
-- `references`, revision snapshots and their diffs, and event payloads.
--
-- * "Hidden" is the article stub's rule (0009): pubStatus withheld or canceled now, retracted or
--   not. A retracted article is still readable in full, so a reference into it stays; this is not
--   article_withdrawn_state / fact_sourcing, for which a retraction counts as withdrawn.
-- * The article's status NOW decides, at every time: a recall takes the words down from every
--   version of every fact, a release brings them back. A release reveals nothing that was not
--   public: a reference is only ever written into an article usable then (a new reference into a
--   withdrawn article is refused), so its words are those of a usable version of the article, which
--   an asOf read shows once the article is usable again.
-- * References leave no trace (an empty quoteText or a null would break GraphQL's
--   `quoteText: String!` and the OpenAPI Reference, and a stub's offsets would still tell the
--   length of the passage). The fact's sourcing (partlyWithdrawn) says that some source is gone; its
--   article_ids are kept, so it is still listed under the stub article's relations (an id is not
--   the article's words) and relation probes keep their GIN indexes.
-- * The common case costs nothing per reference: a live fact whose stored sourcing is 'supported'
--   cites no withheld or canceled article (the write service keeps sourcing in step with every
--   recall, under locks; a retracted fact keeps its last version, so it is checked reference by
--   reference). A past version (<table>_public_at) is checked unless the fact now is live and
--   supported and the version cites no article the fact does not cite now.

-- The functions are PL/pgSQL: their plans are kept for the session. A SQL function that is not
-- inlined (these read articles) is planned again for every statement that calls it — and for every
-- call when another such function calls it — and its generic plan scanned articles whole; each
-- probe here is one primary-key lookup per cited article. The two the relations call are declared
-- COST 1: at PL/pgSQL's default of 100, PostgreSQL no longer inlined <kind>_doc(row) over a
-- relation whose row holds such a call (it will not repeat an expensive argument) and built every
-- row as a composite instead, +25% CPU on a page of claims, supported or not. They run only for the
-- rows the shortcut below does not cover.

-- A references array ([{article, charStart, charEnd, quoteText}]) without the references into
-- articles whose text is hidden now, in its order. Anything not an array is returned as it is.
CREATE FUNCTION nf_public_refs(refs jsonb) RETURNS jsonb LANGUAGE plpgsql STABLE PARALLEL SAFE COST 1 AS $$
BEGIN
    IF jsonb_typeof(refs) IS DISTINCT FROM 'array' THEN
        RETURN refs;
    END IF;
    RETURN (SELECT coalesce(jsonb_agg(r.ref ORDER BY r.n), '[]'::jsonb)
            FROM jsonb_array_elements(refs) WITH ORDINALITY r(ref, n)
            WHERE NOT coalesce((SELECT a.pub_status <> 'usable' FROM articles a WHERE a.id = r.ref ->> 'article'), false));
END
$$;

-- A deployment's assets, each with its references filtered as above.
CREATE FUNCTION nf_public_assets(assets jsonb) RETURNS jsonb LANGUAGE plpgsql STABLE PARALLEL SAFE COST 1 AS $$
BEGIN
    IF jsonb_typeof(assets) IS DISTINCT FROM 'array' THEN
        RETURN assets;
    END IF;
    RETURN (SELECT coalesce(jsonb_agg(CASE WHEN jsonb_typeof(x.asset -> 'references') = 'array'
                                           THEN x.asset || jsonb_build_object('references', nf_public_refs(x.asset -> 'references'))
                                           ELSE x.asset END ORDER BY x.n), '[]'::jsonb)
            FROM jsonb_array_elements(assets) WITH ORDINALITY x(asset, n));
END
$$;

-- A fact document (a <kind>_doc snapshot: a revision's, an event's) as read-scope and anonymous
-- callers may see it now: its references and its assets' references filtered as above. A document
-- that cites no hidden article (every article's and actor's, most facts') is returned untouched
-- after one probe per cited article.
CREATE FUNCTION nf_public_doc(doc jsonb) RETURNS jsonb LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
BEGIN
    IF NOT EXISTS (
            SELECT 1
            FROM (SELECT jsonb_path_query(doc, 'lax $.references[*].article') #>> '{}'
                  UNION ALL
                  SELECT jsonb_path_query(doc, 'lax $.assets[*].references[*].article') #>> '{}') cited(id)
            WHERE (SELECT a.pub_status FROM articles a WHERE a.id = cited.id) <> 'usable') THEN
        RETURN doc;
    END IF;
    RETURN doc
        || CASE WHEN doc ? 'references' THEN jsonb_build_object('references', nf_public_refs(doc -> 'references'))
                ELSE '{}'::jsonb END
        || CASE WHEN doc ? 'assets' THEN jsonb_build_object('assets', nf_public_assets(doc -> 'assets'))
                ELSE '{}'::jsonb END;
END
$$;

-- 0009 rebuilt the versions of deployments stored before it with article_ids from their top-level
-- references only; the write service derives them from the assets' references too (db/deployments.py).
-- The relations below trust article_ids, so those versions get the whole set.
UPDATE deployments_history h SET article_ids = h.article_ids || missing.ids
FROM (SELECT d.id, d.version, ARRAY(
          SELECT DISTINCT r ->> 'article'
          FROM jsonb_array_elements(CASE WHEN jsonb_typeof(d.assets) = 'array' THEN d.assets ELSE '[]' END) x,
               jsonb_array_elements(CASE WHEN jsonb_typeof(x -> 'references') = 'array' THEN x -> 'references' ELSE '[]' END) r
          WHERE NOT (r ->> 'article') = ANY(d.article_ids)) AS ids
      FROM deployments_history d) missing
WHERE missing.id = h.id AND missing.version = h.version AND cardinality(missing.ids) > 0;

-- The recall rules' relations of 0009, with the references (and deployments' asset references)
-- filtered. Column lists are derived from the tables, as 0009 does, so columns that later migrations
-- added are kept; a migration that adds a column to these tables must recreate them again.
DO $do$
DECLARE
    tbl text;
    now_cols text;
    at_cols text;
    fresh_now constant text := $$h.sourcing = 'supported' AND h.retracted_at IS NULL$$;
    fresh_at constant text := $$cur.sourcing = 'supported' AND cur.retracted_at IS NULL AND h.article_ids <@ cur.article_ids$$;
BEGIN
    FOREACH tbl IN ARRAY ARRAY['claims', 'deployments', 'incidents'] LOOP
        SELECT string_agg(CASE attname
                              WHEN 'refs' THEN format('CASE WHEN %s THEN h.refs ELSE nf_public_refs(h.refs) END', fresh_now)
                              WHEN 'assets' THEN format('CASE WHEN %s THEN h.assets ELSE nf_public_assets(h.assets) END', fresh_now)
                              ELSE 'h.' || quote_ident(attname) END, ', ' ORDER BY attnum),
               string_agg(CASE attname
                              WHEN 'refs' THEN format('CASE WHEN %s THEN h.refs ELSE nf_public_refs(h.refs) END', fresh_at)
                              WHEN 'assets' THEN format('CASE WHEN %s THEN h.assets ELSE nf_public_assets(h.assets) END', fresh_at)
                              ELSE 'h.' || quote_ident(attname) END, ', ' ORDER BY attnum)
        INTO now_cols, at_cols
        FROM pg_attribute WHERE attrelid = tbl::regclass AND attnum > 0 AND NOT attisdropped;
        EXECUTE format($f$CREATE OR REPLACE FUNCTION %1$I_public() RETURNS SETOF %1$I LANGUAGE sql STABLE AS $body$
            SELECT %2$s FROM %1$I h WHERE h.sourcing <> 'withdrawn'
            $body$$f$, tbl, now_cols);
        EXECUTE format($f$CREATE OR REPLACE FUNCTION %1$I_public_at(at timestamptz) RETURNS SETOF %1$I LANGUAGE sql STABLE AS $body$
            SELECT %2$s FROM %1$I_history h JOIN %1$I cur ON cur.id = h.id
            WHERE h.valid_from <= at AND at < h.valid_to
              AND h.sourcing <> 'withdrawn' AND cur.sourcing <> 'withdrawn'
            $body$$f$, tbl, at_cols);
    END LOOP;
END
$do$;

-- 0013's event rule, with the same filter on the snapshot of a fact that is not withdrawn — and
-- in PL/pgSQL: as a SQL function, every call planned nf_withdrawn again (0.23 ms an event, 0.8 ms a
-- claim's, against 0.03 ms and 0.07 ms now, bench_as_of's corpus); the rule is 0013's, unchanged.
CREATE OR REPLACE FUNCTION event_public_data(kind text, fact text, doc jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    now_status text;
BEGIN
    IF kind = 'article' THEN
        SELECT a.pub_status INTO now_status FROM articles a WHERE a.id = fact;
        IF doc ->> 'pubStatus' = 'usable' AND now_status = 'usable' THEN
            RETURN doc;
        END IF;
        RETURN doc || jsonb_build_object(
            'url', NULL, 'headline', NULL, 'summary', NULL, 'body', NULL, 'publishedAt', NULL,
            'authors', '[]'::jsonb, 'basedOn', '[]'::jsonb, 'subjects', '[]'::jsonb,
            'pubStatus', CASE WHEN now_status <> 'usable' THEN now_status ELSE doc ->> 'pubStatus' END);
    ELSIF kind IN ('claim', 'deployment', 'incident') THEN
        IF coalesce(doc ->> 'sourcing' = 'withdrawn', false) OR nf_withdrawn(fact) THEN
            RETURN NULL;
        END IF;
        RETURN nf_public_doc(doc);
    END IF;
    RETURN doc;
END
$$;
