"""RFC 7946 GeoJSON, checked by structure: what a place may store is what the contract types
(openapi.yaml's GeoJson schemas), so a map client can read every stored shape without guessing."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

GEOMETRIES = ("Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon")
TYPES = (*GEOMETRIES, "GeometryCollection", "Feature", "FeatureCollection")
MAX_DEPTH = 8  # geometry collections may nest (RFC 7946 3.1.8 discourages it); a bound keeps the walk small


def _position(value: Any) -> bool:
    # Longitude, latitude and an optional altitude (3.1.1: no more than three elements).
    return (
        isinstance(value, list)
        and 2 <= len(value) <= 3
        and all(isinstance(n, int | float) and not isinstance(n, bool) and math.isfinite(n) for n in value)
    )


def _positions(value: Any, minimum: int) -> bool:
    return isinstance(value, list) and len(value) >= minimum and all(_position(p) for p in value)


def _ring(value: Any) -> bool:
    # 3.1.6: a linear ring has four or more positions and ends where it starts.
    return _positions(value, 4) and value[0] == value[-1]


def _lines(value: Any) -> bool:
    return isinstance(value, list) and all(_positions(line, 2) for line in value)


def _polygon(value: Any) -> bool:
    return isinstance(value, list) and all(_ring(r) for r in value)


# Each geometry's coordinates: the check, and what it wants (for the error message).
COORDINATES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "Point": (_position, "a position [longitude, latitude] (or with an altitude)"),
    "MultiPoint": (lambda v: _positions(v, 0), "a list of positions"),
    "LineString": (lambda v: _positions(v, 2), "a list of two or more positions"),
    "MultiLineString": (_lines, "a list of lines of two or more positions"),
    "Polygon": (_polygon, "a list of closed rings of four or more positions (the last one the first)"),
    "MultiPolygon": (
        lambda v: isinstance(v, list) and all(_polygon(p) for p in v),
        "a list of polygons, each a list of closed rings of four or more positions",
    ),
}


def _coordinates(kind: str, value: Any) -> str | None:
    check, shape = COORDINATES[kind]
    return None if check(value) else f"{kind} coordinates must be {shape}"


def _bbox(value: Any) -> bool:
    return isinstance(value, list) and len(value) in (4, 6) and all(_position([n, 0]) for n in value)


def problem(value: Any, depth: int = 0) -> str | None:
    """What makes ``value`` other than an RFC 7946 geometry, Feature or FeatureCollection; None if nothing."""
    if not isinstance(value, dict) or value.get("type") not in TYPES:
        # The wording the write service and the bulk loader's reports have always given.
        return "must be a GeoJSON object with a geometry or feature type"
    kind = value["type"]
    if depth > MAX_DEPTH:
        return f"nests more than {MAX_DEPTH} levels deep"
    if "bbox" in value and not _bbox(value["bbox"]):
        return "bbox must be [west, south, east, north] (or with altitudes, six numbers)"
    if kind in GEOMETRIES:
        return _coordinates(kind, value.get("coordinates"))
    if kind == "GeometryCollection":
        members = value.get("geometries")
        if not isinstance(members, list):
            return "a GeometryCollection needs geometries, a list"
        return _first(members, lambda g: problem(g, depth + 1) if _geometry(g) else "must be a geometry", "geometries")
    if kind == "Feature":
        if "geometry" not in value or "properties" not in value:
            return "a Feature needs geometry (or null) and properties (or null)"
        if value["properties"] is not None and not isinstance(value["properties"], dict):
            return "a Feature's properties must be an object or null"
        if "id" in value and (isinstance(value["id"], bool) or not isinstance(value["id"], str | int | float)):
            return "a Feature's id must be a string or a number"
        geometry = value["geometry"]
        if geometry is None:
            return None
        found = problem(geometry, depth + 1) if _geometry(geometry) else "must be a geometry or null"
        return None if found is None else f"geometry: {found}"
    features = value.get("features")
    if not isinstance(features, list):
        return "a FeatureCollection needs features, a list"
    return _first(
        features,
        lambda f: problem(f, depth + 1) if isinstance(f, dict) and f.get("type") == "Feature" else "must be a Feature",
        "features",
    )


def _geometry(value: Any) -> bool:
    return isinstance(value, dict) and value.get("type") in (*GEOMETRIES, "GeometryCollection")


def _first(items: list[Any], check: Callable[[Any], str | None], name: str) -> str | None:
    for i, item in enumerate(items):
        found = check(item)
        if found is not None:
            return f"{name}[{i}]: {found}"
    return None
