"""The floor of the analytics benchmark: a bare Starlette route per measurement whose one
hand-written statement (a GROUP BY, or the bbox probe) builds its JSON in PostgreSQL, returned as
the bytes PostgreSQL sent. Each reads what the newsfacts request reads for an anonymous caller
(facts not withdrawn). Not part of the product; ``DATABASE_URL`` names the database."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

# The same pool as the GraphQL floor's: json handed through as PostgreSQL's bytes.
from bench.floor_app import lifespan

# The fair floors: one hand-written statement each that answers what our request answers — the same
# numbers, checked equal by bench_analytics.check_same before anything is timed.

# Facets of three fields in one pass (GROUPING SETS): per facet its ten largest buckets (ties by
# value; speakers named), how many facts the cut left out (otherCount) and how many have no value.
FACETS = """
WITH g AS (
  SELECT GROUPING(status, quote_type, speaker_id) AS gs, coalesce(status, quote_type, speaker_id) AS v, count(*) AS n
  FROM claims WHERE sourcing <> 'withdrawn'
  GROUP BY GROUPING SETS ((status), (quote_type), (speaker_id))),
-- Materialized: each facet's subquery reads r, which PostgreSQL would otherwise inline and
-- recompute (the whole pass over the claims) once per facet.
r AS MATERIALIZED (SELECT g.*, row_number() OVER (PARTITION BY gs, v IS NULL ORDER BY n DESC, v) AS rn FROM g)
SELECT json_object_agg(f.name, (
  SELECT json_build_object(
    'buckets', coalesce(json_agg(CASE WHEN r.gs = 6 THEN json_build_object('value', r.v, 'label', a.name, 'count', r.n)
                                      ELSE json_build_object('value', r.v, 'count', r.n) END ORDER BY r.n DESC, r.v)
                        FILTER (WHERE r.v IS NOT NULL AND r.rn <= 10), '[]'::json),
    'otherCount', coalesce(sum(r.n) FILTER (WHERE r.v IS NOT NULL AND r.rn > 10), 0),
    'missingCount', coalesce(sum(r.n) FILTER (WHERE r.v IS NULL), 0))
  FROM r LEFT JOIN actors a ON r.gs = 6 AND r.rn <= 10 AND a.id = r.v WHERE r.gs = f.gs))
FROM (VALUES ('status', 3), ('quoteType', 5), ('speaker', 6)) f(name, gs)"""

# Claims by month of their date in a time zone ($1): consecutive buckets from the first to the last
# that holds a claim, zero-filled, each with its start and end as ISO 8601 in the zone (the zone's
# UTC offset at that instant); claims dated only to the year go in no bucket and are counted as
# imprecise, claims without a date as missing. A calendar date is the zone's wall-clock day as it
# is: only the rendering of the bucket ends depends on the zone.
HISTOGRAM = """
WITH k AS (
  SELECT CASE WHEN claim_date IS NOT NULL AND coalesce(claim_date_precision, 'day') IN ('day', 'month')
              THEN date_trunc('month', claim_date::timestamp) END AS m,
         claim_date IS NULL AS missing, count(*) AS n
  FROM claims WHERE sourcing <> 'withdrawn' GROUP BY 1, 2),
s AS (SELECT m, m + interval '1 month' AS e FROM generate_series((SELECT min(m) FROM k), (SELECT max(m) FROM k), interval '1 month') m),
z AS (SELECT s.m, s.e, s.m - ((s.m AT TIME ZONE $1) AT TIME ZONE 'UTC') AS mo, s.e - ((s.e AT TIME ZONE $1) AT TIME ZONE 'UTC') AS eo FROM s)
SELECT json_build_object(
  'buckets', coalesce((
    SELECT json_agg(json_build_object(
      'start', to_char(z.m, 'YYYY-MM-DD"T"HH24:MI:SS') || CASE WHEN z.mo = interval '0' THEN 'Z'
        ELSE CASE WHEN z.mo < interval '0' THEN '-' ELSE '+' END || to_char(abs(extract(epoch FROM z.mo)) * interval '1 second', 'HH24:MI') END,
      'end', to_char(z.e, 'YYYY-MM-DD"T"HH24:MI:SS') || CASE WHEN z.eo = interval '0' THEN 'Z'
        ELSE CASE WHEN z.eo < interval '0' THEN '-' ELSE '+' END || to_char(abs(extract(epoch FROM z.eo)) * interval '1 second', 'HH24:MI') END,
      'count', coalesce(k.n, 0)) ORDER BY z.m)
    FROM z LEFT JOIN k ON k.m = z.m), '[]'::json),
  'imprecise', (SELECT coalesce(sum(n), 0) FROM k WHERE m IS NULL AND NOT missing),
  'missingCount', (SELECT coalesce(sum(n), 0) FROM k WHERE missing))"""

# Fatalities by incident type and unit and in total, with the low/best/high arithmetic written out
# per incident (docs/analytics/sums.md): per unit the count, low, best, high (null when one is
# open), openUpper, unknown and whether one was approximate; the total and each type's count; the
# types by count (at most 100, as ours).
SUMS = """
WITH x AS (
  SELECT incident_type AS t, q ->> 'unit' AS u, q ->> 'approximation' AS ap,
    CASE q ->> 'approximation'
      WHEN 'exact' THEN (q ->> 'amount')::numeric WHEN 'approximately' THEN coalesce((q ->> 'lowerBound')::numeric, (q ->> 'amount')::numeric)
      WHEN 'atLeast' THEN (q ->> 'lowerBound')::numeric WHEN 'atMost' THEN coalesce((q ->> 'lowerBound')::numeric, 0)
      WHEN 'range' THEN (q ->> 'lowerBound')::numeric ELSE 0 END AS lo,
    CASE q ->> 'approximation'
      WHEN 'exact' THEN (q ->> 'amount')::numeric WHEN 'approximately' THEN (q ->> 'amount')::numeric
      WHEN 'atLeast' THEN (q ->> 'lowerBound')::numeric WHEN 'atMost' THEN (q ->> 'upperBound')::numeric
      WHEN 'range' THEN coalesce((q ->> 'amount')::numeric, (q ->> 'lowerBound')::numeric) ELSE 0 END AS best,
    CASE q ->> 'approximation'
      WHEN 'exact' THEN (q ->> 'amount')::numeric WHEN 'approximately' THEN coalesce((q ->> 'upperBound')::numeric, (q ->> 'amount')::numeric)
      WHEN 'atMost' THEN (q ->> 'upperBound')::numeric WHEN 'range' THEN (q ->> 'upperBound')::numeric END AS hi
  FROM incidents CROSS JOIN LATERAL (SELECT nullif(fatalities, 'null'::jsonb) AS q) f WHERE sourcing <> 'withdrawn'),
per AS (
  SELECT GROUPING(t) AS total, t, u, count(*) AS n, coalesce(sum(lo), 0) AS lo, coalesce(sum(best), 0) AS best,
    CASE WHEN bool_and(hi IS NOT NULL) THEN sum(hi) END AS hi, count(*) FILTER (WHERE hi IS NULL) AS open,
    count(*) FILTER (WHERE ap IS NULL OR ap NOT IN ('exact', 'approximately', 'atLeast', 'atMost', 'range')) AS unknown,
    bool_or(ap IS NOT DISTINCT FROM 'approximately') AS approx
  FROM x GROUP BY GROUPING SETS ((u), (t, u))),
g AS (SELECT t, sum(n)::bigint AS n FROM per WHERE total = 0 GROUP BY t ORDER BY n DESC, t NULLS LAST LIMIT 100)
SELECT json_build_object(
  'totalCount', (SELECT coalesce(sum(n), 0)::bigint FROM per WHERE total = 1),
  'sums', json_build_object('fatalities', coalesce((
    SELECT json_agg(json_build_object('unit', u, 'count', n, 'low', lo, 'best', best, 'high', hi, 'openUpper', open,
      'unknown', unknown, 'approximate', approx) ORDER BY n DESC, u NULLS LAST) FROM per WHERE total = 1), '[]'::json)),
  'groups', coalesce((
    SELECT json_agg(json_build_object('key', g.t, 'totalCount', g.n, 'sums', json_build_object('fatalities', (
      SELECT json_agg(json_build_object('unit', p.u, 'count', p.n, 'low', p.lo, 'best', p.best, 'high', p.hi,
        'openUpper', p.open, 'unknown', p.unknown, 'approximate', p.approx) ORDER BY p.n DESC, p.u NULLS LAST)
      FROM per p WHERE p.total = 0 AND p.t IS NOT DISTINCT FROM g.t))) ORDER BY g.n DESC, g.t NULLS LAST)
    FROM g), '[]'::json))"""

# The first 20 incidents (id order) whose location meets a small box, and whether more follow (the
# 21st) with the cursor of the 20th: the GiST probe, then the exact test.
BBOX = """
SELECT json_build_object(
  'data', coalesce(json_agg(incident_doc(i.r) ORDER BY i.id) FILTER (WHERE i.rn <= 20), '[]'::json),
  'hasMore', count(*) > 20,
  'nextCursor', CASE WHEN count(*) > 20 THEN nf_cursor('createdAt', max(i.id) FILTER (WHERE i.rn <= 20), max(i.id) FILTER (WHERE i.rn <= 20)) END)
FROM (SELECT i AS r, i.id, row_number() OVER (ORDER BY i.id) AS rn FROM incidents i
      WHERE sourcing <> 'withdrawn' AND nf_geo_box(location_geojson) && box(point($1, $2), point($3, $4))
        AND nf_geo_intersects(location_geojson, ARRAY[$1, $2, $3, $4, 0, 1000, 0, 1000]::float8[])
      ORDER BY i.id LIMIT 21) i"""

# The first floors (kept measurable, "old" in the bench): each computes less than our answer.

# Facets of three fields in one pass (GROUPING SETS), the ten largest buckets each, speakers named
# (no otherCount).
OLD_FACETS = """
WITH g AS (
  SELECT GROUPING(status, quote_type, speaker_id) AS gs, coalesce(status, quote_type, speaker_id) AS v, count(*) AS n
  FROM claims WHERE sourcing <> 'withdrawn'
  GROUP BY GROUPING SETS ((status), (quote_type), (speaker_id))),
r AS (SELECT g.*, row_number() OVER (PARTITION BY gs, v IS NULL ORDER BY n DESC, v) AS rn FROM g)
SELECT json_agg(json_build_object('facet', r.gs, 'value', r.v, 'label', a.name, 'count', r.n) ORDER BY r.gs, r.n DESC)
FROM r LEFT JOIN actors a ON a.id = r.v AND r.gs = 6 WHERE r.rn <= 10"""

# Claims by month of their date (no zero-filling, bucket ends, imprecise or missing counts).
OLD_HISTOGRAM = """
SELECT json_agg(json_build_object('start', m, 'count', n) ORDER BY m)
FROM (SELECT date_trunc('month', claim_date) AS m, count(*) AS n FROM claims
      WHERE sourcing <> 'withdrawn' AND claim_date IS NOT NULL GROUP BY 1) x"""

# Fatalities by incident type and unit, with the low/best/high arithmetic written out (no total,
# openUpper, unknown or approximate flag).
OLD_SUMS = """
SELECT json_agg(json_build_object('key', t, 'unit', u, 'count', n, 'low', lo, 'best', best, 'high', hi) ORDER BY n DESC)
FROM (
  SELECT incident_type AS t, fatalities ->> 'unit' AS u, count(*) AS n,
    sum(CASE fatalities ->> 'approximation'
        WHEN 'exact' THEN (fatalities ->> 'amount')::numeric WHEN 'approximately' THEN coalesce((fatalities ->> 'lowerBound')::numeric, (fatalities ->> 'amount')::numeric)
        WHEN 'atLeast' THEN (fatalities ->> 'lowerBound')::numeric WHEN 'range' THEN (fatalities ->> 'lowerBound')::numeric ELSE 0 END) AS lo,
    sum(CASE fatalities ->> 'approximation'
        WHEN 'exact' THEN (fatalities ->> 'amount')::numeric WHEN 'approximately' THEN (fatalities ->> 'amount')::numeric
        WHEN 'atLeast' THEN (fatalities ->> 'lowerBound')::numeric WHEN 'atMost' THEN (fatalities ->> 'upperBound')::numeric
        WHEN 'range' THEN coalesce((fatalities ->> 'amount')::numeric, (fatalities ->> 'lowerBound')::numeric) ELSE 0 END) AS best,
    CASE WHEN bool_and(fatalities ->> 'approximation' IN ('exact', 'approximately', 'atMost', 'range')) THEN
      sum(CASE fatalities ->> 'approximation'
          WHEN 'exact' THEN (fatalities ->> 'amount')::numeric WHEN 'approximately' THEN coalesce((fatalities ->> 'upperBound')::numeric, (fatalities ->> 'amount')::numeric)
          ELSE (fatalities ->> 'upperBound')::numeric END) END AS hi
  FROM incidents WHERE sourcing <> 'withdrawn' GROUP BY 1, 2) x"""

# The first 20 incidents (id order) whose location meets a small box: the GiST probe, then the exact
# test (no hasMore or nextCursor).
OLD_BBOX = """
SELECT coalesce(json_agg(incident_doc(i) ORDER BY i.id), '[]'::json)
FROM (SELECT * FROM incidents i
      WHERE sourcing <> 'withdrawn' AND nf_geo_box(location_geojson) && box(point($1, $2), point($3, $4))
        AND nf_geo_intersects(location_geojson, ARRAY[$1, $2, $3, $4, 0, 1000, 0, 1000]::float8[])
      ORDER BY id LIMIT 20) i"""

STATEMENTS = {
    "facets": FACETS,
    "histogram": HISTOGRAM,
    "sums": SUMS,
    "bbox": BBOX,
    "old-facets": OLD_FACETS,
    "old-histogram": OLD_HISTOGRAM,
    "old-sums": OLD_SUMS,
    "old-bbox": OLD_BBOX,
}


async def floor(request: Request) -> Response:
    name = request.path_params["name"]
    args: list[object] = []
    if name.endswith("bbox"):
        args = [float(x) for x in request.query_params["bbox"].split(",")]
    elif name == "histogram":
        args = [request.query_params.get("timeZone", "UTC")]
    async with request.app.state.pool.acquire() as conn:
        body: bytes = await conn.fetchval(STATEMENTS[name], *args)
    return Response(body, media_type="application/json")


async def healthz(request: Request) -> Response:
    return Response(b"ok")


app = Starlette(routes=[Route("/floor/{name:str}", floor), Route("/healthz", healthz)], lifespan=lifespan)
