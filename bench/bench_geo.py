"""The map queries' general exact tests (0022) against 0014's, which they replaced, over polygons
and lines: what each costs PostgreSQL per geometry, and a near page as the read planner writes it
(the GiST probe on nf_geo_box, the distance as filter and order, 20 rows) under the product's 4 s
statement timeout. 0014's tests are recreated from its text in the bench's session
(bench/geo_0014.py); both run in the same session over the same rows, with JIT on and off — the
embedded PostgreSQL is built without it, a packaged server (Debian's, production's) has it.

    .venv/bin/python -m bench.bench_geo                                   # embedded PostgreSQL
    .venv/bin/python -m bench.bench_geo --database-url postgresql://…/db  # a server with JIT
"""

from __future__ import annotations

import argparse
import asyncio
import math
import sys
import time
from typing import Any

import asyncpg

from bench.common import embedded_postgres, print_table
from bench.geo_0014 import create_0014_tests
from db.geo import circle_halves, distance_order, geo_filters
from db.migrate import migrate
from db.pool import Conn, connect

NEAR = (-60.0, 15.0, 400.0)  # lon, lat, radiusKm: a few hundred candidates among the default shapes
SAMPLE = 200  # shapes of each kind timed one by one (0014's took ~10 ms each under JIT)
STATEMENT_TIMEOUT_MS = 4000  # the product's default bound (DB_STATEMENT_TIMEOUT_S, less its margin)


async def _shapes(conn: Conn, count: int, vertices: int) -> None:
    """``count`` polygons (one ring of ``vertices`` positions) and as many lines, scattered over
    40° x 30° around the near centre, with the GiST index the fact tables have."""
    await conn.execute(
        """CREATE TEMP TABLE shapes AS
           SELECT i, CASE WHEN i % 2 = 0
               THEN jsonb_build_object('type', 'Polygon', 'coordinates', jsonb_build_array(
                   (SELECT jsonb_agg(jsonb_build_array(round((lon + cos(radians(a)) * 0.5)::numeric, 5),
                                                       round((lat + sin(radians(a)) * 0.5)::numeric, 5)) ORDER BY a)
                    FROM generate_series(0, 360, 360.0 / ($2 - 1)) a)))
               ELSE jsonb_build_object('type', 'LineString', 'coordinates',
                   (SELECT jsonb_agg(jsonb_build_array(round((lon + k * 0.05)::numeric, 5),
                                                       round((lat + k * 0.03)::numeric, 5)) ORDER BY k)
                    FROM generate_series(1, $2) k)) END AS geo
           FROM (SELECT i, -80 + 40 * ((i * 7919) % 1000) / 1000.0 AS lon, 30 * ((i * 104729) % 997) / 997.0 AS lat
                 FROM generate_series(1, $1 * 2) i) s""",
        count,
        vertices,
    )
    await conn.execute("CREATE INDEX ON shapes USING gist (nf_geo_box(geo))")
    await conn.execute("ANALYZE shapes")


async def _best_ms(conn: Conn, sql: str, *args: Any, rounds: int) -> tuple[float, Any]:
    best, value = math.inf, None
    for _ in range(rounds):
        started = time.perf_counter()
        value = await conn.fetchval(sql, *args)
        best = min(best, (time.perf_counter() - started) * 1000)
    return best, value


async def _near_page(conn: Conn, old: bool, rounds: int) -> str:
    """A near page as db/geo.py writes its filter and order (0014's distance in place of the
    installed one when ``old``); its time, or the timeout."""
    near, _ = geo_filters("s", "geo", "shapes")
    where = near.sql.format(p="$1")
    order = distance_order("s", "geo").key.format(near="$1")
    sql = f"SELECT count(*) FROM (SELECT s.i FROM shapes s WHERE {where} ORDER BY {order}, s.i LIMIT 20) page"
    if old:
        sql = sql.replace("nf_geo_distance_km(", "pg_temp.old_nf_geo_distance_km(")
    value = [*circle_halves(*NEAR), *NEAR]
    probe = where.split(" AND nf_geo_distance_km")[0]  # the filter's index probe, before its exact test
    candidates = await conn.fetchval(f"SELECT count(*) FROM shapes s WHERE {probe}", value)
    try:
        ms, rows = await _best_ms(conn, sql, value, rounds=rounds)
    except asyncpg.QueryCanceledError:
        return f"timeout ({STATEMENT_TIMEOUT_MS / 1000:.0f} s, {candidates} candidates)"
    return f"{ms:,.1f} ms ({rows} rows of {candidates} candidates)"


async def run(url: str, count: int, vertices: int, rounds: int) -> None:
    conn = await connect(url)
    try:
        await migrate(conn)
        await create_0014_tests(conn)
        await _shapes(conn, count, vertices)
        jit_available = await conn.fetchval("SELECT pg_jit_available()")
        sample = min(count, SAMPLE)
        rows = []
        for jit in ("on", "off") if jit_available else ("off",):
            await conn.execute(f"SET jit = {jit}")
            label = f"JIT {jit}" if jit_available else "no JIT (not built in)"
            for shape, kind in (("polygons", 0), ("lines", 1)):
                for test, call, old_fn, new_fn in (
                    ("distance", "{f}(geo, -60, 15)", "pg_temp.old_nf_geo_distance_km", "nf_geo_distance_km_parts"),
                    ("box test", "{f}(geo, ARRAY[-62, 13, -58, 17, 0, 1000, 0, 1000]::float8[])::int",
                     "pg_temp.old_nf_geo_intersects", "nf_geo_intersects_parts"),
                ):  # fmt: skip
                    times = []
                    for fn in (old_fn, new_fn):
                        sql = f"SELECT sum({call.format(f=fn)}) FROM shapes WHERE i % 2 = {kind} AND i <= $1"
                        ms, _ = await _best_ms(conn, sql, sample * 2, rounds=rounds)
                        times.append(ms * 1000 / sample)
                    rows.append([label, f"{test}, {shape}", times[0], times[1], times[0] / times[1]])
            await conn.execute(f"SET statement_timeout = {STATEMENT_TIMEOUT_MS}")
            old_page = await _near_page(conn, True, rounds)
            new_page = await _near_page(conn, False, rounds)
            await conn.execute("RESET statement_timeout")
            rows.append([label, "near page (20 rows)", old_page, new_page, ""])
    finally:
        await conn.close()
    print_table(
        f"General map tests: 0014's and 0022's, {count:,} polygons of {vertices} positions and {count:,} lines",
        ["server", "what", "0014 (µs per geometry)", "0022 (µs per geometry)", "0014 / 0022"],
        rows,
        note=f"Best of {rounds} rounds each, in one session over the same rows ({min(count, SAMPLE)} shapes of"
        " each kind timed per geometry); the near page is db/geo.py's"
        f" filter and order (GiST probe, distance) within {NEAR[2]:.0f} km of"
        f" {NEAR[0]}, {NEAR[1]}, under a {STATEMENT_TIMEOUT_MS / 1000:.0f} s statement timeout.",
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", help="a database to use (migrated here; default: a fresh embedded one)")
    parser.add_argument("--shapes", type=int, default=2_000, help="polygons, and as many lines")
    parser.add_argument("--vertices", type=int, default=21)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    if args.database_url:
        asyncio.run(run(args.database_url, args.shapes, args.vertices, args.rounds))
    else:
        with embedded_postgres() as url:
            asyncio.run(run(url, args.shapes, args.vertices, args.rounds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
