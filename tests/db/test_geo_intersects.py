"""The map queries' exact tests read a bare Point directly (0021's nf_geo_plain_point): for every
geometry and pair of boxes the bbox test must answer what the general test (nf_geo_intersects_parts,
0014's walk over the geometry's parts) answers, and from every centre the near test must measure
what the general one (nf_geo_distance_km_parts) measures; the direct way is taken only for a Point
it reads the same: foreign members, strings, out-of-range or non-array coordinates go the general
way."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from db.pool import Conn

pytestmark = pytest.mark.anyio

SQUARE = [[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]
PLAIN_POINTS: list[Any] = [
    {"type": "Point", "coordinates": [-66.9, 10.5]},
    {"type": "Point", "coordinates": [-66.9, 10.5, 120], "bbox": [-66.9, 10.5, -66.9, 10.5]},
    {"type": "Point", "coordinates": [0, 0]},  # on the corner of a box below
    {"type": "Point", "coordinates": [1, 0.5]},  # on an edge
    {"type": "Point", "coordinates": [179.5, -16.5]},  # Fiji, east of the antimeridian
    {"type": "Point", "coordinates": [-179.5, -16.5]},  # and west of it
    {"type": "Point", "coordinates": [1e9, -1e9]},  # the edge of the range 0014 reads
]
OTHER: list[Any] = [
    {"type": "Point", "coordinates": [0.5, 0.5], "extra": {"type": "Point", "coordinates": [50, 50]}},
    {"type": "Point", "coordinates": [50, 50], "extra": {"type": "Point", "coordinates": [0.5, 0.5]}},
    {"type": "Point", "coordinates": {"0": 0.5, "1": 0.5}},
    {"type": "Point", "coordinates": ["0.5", 0.5]},
    {"type": "Point", "coordinates": [2e9, 0.5]},
    {"type": "Point", "coordinates": [0.5]},
    {"type": "Point"},
    {"type": "MultiPoint", "coordinates": [[0.5, 0.5], [50, 50]]},
    {"type": "LineString", "coordinates": [[-1, -1], [2, 2]]},
    {"type": "Polygon", "coordinates": [SQUARE]},
    {"type": "MultiPolygon", "coordinates": [[SQUARE]]},
    {"type": "GeometryCollection", "geometries": [{"type": "Point", "coordinates": [0.5, 0.5]}]},
    {"type": "Feature", "geometry": {"type": "Point", "coordinates": [0.5, 0.5]}, "properties": {}},
    {"type": "Feature", "geometry": None, "properties": None},
    [0.5, 0.5],
    "Point",
    7,
]
NOWHERE = [0.0, 1000.0, 0.0, 1000.0]  # the planner's second box when the first does not wrap
BOXES: list[list[float]] = [
    [0, 0, 1, 1, *NOWHERE],
    [-70, 5, -60, 15, *NOWHERE],
    [170, -20, 180, -10, -180, -20, -170, -10],  # a box across the antimeridian, in its two halves
    [-1e9, -1e9, 1e9, 1e9, *NOWHERE],
    [10, 10, 20, 20, *NOWHERE],
]


async def test_the_point_test_answers_as_the_general_test(conn: Conn) -> None:
    geometries = PLAIN_POINTS + OTHER
    rows = await conn.fetch(
        """SELECT g.i, x.j, nf_geo_plain_point(g.t::jsonb) AS plain, nf_geo_intersects(g.t::jsonb, x.t::float8[]) AS fast,
                  nf_geo_intersects_parts(g.t::jsonb, x.t::float8[]) AS general
           FROM unnest($1::text[]) WITH ORDINALITY g(t, i), unnest($2::text[]) WITH ORDINALITY x(t, j)""",
        [orjson.dumps(g).decode() for g in geometries],
        ["{" + ",".join(repr(float(n)) for n in box) + "}" for box in BOXES],
    )
    assert len(rows) == len(geometries) * len(BOXES)
    for row in rows:
        geometry, box = geometries[row["i"] - 1], BOXES[row["j"] - 1]
        assert row["fast"] is row["general"], (geometry, box)
        assert row["plain"] is (row["i"] <= len(PLAIN_POINTS)), geometry
    # Both answers occur, for the plain points and for the others, so agreeing is not agreeing on
    # a constant.
    for plain in (True, False):
        answers = {row["fast"] for row in rows if row["plain"] is plain}
        assert answers == {True, False}, plain


CENTRES = [(0.5, 0.5), (-66.9, 10.5), (179.9, -16.5), (-10.0, 45.0)]


async def test_the_point_distance_measures_as_the_general_one(conn: Conn) -> None:
    geometries = PLAIN_POINTS + OTHER
    rows = await conn.fetch(
        """SELECT g.i, nf_geo_plain_point(g.t::jsonb) AS plain, nf_geo_distance_km(g.t::jsonb, c.lon, c.lat) AS fast,
                  nf_geo_distance_km_parts(g.t::jsonb, c.lon, c.lat) AS general
           FROM unnest($1::text[]) WITH ORDINALITY g(t, i), unnest($2::float8[], $3::float8[]) c(lon, lat)""",
        [orjson.dumps(g).decode() for g in geometries],
        [lon for lon, _ in CENTRES],
        [lat for _, lat in CENTRES],
    )
    assert len(rows) == len(geometries) * len(CENTRES)
    for row in rows:
        assert row["fast"] == row["general"], geometries[row["i"] - 1]
    measured = [row["fast"] for row in rows if row["plain"]]
    assert None not in measured and len(set(measured)) > len(PLAIN_POINTS)  # real, varied distances
