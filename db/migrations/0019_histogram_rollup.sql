-- 0019: per-day counts of the calendar dates histograms bucket by, kept by 0018's triggers, so a
-- whole-table histogram of claimDate, occurredFrom or startedOn (no filter, q or asOf) adds a few
-- hundred counters instead of passing over every fact (issue 24: 300,000 claims took ~330-460 ms
-- p50 on the bench box). db/plan/aggregates.py `histogram` reads them; timestamps (createdAt,
-- publishedAt) fall in a zone's day by their instant and keep counting the facts.
--
-- * A date is one more counter of nf_facet_rows, the facet 'date:<field>' (no declared facet has
--   a colon): its value the day, as days since 2000-01-01 (text; immutable, unlike a date's text,
--   which follows DateStyle; 'infinity' and '-infinity' as they are), NULL for a fact without a
--   date (the histogram's missingCount); its detail the date's precision ('day', 'month', 'year',
--   NULL: the histogram's imprecise). A day's bucket depends on the day alone, in any interval and
--   time zone, so the buckets summed from these counters are the ones counted from the facts.
-- * The same n/pub lenses, deltas, folds and truncation as every facet (0018): nothing else changes.
--   tests/db/test_facet_rollup.py compares every date field's histogram, in every interval, time
--   zone and lens, against the counting path after each kind of write.

CREATE FUNCTION nf_day_key(d date) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN isfinite(d) THEN (d - DATE '2000-01-01')::text
                WHEN d > DATE '2000-01-01' THEN 'infinity' WHEN d < DATE '2000-01-01' THEN '-infinity' END
$$;

-- The day a counter's value names (the inverse of nf_day_key; NULL stays NULL).
CREATE FUNCTION nf_day_of(key text) RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE key WHEN 'infinity' THEN 'infinity'::date WHEN '-infinity' THEN '-infinity'::date
                    ELSE DATE '2000-01-01' + key::int END
$$;

CREATE OR REPLACE FUNCTION nf_facet_rows(c claims) RETURNS TABLE (facet text, value text, detail text, n int, pub int)
LANGUAGE sql IMMUTABLE AS $$
    SELECT f.facet, f.value, f.detail, 1, CASE WHEN c.sourcing <> 'withdrawn' THEN 1 ELSE 0 END
    FROM unnest(ARRAY['status', 'quoteType', 'speaker', 'reportedBy', 'sourcing', 'date:claimDate']
                    || array_fill('subjects'::text, ARRAY[greatest(cardinality(c.subject_ids), 1)]),
                ARRAY[c.status::text, c.quote_type::text, c.speaker_id::text, c.reported_by_id::text, c.sourcing::text,
                      nf_day_key(c.claim_date)]
                    || CASE WHEN cardinality(c.subject_ids) > 0 THEN c.subject_ids::text[] ELSE ARRAY[NULL]::text[] END,
                ARRAY[NULL, NULL, NULL, NULL, NULL, c.claim_date_precision]::text[]
               ) f(facet, value, detail)
$$;

CREATE OR REPLACE FUNCTION nf_facet_rows(d deployments) RETURNS TABLE (facet text, value text, detail text, n int, pub int)
LANGUAGE sql IMMUTABLE AS $$
    SELECT f.facet, f.value, NULL::text, 1, CASE WHEN d.sourcing <> 'withdrawn' THEN 1 ELSE 0 END
    FROM unnest(ARRAY['status', 'deployer', 'sourcing', 'date:startedOn']
                    || array_fill('assetType'::text, ARRAY[greatest(cardinality(d.asset_types), 1)]),
                ARRAY[d.status::text, d.deployer_id::text, d.sourcing::text, nf_day_key(d.started_on)]
                    || CASE WHEN cardinality(d.asset_types) > 0 THEN d.asset_types::text[] ELSE ARRAY[NULL]::text[] END
               ) f(facet, value)
$$;

CREATE OR REPLACE FUNCTION nf_facet_rows(i incidents) RETURNS TABLE (facet text, value text, detail text, n int, pub int)
LANGUAGE sql IMMUTABLE AS $$
    SELECT f.facet, f.value, f.detail, 1, CASE WHEN i.sourcing <> 'withdrawn' THEN 1 ELSE 0 END
    FROM (SELECT CASE WHEN jsonb_typeof(i.actors) = 'array' AND jsonb_array_length(i.actors) > 0
                      THEN i.actors ELSE '[{}]'::jsonb END AS entries) e
    CROSS JOIN LATERAL unnest(
        ARRAY['incidentType', 'sourcing', 'date:occurredFrom'] || array_fill('actor'::text, ARRAY[jsonb_array_length(e.entries)]),
        ARRAY[i.incident_type::text, i.sourcing::text, nf_day_key(i.occurred_from)]
            || ARRAY(SELECT x ->> 'actor' FROM jsonb_array_elements(e.entries) WITH ORDINALITY y(x, k) ORDER BY k),
        ARRAY[NULL, NULL, i.occurred_precision]::text[]
            || ARRAY(SELECT x ->> 'role' FROM jsonb_array_elements(e.entries) WITH ORDINALITY y(x, k) ORDER BY k)
    ) f(facet, value, detail)
$$;

-- The counts of the facts already stored (their other counters are 0018's, unchanged).
INSERT INTO facet_counts (kind, facet, value, detail, n, pub)
SELECT 'claim', 'date:claimDate', nf_day_key(claim_date), claim_date_precision, count(*),
       count(*) FILTER (WHERE sourcing <> 'withdrawn')
FROM claims GROUP BY 3, 4;
INSERT INTO facet_counts (kind, facet, value, detail, n, pub)
SELECT 'deployment', 'date:startedOn', nf_day_key(started_on), NULL, count(*), count(*) FILTER (WHERE sourcing <> 'withdrawn')
FROM deployments GROUP BY 3;
INSERT INTO facet_counts (kind, facet, value, detail, n, pub)
SELECT 'incident', 'date:occurredFrom', nf_day_key(occurred_from), occurred_precision, count(*),
       count(*) FILTER (WHERE sourcing <> 'withdrawn')
FROM incidents GROUP BY 3, 4;
