"""0022 rewrote the general exact tests of the map queries (nf_geo_intersects_parts for bbox,
nf_geo_distance_km_parts for near); their answers must stay 0014's. 0014's
functions are created again from the migration's own text, as temporary functions
(bench/geo_0014.py), and both versions answer for a generated set of geometries — every GeoJSON type, nested collections and
features, and what a stored document may hold besides: foreign members that nest geometries,
positions with an altitude, too short or not numbers, values out of 0014's range, coordinates that
are not arrays — against boxes (one across the antimeridian) and from centres."""

from __future__ import annotations

import random
from typing import Any

import orjson
import pytest

from bench.geo_0014 import create_0014_tests
from db.pool import Conn

pytestmark = pytest.mark.anyio

NOWHERE = [0.0, 1000.0, 0.0, 1000.0]
BOXES = [
    [-2, -2, 2, 2, *NOWHERE],
    [0.5, 0.5, 1.5, 1.5, *NOWHERE],
    [-8, 3, -4, 9, *NOWHERE],
    [176, -12, 180, -8, -180, -12, -177, -8],  # across the antimeridian, in its two halves
    [-1e9, -1e9, 1e9, 1e9, *NOWHERE],
    [30, 30, 31, 31, *NOWHERE],
]
CENTRES = [(0.0, 0.0), (0.6, 0.4), (-6.0, 6.0), (179.5, -10.0), (45.0, -30.0)]


def _geometries(seed: int) -> list[Any]:
    rnd = random.Random(seed)

    def number() -> Any:
        return rnd.choice([round(rnd.uniform(-10, 10), 3), rnd.randint(-3, 3), round(rnd.uniform(-1, 2), 2)])

    def position() -> Any:
        roll = rnd.random()
        if roll < 0.80:
            return [number(), number()]
        if roll < 0.88:
            return [number(), number(), rnd.randint(0, 500)]  # an altitude
        return rnd.choice([[number()], ["1", number()], [number(), None], [2e9, number()], {"0": 1, "1": 1}, 7, []])

    def positions(low: int, high: int) -> list[Any]:
        return [position() for _ in range(rnd.randint(low, high))]

    def ring() -> list[Any]:
        around, size = (rnd.uniform(-6, 6), rnd.uniform(-6, 6)), rnd.uniform(0.2, 4)
        points = [
            [round(around[0] + size * rnd.uniform(0.5, 1) * c, 3), round(around[1] + size * rnd.uniform(0.5, 1) * s, 3)]
            for c, s in ((1, 0), (0, 1), (-1, 0), (0, -1))
        ]
        if rnd.random() < 0.15:
            points.insert(rnd.randint(0, 3), position())  # a stored oddity among real positions
        return [*points, points[0]] if rnd.random() < 0.9 else points[: rnd.randint(0, 3)]

    def geometry(depth: int = 0) -> Any:
        kind = rnd.choice(
            ["Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon"]
            + (["GeometryCollection", "Feature", "FeatureCollection"] if depth < 2 else [])
        )
        coordinates: Any
        if kind == "Point":
            coordinates = position()
        elif kind == "MultiPoint":
            coordinates = positions(0, 5)
        elif kind == "LineString":
            coordinates = positions(1, 6)
        elif kind == "MultiLineString":
            coordinates = [positions(1, 5) for _ in range(rnd.randint(0, 3))]
        elif kind == "Polygon":
            coordinates = [ring() for _ in range(rnd.randint(0, 2))]
        elif kind == "MultiPolygon":
            coordinates = [[ring() for _ in range(rnd.randint(0, 2))] for _ in range(rnd.randint(0, 3))]
        elif kind == "GeometryCollection":
            return {"type": kind, "geometries": [geometry(depth + 1) for _ in range(rnd.randint(0, 3))]}
        elif kind == "Feature":
            properties = rnd.choice([{}, None, {"coordinates": [number(), number()]}, {"where": geometry(depth + 1)}])
            return {"type": kind, "geometry": rnd.choice([geometry(depth + 1), None]), "properties": properties}
        else:
            return {"type": kind, "features": [geometry(depth + 1) for _ in range(rnd.randint(0, 2))]}
        if rnd.random() < 0.06:
            coordinates = rnd.choice([{"0": coordinates}, "0,0", 3, None, [coordinates]])  # not what the type says
        doc: dict[str, Any] = {"type": kind, "coordinates": coordinates}
        if rnd.random() < 0.08:
            doc["extra"] = geometry(depth + 1) if depth < 2 else {"coordinates": [number(), number()]}
        if rnd.random() < 0.05:
            doc["bbox"] = [-1, -1, 1, 1]
        return doc

    generated = [geometry() for _ in range(400)]
    one_position = [  # a line of one position is tested as a point; its box is not symmetric
        {"type": "LineString", "coordinates": [[-6, 6]]},
        {"type": "MultiLineString", "coordinates": [[[-6, 6], "x"], [[40, 40], [41, 41]]]},
    ]
    odd = [[0.5, 0.5], "Point", 7, None, {}, {"type": "Polygon"}, {"coordinates": [[0, 0], [1, 1]]}]
    return [*generated, *one_position, *odd]


async def test_the_general_tests_answer_as_0014s(conn: Conn) -> None:
    await create_0014_tests(conn)
    geometries = [orjson.dumps(g).decode() for g in _geometries(seed=22)]
    boxes = ["{" + ",".join(repr(float(n)) for n in box) + "}" for box in BOXES]
    rows = await conn.fetch(
        """SELECT g.i, x.j, nf_geo_intersects_parts(g.t::jsonb, x.t::float8[]) AS new,
                  pg_temp.old_nf_geo_intersects(g.t::jsonb, x.t::float8[]) AS old
           FROM unnest($1::text[]) WITH ORDINALITY g(t, i), unnest($2::text[]) WITH ORDINALITY x(t, j)""",
        geometries,
        boxes,
    )
    assert len(rows) == len(geometries) * len(BOXES)
    for row in rows:
        assert row["new"] is row["old"], (geometries[row["i"] - 1], BOXES[row["j"] - 1])
    # Both answers, from each box that can meet a generated geometry: not an agreement on a constant.
    for j in (1, 2, 3, 5):
        assert {row["new"] for row in rows if row["j"] == j} == {True, False}, BOXES[j - 1]

    rows = await conn.fetch(
        """SELECT g.i, nf_geo_distance_km_parts(g.t::jsonb, c.lon, c.lat) AS new,
                  pg_temp.old_nf_geo_distance_km(g.t::jsonb, c.lon, c.lat) AS old
           FROM unnest($1::text[]) WITH ORDINALITY g(t, i), unnest($2::float8[], $3::float8[]) c(lon, lat)""",
        geometries,
        [lon for lon, _ in CENTRES],
        [lat for _, lat in CENTRES],
    )
    assert len(rows) == len(geometries) * len(CENTRES)
    for row in rows:
        assert row["new"] == row["old"], geometries[row["i"] - 1]  # the same positions: equal, not close
    distances = [row["new"] for row in rows]
    assert distances.count(0.0) >= 5 and None in distances and len(set(distances)) > len(geometries)


async def test_the_general_tests_are_not_jit_compiled(conn: Conn) -> None:
    # Each runs its statement afresh per call; costed past jit_above_cost, a server with JIT (not
    # the embedded one, so not observable here) compiled it at every call: 8-9 ms, against a tenth
    # of a millisecond of work (bench/bench_geo.py).
    rows = await conn.fetch(
        "SELECT proname, proconfig FROM pg_proc WHERE proname IN ('nf_geo_intersects_parts', 'nf_geo_distance_km_parts')"
    )
    assert {r["proname"]: r["proconfig"] for r in rows} == {
        "nf_geo_intersects_parts": ["jit=off"],
        "nf_geo_distance_km_parts": ["jit=off"],
    }
