"""Map queries over a fact's stored GeoJSON (db/migrations/0014_analytics.sql): the ``bbox`` and
``near`` filters and the ``distance`` order, made for each kind from its declared geometry. Both
filters bind one float8[] of two boxes (OGC order: minLon, minLat, maxLon, maxLat) that the GiST
index on ``nf_geo_box`` probes — a box across the antimeridian, or a circle's bounding box that
crosses it, as its two halves; an unused half is a box no geometry meets — then the centre and
radius of ``near``. The exact test (intersection, great-circle distance) runs on the candidates."""

from __future__ import annotations

import math
from typing import Any

from db.facts import FilterDef, OrderDef
from db.fields import INVALID, Checks, Field, Path, Shape, Validator, number, with_shape

EARTH_RADIUS_KM = 6371.0088  # mean radius (IUGG), as nf_km
MAX_RADIUS_KM = 20_000.0  # about half the Earth's circumference: every point is nearer than that
# A box at latitude 1000: no geometry's box meets it, so an unused half costs one empty index probe.
_NOWHERE = (0.0, 1000.0, 0.0, 1000.0)
NEAR_FIELDS = (
    Field("lon", number(), required=True),
    Field("lat", number(), required=True),
    Field("radiusKm", number(), required=True),
)


def _numbers(value: Any, size: int, path: Path, checks: Checks, what: str) -> list[float] | None:
    """``size`` finite numbers from a list (GraphQL) or a comma-separated string (a query string)."""
    items: Any = value
    if isinstance(value, str):
        items = [part.strip() for part in value.split(",")]
    if not isinstance(items, list | tuple) or len(items) != size:
        checks.fail(path, "INVALID_VALUE", f"must be {what}")
        return None
    out = []
    for item in items:
        try:
            number_ = float(item) if isinstance(item, str) else item
        except ValueError:
            number_ = None
        if isinstance(number_, bool) or not isinstance(number_, int | float) or not math.isfinite(number_):
            checks.fail(path, "INVALID_VALUE", f"must be {what}")
            return None
        out.append(float(number_))
    return out


def _halves(min_lon: float, min_lat: float, max_lon: float, max_lat: float) -> list[float]:
    """The box as the two boxes the index is probed with (a box across the antimeridian, minLon >
    maxLon, is split at ±180)."""
    if min_lon <= max_lon:
        return [min_lon, min_lat, max_lon, max_lat, *_NOWHERE]
    return [min_lon, min_lat, 180.0, max_lat, -180.0, min_lat, max_lon, max_lat]


def _bbox(value: Any, path: Path, checks: Checks) -> Any:
    numbers = _numbers(value, 4, path, checks, "four numbers: minLon,minLat,maxLon,maxLat")
    if numbers is None:
        return INVALID
    min_lon, min_lat, max_lon, max_lat = numbers
    if not (-180 <= min_lon <= 180 and -180 <= max_lon <= 180 and -90 <= min_lat <= max_lat <= 90):
        checks.fail(
            path,
            "OUT_OF_RANGE",
            "must be minLon,minLat,maxLon,maxLat with longitudes in [-180, 180], latitudes in [-90, 90] and"
            " minLat <= maxLat (minLon > maxLon crosses the antimeridian)",
        )
        return INVALID
    return [*_halves(min_lon, min_lat, max_lon, max_lat), 0.0, 0.0, 0.0]


BBOX: Validator = with_shape(
    _bbox,
    Shape(
        "list",
        item=Shape("number"),
        max_items=4,
        description="minLon, minLat, maxLon, maxLat (WGS 84); minLon > maxLon crosses the antimeridian",
    ),
)


def circle_halves(lon: float, lat: float, radius_km: float) -> list[float]:
    """The boxes that hold every point within ``radius_km`` of (lon, lat): latitude ± the radius'
    arc, longitude ± the widest the circle gets at that latitude (all longitudes when it reaches a
    pole), split at the antimeridian."""
    arc = radius_km / EARTH_RADIUS_KM
    d_lat = math.degrees(arc)
    min_lat, max_lat = lat - d_lat, lat + d_lat
    if min_lat <= -90 or max_lat >= 90:
        return [-180.0, max(min_lat, -90.0), 180.0, min(max_lat, 90.0), *_NOWHERE]
    spread = math.sin(arc) / math.cos(math.radians(lat))
    d_lon = 180.0 if spread >= 1 else math.degrees(math.asin(spread))
    if d_lon >= 180:
        return [-180.0, min_lat, 180.0, max_lat, *_NOWHERE]
    west, east = lon - d_lon, lon + d_lon
    if west < -180:
        return [west + 360, min_lat, 180.0, max_lat, -180.0, min_lat, east, max_lat]
    if east > 180:
        return [west, min_lat, 180.0, max_lat, -180.0, min_lat, east - 360, max_lat]
    return [west, min_lat, east, max_lat, *_NOWHERE]


def _near(value: Any, path: Path, checks: Checks) -> Any:
    what = "lon,lat,radiusKm"
    if isinstance(value, dict):
        unknown = set(value) - {"lon", "lat", "radiusKm"}
        if unknown:
            checks.fail(path, "UNKNOWN_FIELD", f"has no field {sorted(unknown)[0]} (give {what})")
            return INVALID
        value = [value.get("lon"), value.get("lat"), value.get("radiusKm")]
    numbers = _numbers(value, 3, path, checks, f"three numbers: {what}")
    if numbers is None:
        return INVALID
    lon, lat, radius = numbers
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        checks.fail(path, "OUT_OF_RANGE", "lon must be in [-180, 180] and lat in [-90, 90]")
        return INVALID
    if not 0 < radius <= MAX_RADIUS_KM:
        checks.fail(path, "OUT_OF_RANGE", f"radiusKm must be more than 0 and at most {MAX_RADIUS_KM:,.0f}")
        return INVALID
    return [*circle_halves(lon, lat, radius), lon, lat, radius]


NEAR: Validator = with_shape(
    _near, Shape("object", fields=NEAR_FIELDS, name="Near", description="lon, lat (WGS 84) and radiusKm")
)


def _boxes(column: str, p: str) -> str:
    """The index probe: the geometry's box meets either half."""
    box = f"nf_geo_box({column})"
    halves = [
        f"{box} && box(point(({p}::float8[])[{i + 1}], ({p}::float8[])[{i + 2}]), "
        f"point(({p}::float8[])[{i + 3}], ({p}::float8[])[{i + 4}]))"
        for i in (0, 4)
    ]
    return f"({' OR '.join(halves)})"


def distance_sql(column: str, p: str) -> str:
    """Great-circle km from the centre of the ``near`` value bound as ``p`` to the geometry."""
    return f"nf_geo_distance_km({column}, ({p}::float8[])[9], ({p}::float8[])[10])"


def geo_filters(alias: str, column: str, plural: str) -> tuple[FilterDef, FilterDef]:
    """``bbox`` (geometries that share a point with the box) and ``near`` (within radiusKm)."""
    geometry = f"{alias}.{column}"
    return (
        FilterDef(
            "bbox",
            BBOX,
            f"{_boxes(geometry, '{p}')} AND nf_geo_intersects({geometry}, {{p}}::float8[])",
            f"{plural} whose geometry meets the box minLon,minLat,maxLon,maxLat (minLon > maxLon crosses the antimeridian)",
        ),
        FilterDef(
            "near",
            NEAR,
            f"{_boxes(geometry, '{p}')} AND {distance_sql(geometry, '{p}')} <= ({{p}}::float8[])[11]",
            f"{plural} within radiusKm of lon,lat (great-circle distance)",
        ),
    )


def distance_order(alias: str, column: str) -> OrderDef:
    """Nearest first (``-distance``: farthest), by the great-circle distance to ``near``'s centre."""
    return OrderDef("distance", distance_sql(f"{alias}.{column}", "{near}"), "float8", needs="near")


__all__ = ["BBOX", "MAX_RADIUS_KM", "NEAR", "circle_halves", "distance_order", "distance_sql", "geo_filters"]
