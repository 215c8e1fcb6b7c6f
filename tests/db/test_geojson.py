"""A place stores RFC 7946 GeoJSON only: the write service refuses other shapes naming the field and
what is wrong, and whatever it accepts validates against the contract's GeoJson schema, so a map
client typed from openapi.yaml reads every stored value."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from db import writes
from db.errors import ValidationFailed
from db.geojson import problem
from db.pool import Conn
from tests.contract.representations import validator

DOCUMENT = yaml.safe_load((Path(__file__).resolve().parents[2] / "openapi" / "openapi.yaml").read_text())
GEOJSON = validator(DOCUMENT, {"$ref": "#/components/schemas/GeoJson"})
SQUARE = [[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]

ACCEPTED: list[Any] = [
    {"type": "Point", "coordinates": [-66.9, 10.5]},
    {"type": "Point", "coordinates": [-66.9, 10.5, 120], "bbox": [-66.9, 10.5, -66.9, 10.5]},
    {"type": "MultiPoint", "coordinates": [[0, 0], [1, 1]]},
    {"type": "LineString", "coordinates": [[0, 0], [1, 1]]},
    {"type": "MultiLineString", "coordinates": [[[0, 0], [1, 1]], [[2, 2], [3, 3]]]},
    {"type": "Polygon", "coordinates": [SQUARE]},
    {"type": "MultiPolygon", "coordinates": [[SQUARE], [SQUARE]]},
    {"type": "GeometryCollection", "geometries": [{"type": "Point", "coordinates": [0, 0]}]},
    {"type": "Feature", "geometry": None, "properties": None},
    {"type": "Feature", "id": 7, "geometry": {"type": "Point", "coordinates": [1, 2]}, "properties": {"a": 1}},
    {"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": None, "properties": {}}]},
]
REFUSED: list[tuple[Any, str]] = [
    ({"type": "Point"}, "Point coordinates must be"),
    ({"type": "Point", "coordinates": [1, 2, 3, 4]}, "Point coordinates must be"),
    ({"type": "Point", "coordinates": [True, 2]}, "Point coordinates must be"),
    ({"type": "LineString", "coordinates": [[0, 0]]}, "two or more positions"),
    ({"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1]]]}, "closed rings"),
    ({"type": "Feature", "geometry": {"type": "Point", "coordinates": [0]}, "properties": {}}, "geometry: Point"),
    ({"type": "Feature", "properties": {}}, "a Feature needs geometry"),
    (
        {"type": "FeatureCollection", "features": [{"type": "Point", "coordinates": [0, 0]}]},
        "features[0]: must be a Feature",
    ),
    ({"type": "GeometryCollection", "geometries": [{"type": "Feature"}]}, "geometries[0]: must be a geometry"),
    ({"type": "Point", "coordinates": [0, 0], "bbox": [0, 0, 1]}, "bbox must be"),
    ({"type": "Circle", "center": [0, 0]}, "with a geometry or feature type"),
    ([0, 0], "with a geometry or feature type"),
]


@pytest.mark.parametrize("value", ACCEPTED, ids=lambda v: v["type"])
def test_rfc_7946_shapes_are_accepted_and_match_the_contract(value: Any) -> None:
    assert problem(value) is None
    assert [e.message for e in GEOJSON.iter_errors(value)] == []


@pytest.mark.parametrize(("value", "message"), REFUSED)
def test_other_shapes_are_refused_saying_what_is_wrong(value: Any, message: str) -> None:
    found = problem(value)
    assert found is not None and message in found


@pytest.mark.anyio
async def test_a_deployment_with_a_bad_region_is_refused_naming_the_field(conn: Conn) -> None:
    record = {"status": "active", "region": {"name": "Sea", "geojson": {"type": "Point", "coordinates": [1]}}}
    with pytest.raises(ValidationFailed) as caught:
        await writes.create(conn, "deployment", record, changed_by="test")
    (error,) = caught.value.errors
    assert (error.path, error.code) == (("region", "geojson"), "INVALID_GEOJSON")
    assert "Point coordinates must be" in error.message
