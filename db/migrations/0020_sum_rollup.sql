-- 0020: bounded sums kept by triggers, so a whole-table sum (no filter, q, parent or asOf) adds a
-- few hundred counters instead of parsing every fact's quantities (issue 24: the bench's
-- `sum=fatalities&groupBy=incidentType` over 20,000 incidents took 80-100 ms in PostgreSQL, and the
-- server's CPU per request grew with that wait). db/plan/aggregates.py `sums` reads them; anything
-- filtered or asOf keeps the GROUP BY over the lens's relation.
--
-- * Every part of a sum is additive, so it can be kept as counters: per (sum, unit) and group, the
--   count of quantities, the sums of low, best and closed highs, how many highs are open, how many
--   quantities are unknown and how many approximate. A reader's `high` is the closed sum when no
--   high is open, its `approximate` whether any counted quantity is. A fact's own rows (`facts`)
--   count the facts: in total, per group value and, for a grouping by an item's key (an asset's
--   type), once per distinct key among its items, as the GROUP BY path counts distinct facts.
-- * nf_bounds(quantity) is the interval arithmetic of docs/analytics/sums.md, its one definition:
--   the GROUP BY path (db/plan/aggregates.py) calls it too. nf_sum_rows(row) says what one fact
--   adds, in both lenses (`pub`:
--   the recall rules, under which a withdrawn fact is absent and every other fact's quantities are
--   as stored). tests/db/test_facet_rollup.py compares every sum and grouping of every kind, in both
--   lenses, with the GROUP BY path after every kind of write, byte for byte.
-- * Deltas, folds and their pacing are 0018's: a statement appends its net change per counter to
--   sum_count_deltas, and nf_fold_facet_counts() now folds these too, under the same lock and once
--   per transaction.
CREATE TABLE sum_counts (
    kind    text NOT NULL,
    pub     boolean NOT NULL,
    facts   boolean NOT NULL,
    sum     text NOT NULL,   -- the sum's field; '' for the facts' own counts by a group's column
    by      text NOT NULL,   -- the grouping; '' for the total
    grp     text,            -- the group's key
    unit    text,
    c       bigint NOT NULL,
    lo      numeric NOT NULL,
    best    numeric NOT NULL,
    hi      numeric NOT NULL,  -- the closed highs' sum
    open    bigint NOT NULL,
    unknown bigint NOT NULL,
    approx  bigint NOT NULL,
    CONSTRAINT sum_counts_key UNIQUE NULLS NOT DISTINCT (kind, pub, facts, sum, by, grp, unit)
);

-- Unindexed, as facet_count_deltas: writers append, readers scan what is left since the last fold.
CREATE TABLE sum_count_deltas (LIKE sum_counts);

-- A quantity's (unit, low, best, high, unknown, approximate); a NULL high is open. Unspecified, an
-- unknown approximation or no quantity at all is (0, 0, open) and unknown.
CREATE FUNCTION nf_bounds(q jsonb) RETURNS TABLE (unit text, lo numeric, best numeric, hi numeric, unknown int, approx int)
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT v.unit,
           CASE v.a WHEN 'exact' THEN v.amount WHEN 'approximately' THEN coalesce(v.lower, v.amount)
                    WHEN 'atLeast' THEN v.lower WHEN 'atMost' THEN coalesce(v.lower, 0)
                    WHEN 'range' THEN v.lower ELSE 0 END,
           CASE v.a WHEN 'exact' THEN v.amount WHEN 'approximately' THEN v.amount WHEN 'atLeast' THEN v.lower
                    WHEN 'atMost' THEN v.upper WHEN 'range' THEN coalesce(v.amount, v.lower) ELSE 0 END,
           CASE v.a WHEN 'exact' THEN v.amount WHEN 'approximately' THEN coalesce(v.upper, v.amount)
                    WHEN 'atMost' THEN v.upper WHEN 'range' THEN v.upper END,
           (v.a IS NULL OR v.a NOT IN ('exact', 'approximately', 'atLeast', 'atMost', 'range'))::int,
           (v.a IS NOT DISTINCT FROM 'approximately')::int
    FROM (SELECT q ->> 'approximation' AS a, (q ->> 'amount')::numeric AS amount, (q ->> 'lowerBound')::numeric AS lower,
                 (q ->> 'upperBound')::numeric AS upper, q ->> 'unit' AS unit) v
$$;

-- An incident: its own row in total and in its type's group, and each of its three quantities in
-- both. A NULL bound adds 0 (the GROUP BY path's sum skips it), an open high counts in `open`.
-- Each quantity's bounds are worked out once (OFFSET 0 keeps the subquery from being pulled up,
-- which evaluated them again for every lens and group: 74 against 27 µs an incident of a load).
CREATE FUNCTION nf_sum_rows(i incidents)
RETURNS TABLE (pub boolean, facts boolean, sum text, by text, grp text, unit text, c int, lo numeric, best numeric,
               hi numeric, open int, unknown int, approx int)
LANGUAGE sql IMMUTABLE AS $$
    SELECT l.pub, s.facts, s.sum, g.by, g.grp, s.unit, 1, s.lo, s.best, s.hi, s.open, s.unknown, s.approx
    FROM (SELECT q.facts, q.sum, b.unit, coalesce(b.lo, 0) AS lo, coalesce(b.best, 0) AS best,
                 coalesce(b.hi, 0) AS hi, (NOT q.facts AND b.hi IS NULL)::int AS open,
                 CASE WHEN q.facts THEN 0 ELSE b.unknown END AS unknown, b.approx
          FROM (VALUES (true, '', NULL::jsonb), (false, 'count', i.count), (false, 'fatalities', i.fatalities),
                       (false, 'injuries', i.injuries)) q(facts, sum, q)
          CROSS JOIN LATERAL nf_bounds(nullif(q.q, 'null'::jsonb)) b OFFSET 0) s
    CROSS JOIN (VALUES ('', NULL::text), ('incidentType', i.incident_type::text)) g(by, grp)
    CROSS JOIN (VALUES (false), (true)) l(pub)
    WHERE NOT l.pub OR i.sourcing <> 'withdrawn'
$$;

-- A deployment: its own row in total and in its status's group; once per distinct asset type
-- among its assets (the assetType groups' counts); and each asset's quantity in total, in its
-- status's group and in its type's. One pass over the assets behind a leading null (k = 1, the
-- fact's own rows), each asset's bounds worked out once, and no UNION ALL: PostgreSQL (15, 16)
-- fails to plan one inlined from a function of a whole row ("variable not found in subplan target
-- list").
CREATE FUNCTION nf_sum_rows(d deployments)
RETURNS TABLE (pub boolean, facts boolean, sum text, by text, grp text, unit text, c int, lo numeric, best numeric,
               hi numeric, open int, unknown int, approx int)
LANGUAGE sql IMMUTABLE AS $$
    SELECT l.pub, x.facts, x.sum, x.by, x.grp, CASE WHEN NOT x.facts THEN a.unit END, 1,
           CASE WHEN x.facts THEN 0 ELSE a.lo END, CASE WHEN x.facts THEN 0 ELSE a.best END,
           CASE WHEN x.facts THEN 0 ELSE a.hi END, CASE WHEN x.facts THEN 0 ELSE a.open END,
           CASE WHEN x.facts THEN 0 ELSE a.unknown END, CASE WHEN x.facts THEN 0 ELSE a.approx END
    FROM (SELECT e.k, e.asset ->> 'assetType' AS type, b.unit, coalesce(b.lo, 0) AS lo, coalesce(b.best, 0) AS best,
                 coalesce(b.hi, 0) AS hi, (b.hi IS NULL)::int AS open, b.unknown, b.approx,
                 e.k > 1 AND NOT EXISTS (
                     SELECT FROM jsonb_array_elements(d.assets) WITH ORDINALITY p(asset, j)
                     WHERE p.j < e.k - 1 AND p.asset ->> 'assetType' IS NOT DISTINCT FROM e.asset ->> 'assetType'
                 ) AS first_of_type
          FROM jsonb_array_elements(
              '[null]'::jsonb || CASE WHEN jsonb_typeof(d.assets) = 'array' THEN d.assets ELSE '[]' END
          ) WITH ORDINALITY e(asset, k)
          CROSS JOIN LATERAL nf_bounds(CASE WHEN e.k > 1 THEN nullif(e.asset -> 'quantity', 'null'::jsonb) END) b
          OFFSET 0) a
    CROSS JOIN LATERAL (VALUES
        (a.k = 1, true, '', '', NULL::text),
        (a.k = 1, true, '', 'status', d.status::text),
        (a.first_of_type, true, 'assets', 'assetType', a.type),
        (a.k > 1, false, 'assets', '', NULL::text),
        (a.k > 1, false, 'assets', 'status', d.status::text),
        (a.k > 1, false, 'assets', 'assetType', a.type)
    ) x(keep, facts, sum, by, grp)
    CROSS JOIN (VALUES (false), (true)) l(pub)
    WHERE x.keep AND (NOT l.pub OR d.sourcing <> 'withdrawn')
$$;

-- 0018's fold, folding the sums' deltas too (one lock, one mark per transaction).
CREATE OR REPLACE FUNCTION nf_fold_facet_counts() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    folded bigint;
    summed bigint;
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
    DELETE FROM facet_counts WHERE n = 0 AND pub = 0;
    WITH d AS (DELETE FROM sum_count_deltas RETURNING *),
         s AS (SELECT kind, pub, facts, sum, by, grp, unit, sum(c) AS c, sum(lo) AS lo, sum(best) AS best,
                      sum(hi) AS hi, sum(open) AS open, sum(unknown) AS unknown, sum(approx) AS approx,
                      count(*) AS rows
               FROM d GROUP BY 1, 2, 3, 4, 5, 6, 7),
         up AS (INSERT INTO sum_counts AS sc (kind, pub, facts, sum, by, grp, unit, c, lo, best, hi, open, unknown, approx)
                SELECT kind, pub, facts, sum, by, grp, unit, c, lo, best, hi, open, unknown, approx FROM s WHERE c <> 0
                ON CONFLICT (kind, pub, facts, sum, by, grp, unit)
                DO UPDATE SET c = sc.c + excluded.c, lo = sc.lo + excluded.lo, best = sc.best + excluded.best,
                              hi = sc.hi + excluded.hi, open = sc.open + excluded.open,
                              unknown = sc.unknown + excluded.unknown, approx = sc.approx + excluded.approx)
    SELECT coalesce(sum(s.rows), 0) INTO summed FROM s;
    -- A counter whose facts are all gone counts nothing (every part of it nets to zero with them).
    DELETE FROM sum_counts WHERE c = 0;
    PERFORM set_config('nf.facets_folded', 'on', true);
    RETURN folded + summed;
END
$$;

-- The statement-level triggers: the statement's net change per counter, appended; a statement
-- that appended 1,000 rows or more folds as 0018's do (its 256-statement pacing is theirs).
DO $do$
DECLARE
    tbl text;
    kind text;
    -- The statement's rows (x), old rows negated, netted per counter.
    appended constant text := $$INSERT INTO sum_count_deltas (kind, pub, facts, sum, by, grp, unit, c, lo, best, hi,
                                                              open, unknown, approx)
        SELECT TG_ARGV[0], x.pub, x.facts, x.sum, x.by, x.grp, x.unit, sum(x.c), sum(x.lo), sum(x.best), sum(x.hi),
               sum(x.open), sum(x.unknown), sum(x.approx)
        FROM$$;
    removed constant text := $$SELECT f.pub, f.facts, f.sum, f.by, f.grp, f.unit, -f.c AS c, -f.lo AS lo, -f.best AS best,
               -f.hi AS hi, -f.open AS open, -f.unknown AS unknown, -f.approx AS approx FROM old_rows r$$;
    -- An update that changes nothing summed nets to nothing and appends nothing.
    net constant text := $$GROUP BY x.pub, x.facts, x.sum, x.by, x.grp, x.unit
        HAVING sum(x.c) <> 0 OR sum(x.lo) <> 0 OR sum(x.best) <> 0 OR sum(x.hi) <> 0
            OR sum(x.open) <> 0 OR sum(x.unknown) <> 0 OR sum(x.approx) <> 0$$;
BEGIN
    FOR tbl, kind IN VALUES ('deployments', 'deployment'), ('incidents', 'incident') LOOP
        EXECUTE format($f$
            CREATE FUNCTION %1$I_sum_deltas() RETURNS trigger LANGUAGE plpgsql AS $body$
            DECLARE
                appended bigint;
            BEGIN
                -- A transition table exists only for the operations it was declared for.
                IF TG_OP = 'INSERT' THEN
                    %3$s (SELECT f.* FROM new_rows r CROSS JOIN LATERAL nf_sum_rows(r::%1$I) f) x
                    GROUP BY x.pub, x.facts, x.sum, x.by, x.grp, x.unit;
                ELSIF TG_OP = 'DELETE' THEN
                    %3$s (%5$s CROSS JOIN LATERAL nf_sum_rows(r::%1$I) f) x
                    GROUP BY x.pub, x.facts, x.sum, x.by, x.grp, x.unit;
                ELSE
                    %3$s (SELECT f.* FROM new_rows r CROSS JOIN LATERAL nf_sum_rows(r::%1$I) f
                          UNION ALL
                          %5$s CROSS JOIN LATERAL nf_sum_rows(r::%1$I) f) x %4$s;
                END IF;
                GET DIAGNOSTICS appended = ROW_COUNT;
                IF appended >= 1000
                   AND current_setting('transaction_isolation') = 'read committed'
                   AND current_setting('nf.facets_folded', true) IS DISTINCT FROM 'on' THEN
                    PERFORM nf_fold_facet_counts();
                END IF;
                RETURN NULL;
            END
            $body$$f$, tbl, kind, appended, net, removed);
        EXECUTE format('CREATE TRIGGER %1$I_sums_insert AFTER INSERT ON %1$I REFERENCING NEW TABLE AS new_rows'
                       ' FOR EACH STATEMENT EXECUTE FUNCTION %1$I_sum_deltas(%2$L)', tbl, kind);
        EXECUTE format('CREATE TRIGGER %1$I_sums_update AFTER UPDATE ON %1$I'
                       ' REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows'
                       ' FOR EACH STATEMENT EXECUTE FUNCTION %1$I_sum_deltas(%2$L)', tbl, kind);
        EXECUTE format('CREATE TRIGGER %1$I_sums_delete AFTER DELETE ON %1$I REFERENCING OLD TABLE AS old_rows'
                       ' FOR EACH STATEMENT EXECUTE FUNCTION %1$I_sum_deltas(%2$L)', tbl, kind);
        EXECUTE format($f$
            CREATE FUNCTION %1$I_sums_truncated() RETURNS trigger LANGUAGE plpgsql AS $body$
            BEGIN
                DELETE FROM sum_count_deltas WHERE kind = %2$L;
                DELETE FROM sum_counts WHERE kind = %2$L;
                RETURN NULL;
            END
            $body$$f$, tbl, kind);
        EXECUTE format('CREATE TRIGGER %1$I_sums_truncate AFTER TRUNCATE ON %1$I'
                       ' FOR EACH STATEMENT EXECUTE FUNCTION %1$I_sums_truncated()', tbl);
        -- The sums of the facts already stored.
        EXECUTE format($f$
            INSERT INTO sum_counts (kind, pub, facts, sum, by, grp, unit, c, lo, best, hi, open, unknown, approx)
            SELECT %2$L, f.pub, f.facts, f.sum, f.by, f.grp, f.unit, sum(f.c), sum(f.lo), sum(f.best), sum(f.hi),
                   sum(f.open), sum(f.unknown), sum(f.approx)
            FROM %1$I r CROSS JOIN LATERAL nf_sum_rows(r::%1$I) f
            GROUP BY 2, 3, 4, 5, 6, 7
            $f$, tbl, kind);
    END LOOP;
END
$do$;
