"""0014's general map tests as that migration created them, for comparison with what replaced them
(0022): its text's functions, renamed to ``pg_temp.old_<name>`` on one connection. Used by
bench/bench_geo.py and tests/db/test_geo_general.py."""

from __future__ import annotations

import re
from pathlib import Path

from db.pool import Conn

MIGRATION = Path(__file__).resolve().parents[1] / "db" / "migrations" / "0014_analytics.sql"
NAMES = ("nf_geo_positions", "nf_geo_parts", "nf_geo_points", "nf_geo_polygon", "nf_geo_line_meets",
         "nf_geo_intersects", "nf_km", "nf_geo_distance_km")  # fmt: skip


async def create_0014_tests(conn: Conn) -> None:
    """pg_temp.old_nf_geo_intersects(g, b) and pg_temp.old_nf_geo_distance_km(g, lon, lat), with
    the helpers they call, for this connection's session."""
    for match in re.finditer(r"CREATE FUNCTION (\w+)\(.*?\$\$;", MIGRATION.read_text(), re.S):
        if match.group(1) in NAMES:
            body = match.group(0)
            for name in NAMES:
                body = re.sub(rf"\b{name}\(", f"pg_temp.old_{name}(", body)
            await conn.execute(body)
