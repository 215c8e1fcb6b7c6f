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

# Facets of three fields in one pass (GROUPING SETS), the ten largest buckets each, speakers named.
FACETS = """
WITH g AS (
  SELECT GROUPING(status, quote_type, speaker_id) AS gs, coalesce(status, quote_type, speaker_id) AS v, count(*) AS n
  FROM claims WHERE sourcing <> 'withdrawn'
  GROUP BY GROUPING SETS ((status), (quote_type), (speaker_id))),
r AS (SELECT g.*, row_number() OVER (PARTITION BY gs, v IS NULL ORDER BY n DESC, v) AS rn FROM g)
SELECT json_agg(json_build_object('facet', r.gs, 'value', r.v, 'label', a.name, 'count', r.n) ORDER BY r.gs, r.n DESC)
FROM r LEFT JOIN actors a ON a.id = r.v AND r.gs = 6 WHERE r.rn <= 10"""

# Claims by month of their date.
HISTOGRAM = """
SELECT json_agg(json_build_object('start', m, 'count', n) ORDER BY m)
FROM (SELECT date_trunc('month', claim_date) AS m, count(*) AS n FROM claims
      WHERE sourcing <> 'withdrawn' AND claim_date IS NOT NULL GROUP BY 1) x"""

# Fatalities by incident type and unit, with the low/best/high arithmetic written out.
SUMS = """
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

# The first 20 incidents (id order) whose location meets a small box: the GiST probe, then the exact test.
BBOX = """
SELECT coalesce(json_agg(incident_doc(i) ORDER BY i.id), '[]'::json)
FROM (SELECT * FROM incidents i
      WHERE sourcing <> 'withdrawn' AND nf_geo_box(location_geojson) && box(point($1, $2), point($3, $4))
        AND nf_geo_intersects(location_geojson, ARRAY[$1, $2, $3, $4, 0, 1000, 0, 1000]::float8[])
      ORDER BY id LIMIT 20) i"""

STATEMENTS = {"facets": FACETS, "histogram": HISTOGRAM, "sums": SUMS, "bbox": BBOX}


async def floor(request: Request) -> Response:
    name = request.path_params["name"]
    args = [float(x) for x in request.query_params["bbox"].split(",")] if name == "bbox" else []
    async with request.app.state.pool.acquire() as conn:
        body: bytes = await conn.fetchval(STATEMENTS[name], *args)
    return Response(body, media_type="application/json")


async def healthz(request: Request) -> Response:
    return Response(b"ok")


app = Starlette(routes=[Route("/floor/{name:str}", floor), Route("/healthz", healthz)], lifespan=lifespan)
