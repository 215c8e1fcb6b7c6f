"""Facts on a map as RFC 7946 GeoJSON (``format=geojson`` or ``Accept: application/geo+json``):
a fact is a Feature whose geometry is its place's (a deployment's region, an incident's location)
and whose properties are its fields; a page is a FeatureCollection with the page's ``bbox``, as
MapLibre's and Leaflet's GeoJSON sources take it. Coordinates are lon/lat as stored."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

from db.registry import fact_type

MEDIA_TYPE = "application/geo+json"
_GEOMETRIES = frozenset(
    {"Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon", "GeometryCollection"}
)


def geometry_of(value: Any) -> dict[str, Any] | None:
    """A stored GeoJSON object as a geometry: a geometry as it is, a Feature's geometry, a
    FeatureCollection's geometries as one GeometryCollection; None when there is none."""
    if not isinstance(value, dict):
        return None
    kind = value.get("type")
    if kind in _GEOMETRIES:
        return value
    if kind == "Feature":
        return geometry_of(value.get("geometry"))
    if kind == "FeatureCollection":
        members = [g for f in value.get("features") or [] if (g := geometry_of(f)) is not None]
        return {"type": "GeometryCollection", "geometries": members} if members else None
    return None


def _positions(node: Any) -> Iterator[tuple[float, float]]:
    if isinstance(node, list):
        if len(node) >= 2 and all(isinstance(c, int | float) and not isinstance(c, bool) for c in node[:2]):
            yield float(node[0]), float(node[1])
        else:
            for item in node:
                yield from _positions(item)
    elif isinstance(node, dict):
        yield from _positions(node.get("coordinates"))
        for member in node.get("geometries") or []:
            yield from _positions(member)


def bbox(geometries: list[dict[str, Any]]) -> list[float] | None:
    """[minLon, minLat, maxLon, maxLat] of every position (RFC 7946 §5), or None when there is none."""
    found = [p for g in geometries for p in _positions(g) if math.isfinite(p[0]) and math.isfinite(p[1])]
    if not found:
        return None
    lons, lats = [p[0] for p in found], [p[1] for p in found]
    return [min(lons), min(lats), max(lons), max(lats)]


def feature(kind: str, doc: dict[str, Any], trim: Callable[[dict[str, Any]], dict[str, Any]]) -> dict[str, Any]:
    """One fact as a Feature: its place's geometry (null when it has none), its fields as
    properties (``trim`` applies ``fields=``) with the place keeping its name, not the geometry."""
    geometry = fact_type(kind).analytics.geometry
    assert geometry is not None, kind
    place = doc.get(geometry.field)
    shape = geometry_of(place.get("geojson")) if isinstance(place, dict) else None
    properties = dict(doc)
    if isinstance(place, dict):
        properties[geometry.field] = {k: v for k, v in place.items() if k != "geojson"}
    out: dict[str, Any] = {"type": "Feature", "id": doc["id"], "geometry": shape, "properties": trim(properties)}
    box = bbox([shape]) if shape is not None else None
    if box is not None:
        out["bbox"] = box
    return out


def collection(features: list[dict[str, Any]], *, has_more: bool, next_cursor: str | None) -> dict[str, Any]:
    """A page of features; ``hasMore`` and ``nextCursor`` (foreign members) page on, as lists do."""
    out: dict[str, Any] = {"type": "FeatureCollection"}
    box = bbox([f["geometry"] for f in features if f["geometry"] is not None])
    if box is not None:
        out["bbox"] = box
    out.update({"features": features, "hasMore": has_more, "nextCursor": next_cursor})
    return out
