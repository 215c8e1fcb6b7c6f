-- 0018: facet counts kept by triggers, so whole-table facets (no filter, no q, no asOf) are read
-- from a few thousand counters instead of a pass over every fact (issue 24: 300,000 claims took
-- ~400 ms on the bench box, hand-written GROUPING SETS as long). db/plan/aggregates.py reads them;
-- everything filtered or asOf keeps the GROUP BY over the lens's relation.
--
-- * One counter row per (kind, facet, value, detail), with two counts: `n` for the full lens
--   (write and admin keys) and `pub` for the recall rules (read scope and anonymous callers). Now
--   (no asOf) the recall rules decide by the fact row alone: a claim, deployment or incident is
--   absent when its stored sourcing is 'withdrawn' (<table>_public(), 0016; the write service keeps
--   sourcing in step with every withholding, cancelation and release of an article, so a recall
--   reaches the counts through the facts it updates); an article withheld or canceled is a stub
--   whose subjects are '{}' (articles_public(), 0009); actors have no recall rules.
-- * nf_facet_rows(row) says what one row adds, in the facets' own terms (db/analytics.py: a NULL
--   value is the facet's missingCount, an array facet counts a fact once per value, an incident's
--   actor facet once per (actor, role)). tests/db/test_facet_rollup.py checks every declared facet
--   against the GROUP BY path in every lens, so a facet added to a kind without a line here fails.
-- * No hot counter row: writers only append. A statement-level trigger (transition tables, so a
--   bulk load's batch costs one INSERT … SELECT … GROUP BY) appends the statement's net change per
--   counter to facet_count_deltas; readers add base and deltas. Every 256th writing statement, and
--   every statement that appended 1,000 rows or more (a load's batch: else a load of 300,000
--   claims, some 100 statements, would leave ~250,000 delta rows for readers to add up), folds the
--   deltas into facet_counts (nf_fold_facet_counts), if no other transaction is folding, the
--   writer runs at READ COMMITTED (an older snapshot could not see an earlier fold) and its
--   transaction has not folded yet: a fold updates every counter it touches, and in one long
--   transaction (an initial load, db/bulk.py, which folds once at its end instead) those versions
--   pile up until the commit, so each later fold walked all the earlier ones and a 1.1M-fact load
--   slowed quadratically (2-4 s per batch of claims).
CREATE TABLE facet_counts (
    kind    text NOT NULL,
    facet   text NOT NULL,
    value   text,
    detail  text,
    n       bigint NOT NULL,
    pub     bigint NOT NULL,
    CONSTRAINT facet_counts_key UNIQUE NULLS NOT DISTINCT (kind, facet, value, detail)
);

-- Unindexed on purpose: each write appends a handful of rows, and a reader scans the few hundred
-- left since the last fold.
CREATE TABLE facet_count_deltas (
    kind    text NOT NULL,
    facet   text NOT NULL,
    value   text,
    detail  text,
    n       bigint NOT NULL,
    pub     bigint NOT NULL
);

-- Writing statements since the last fold (non-transactional: only a pacing hint).
CREATE SEQUENCE facet_count_statements;

-- What one row adds to the counters: (facet, value, detail, n, pub). SQL, so it is inlined into
-- the triggers' set-based statements; one unnest of parallel arrays, because PostgreSQL (15, 16)
-- fails to plan a UNION ALL inlined from a function of a whole row ("variable not found in subplan
-- target list").
CREATE FUNCTION nf_facet_rows(c claims) RETURNS TABLE (facet text, value text, detail text, n int, pub int)
LANGUAGE sql IMMUTABLE AS $$
    SELECT f.facet, f.value, NULL::text, 1, CASE WHEN c.sourcing <> 'withdrawn' THEN 1 ELSE 0 END
    FROM unnest(ARRAY['status', 'quoteType', 'speaker', 'reportedBy', 'sourcing']
                    || array_fill('subjects'::text, ARRAY[greatest(cardinality(c.subject_ids), 1)]),
                ARRAY[c.status::text, c.quote_type::text, c.speaker_id::text, c.reported_by_id::text, c.sourcing::text]
                    || CASE WHEN cardinality(c.subject_ids) > 0 THEN c.subject_ids::text[] ELSE ARRAY[NULL]::text[] END
               ) f(facet, value)
$$;

CREATE FUNCTION nf_facet_rows(d deployments) RETURNS TABLE (facet text, value text, detail text, n int, pub int)
LANGUAGE sql IMMUTABLE AS $$
    SELECT f.facet, f.value, NULL::text, 1, CASE WHEN d.sourcing <> 'withdrawn' THEN 1 ELSE 0 END
    FROM unnest(ARRAY['status', 'deployer', 'sourcing']
                    || array_fill('assetType'::text, ARRAY[greatest(cardinality(d.asset_types), 1)]),
                ARRAY[d.status::text, d.deployer_id::text, d.sourcing::text]
                    || CASE WHEN cardinality(d.asset_types) > 0 THEN d.asset_types::text[] ELSE ARRAY[NULL]::text[] END
               ) f(facet, value)
$$;

-- An incident counts once per (actor, role) entry, as the facet's jsonb_array_elements does, and
-- once as missing without any.
CREATE FUNCTION nf_facet_rows(i incidents) RETURNS TABLE (facet text, value text, detail text, n int, pub int)
LANGUAGE sql IMMUTABLE AS $$
    SELECT f.facet, f.value, f.detail, 1, CASE WHEN i.sourcing <> 'withdrawn' THEN 1 ELSE 0 END
    FROM (SELECT CASE WHEN jsonb_typeof(i.actors) = 'array' AND jsonb_array_length(i.actors) > 0
                      THEN i.actors ELSE '[{}]'::jsonb END AS entries) e
    CROSS JOIN LATERAL unnest(
        ARRAY['incidentType', 'sourcing'] || array_fill('actor'::text, ARRAY[jsonb_array_length(e.entries)]),
        ARRAY[i.incident_type::text, i.sourcing::text] || ARRAY(SELECT x ->> 'actor' FROM jsonb_array_elements(e.entries) WITH ORDINALITY y(x, k) ORDER BY k),
        ARRAY[NULL, NULL]::text[] || ARRAY(SELECT x ->> 'role' FROM jsonb_array_elements(e.entries) WITH ORDINALITY y(x, k) ORDER BY k)
    ) f(facet, value, detail)
$$;

-- An article's stub (withheld or canceled) keeps its outlet and language but has no subjects:
-- its subjects count in the full lens (n) and as missing in the public one (pub).
CREATE FUNCTION nf_facet_rows(a articles) RETURNS TABLE (facet text, value text, detail text, n int, pub int)
LANGUAGE sql IMMUTABLE AS $$
    SELECT f.facet, f.value, NULL::text, f.n, f.pub
    FROM (SELECT CASE WHEN cardinality(a.subjects) > 0 THEN a.subjects::text[] ELSE ARRAY[NULL]::text[] END AS full_,
                 CASE WHEN a.pub_status = 'usable' AND cardinality(a.subjects) > 0 THEN a.subjects::text[]
                      ELSE ARRAY[NULL]::text[] END AS public_) s
    CROSS JOIN LATERAL unnest(
        ARRAY['outlet', 'language'] || array_fill('subjects'::text, ARRAY[cardinality(s.full_) + cardinality(s.public_)]),
        ARRAY[a.outlet_id::text, a.language::text] || s.full_ || s.public_,
        ARRAY[1, 1] || array_fill(1, ARRAY[cardinality(s.full_)]) || array_fill(0, ARRAY[cardinality(s.public_)]),
        ARRAY[1, 1] || array_fill(0, ARRAY[cardinality(s.full_)]) || array_fill(1, ARRAY[cardinality(s.public_)])
    ) f(facet, value, n, pub)
$$;

CREATE FUNCTION nf_facet_rows(r actors) RETURNS TABLE (facet text, value text, detail text, n int, pub int)
LANGUAGE sql IMMUTABLE AS $$
    SELECT f.facet, f.value, NULL::text, 1, 1
    FROM unnest(ARRAY['kind', 'country'], ARRAY[r.kind::text, r.country::text]) f(facet, value)
$$;

-- Folds every committed delta into facet_counts; returns how many delta rows it folded (0 when
-- another transaction is folding). Only one folder at a time (a transaction-level advisory lock),
-- so a delta row is deleted by one folder and counted once; writers appending meanwhile are not
-- blocked, and their rows, not yet visible, wait for the next fold.
CREATE FUNCTION nf_fold_facet_counts() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    folded bigint;
BEGIN
    -- "nffold" in ASCII.
    IF NOT pg_try_advisory_xact_lock(x'6E66666F6C64'::bigint) THEN
        RETURN 0;
    END IF;
    WITH d AS (DELETE FROM facet_count_deltas RETURNING *),
         s AS (SELECT kind, facet, value, detail, sum(n) AS n, sum(pub) AS pub, count(*) AS rows
               FROM d GROUP BY 1, 2, 3, 4),
         up AS (INSERT INTO facet_counts AS fc (kind, facet, value, detail, n, pub)
                SELECT kind, facet, value, detail, n, pub FROM s WHERE n <> 0 OR pub <> 0
                ON CONFLICT (kind, facet, value, detail)
                DO UPDATE SET n = fc.n + excluded.n, pub = fc.pub + excluded.pub)
    SELECT coalesce(sum(s.rows), 0) INTO folded FROM s;
    -- Counters that reached zero go (a value no fact has any more): a scan of a small table.
    DELETE FROM facet_counts WHERE n = 0 AND pub = 0;
    -- The triggers fold once per transaction (see the top of this file).
    PERFORM set_config('nf.facets_folded', 'on', true);
    RETURN folded;
END
$$;

-- The statement-level triggers' body: the statement's net change per counter, appended.
DO $do$
DECLARE
    tbl text;
    kind text;
BEGIN
    FOR tbl, kind IN VALUES ('actors', 'actor'), ('articles', 'article'), ('claims', 'claim'),
                            ('deployments', 'deployment'), ('incidents', 'incident') LOOP
        EXECUTE format($f$
            CREATE FUNCTION %1$I_facet_deltas() RETURNS trigger LANGUAGE plpgsql AS $body$
            DECLARE
                appended bigint;
            BEGIN
                IF TG_OP = 'INSERT' THEN
                    INSERT INTO facet_count_deltas (kind, facet, value, detail, n, pub)
                    SELECT %2$L, f.facet, f.value, f.detail, sum(f.n), sum(f.pub)
                    FROM new_rows r CROSS JOIN LATERAL nf_facet_rows(r::%1$I) f
                    GROUP BY 2, 3, 4;
                ELSIF TG_OP = 'DELETE' THEN
                    INSERT INTO facet_count_deltas (kind, facet, value, detail, n, pub)
                    SELECT %2$L, f.facet, f.value, f.detail, -sum(f.n), -sum(f.pub)
                    FROM old_rows r CROSS JOIN LATERAL nf_facet_rows(r::%1$I) f
                    GROUP BY 2, 3, 4;
                ELSE
                    -- An update that changes no faceted column nets to nothing and appends nothing.
                    INSERT INTO facet_count_deltas (kind, facet, value, detail, n, pub)
                    SELECT %2$L, x.facet, x.value, x.detail, sum(x.n), sum(x.pub)
                    FROM (SELECT f.* FROM new_rows r CROSS JOIN LATERAL nf_facet_rows(r::%1$I) f
                          UNION ALL
                          SELECT f.facet, f.value, f.detail, -f.n, -f.pub
                          FROM old_rows r CROSS JOIN LATERAL nf_facet_rows(r::%1$I) f) x
                    GROUP BY 2, 3, 4
                    HAVING sum(x.n) <> 0 OR sum(x.pub) <> 0;
                END IF;
                GET DIAGNOSTICS appended = ROW_COUNT;
                IF (appended >= 1000 OR nextval('facet_count_statements') %% 256 = 0)
                   AND current_setting('transaction_isolation') = 'read committed'
                   AND current_setting('nf.facets_folded', true) IS DISTINCT FROM 'on' THEN
                    PERFORM nf_fold_facet_counts();
                END IF;
                RETURN NULL;
            END
            $body$$f$, tbl, kind);
        EXECUTE format('CREATE TRIGGER %1$I_facets_insert AFTER INSERT ON %1$I REFERENCING NEW TABLE AS new_rows'
                       ' FOR EACH STATEMENT EXECUTE FUNCTION %1$I_facet_deltas()', tbl);
        EXECUTE format('CREATE TRIGGER %1$I_facets_update AFTER UPDATE ON %1$I'
                       ' REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows'
                       ' FOR EACH STATEMENT EXECUTE FUNCTION %1$I_facet_deltas()', tbl);
        EXECUTE format('CREATE TRIGGER %1$I_facets_delete AFTER DELETE ON %1$I REFERENCING OLD TABLE AS old_rows'
                       ' FOR EACH STATEMENT EXECUTE FUNCTION %1$I_facet_deltas()', tbl);
        -- A truncated table counts nothing (tests and tools empty tables this way).
        EXECUTE format($f$
            CREATE FUNCTION %1$I_facets_truncated() RETURNS trigger LANGUAGE plpgsql AS $body$
            BEGIN
                DELETE FROM facet_count_deltas WHERE kind = %2$L;
                DELETE FROM facet_counts WHERE kind = %2$L;
                RETURN NULL;
            END
            $body$$f$, tbl, kind);
        EXECUTE format('CREATE TRIGGER %1$I_facets_truncate AFTER TRUNCATE ON %1$I'
                       ' FOR EACH STATEMENT EXECUTE FUNCTION %1$I_facets_truncated()', tbl);
        -- The counts of the facts already stored.
        EXECUTE format($f$
            INSERT INTO facet_counts (kind, facet, value, detail, n, pub)
            SELECT %2$L, f.facet, f.value, f.detail, sum(f.n), sum(f.pub)
            FROM %1$I r CROSS JOIN LATERAL nf_facet_rows(r::%1$I) f
            GROUP BY 2, 3, 4 HAVING sum(f.n) <> 0 OR sum(f.pub) <> 0
            $f$, tbl, kind);
    END LOOP;
END
$do$;
