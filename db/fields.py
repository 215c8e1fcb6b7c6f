"""Declarative input validation for writes. A FactType lists its Fields; each Field validates one
camelCase input value into column values and reports every problem as a FieldError with a path.
Validation never stops at the first error: a caller learns everything wrong with a record at once.

References to other facts and provenance quotes need the database; fields only *collect* them
(``Checks``) and the write service verifies them in one query per batch (db/writes.py)."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from db.errors import FieldError
from db.ids import is_id, new_id

Path = tuple[str | int, ...]

MAX_TEXT = 5_000
MAX_BODY = 500_000
MAX_LIST = 100
MAX_GEOJSON_BYTES = 100_000


@dataclass
class RefCheck:
    """An id that must name an existing fact of ``kind``."""

    kind: str
    id: str
    path: Path


@dataclass
class QuoteCheck:
    """A provenance reference whose quoteText must equal the article body between the offsets."""

    article: str
    char_start: int
    char_end: int
    quote_text: str
    path: Path


@dataclass
class Checks:
    """What one record asks of the database, gathered while validating it."""

    errors: list[FieldError] = field(default_factory=list)
    refs: list[RefCheck] = field(default_factory=list)
    quotes: list[QuoteCheck] = field(default_factory=list)

    def fail(self, path: Path, code: str, message: str) -> None:
        self.errors.append(FieldError(path, code, message))


Validator = Callable[[Any, Path, Checks], Any]


class _Invalid:
    """Marker for a value that failed validation (the error is already recorded)."""


INVALID: Any = _Invalid()


def text(*, max_len: int = MAX_TEXT, min_len: int = 1) -> Validator:
    """Text with surrounding white space removed, at least ``min_len`` characters long."""
    bounded = raw_text(max_len=max_len)

    def check(value: Any, path: Path, checks: Checks) -> Any:
        if isinstance(value, str):
            value = value.strip()
            if len(value) < min_len:
                checks.fail(path, "REQUIRED", "must not be empty")
                return INVALID
        return bounded(value, path, checks)

    return check


def raw_text(*, max_len: int) -> Validator:
    """Text kept byte-for-byte (article bodies: reference offsets index into it, so no stripping)."""

    def check(value: Any, path: Path, checks: Checks) -> Any:
        if not isinstance(value, str):
            checks.fail(path, "INVALID_TYPE", "must be a string")
            return INVALID
        if len(value) > max_len:
            checks.fail(path, "TOO_LONG", f"must be at most {max_len} characters (got {len(value)})")
            return INVALID
        if "\x00" in value:
            checks.fail(path, "INVALID_VALUE", "must not contain NUL characters")
            return INVALID
        return value

    return check


def enum(*values: str) -> Validator:
    allowed = frozenset(values)

    def check(value: Any, path: Path, checks: Checks) -> Any:
        if value not in allowed:
            checks.fail(path, "INVALID_ENUM", f"must be one of: {', '.join(values)}")
            return INVALID
        return value

    return check


def pattern_text(regex: str, description: str, *, max_len: int = 200) -> Validator:
    import re

    compiled = re.compile(regex)
    base = text(max_len=max_len)

    def check(value: Any, path: Path, checks: Checks) -> Any:
        value = base(value, path, checks)
        if value is INVALID:
            return INVALID
        if not compiled.fullmatch(value):
            checks.fail(path, "INVALID_FORMAT", f"must be {description}")
            return INVALID
        return value

    return check


def date() -> Validator:
    def check(value: Any, path: Path, checks: Checks) -> Any:
        if isinstance(value, str):
            try:
                return dt.date.fromisoformat(value).isoformat()
            except ValueError:
                pass
        checks.fail(path, "INVALID_DATE", "must be a date as YYYY-MM-DD")
        return INVALID

    return check


def timestamp() -> Validator:
    def check(value: Any, path: Path, checks: Checks) -> Any:
        if isinstance(value, str):
            try:
                parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                parsed = None
            if parsed is not None:
                if parsed.tzinfo is None:
                    checks.fail(path, "INVALID_DATETIME", "must include a UTC offset, e.g. 2025-10-01T12:00:00Z")
                    return INVALID
                offset = parsed.utcoffset()
                if offset is None or abs(offset) < dt.timedelta(hours=16):
                    return parsed.isoformat()
                # PostgreSQL refuses offsets past ±15:59 that Python accepts (up to ±23:59): say it in UTC.
                try:
                    return parsed.astimezone(dt.UTC).isoformat()
                except OverflowError:
                    parsed = None
        checks.fail(path, "INVALID_DATETIME", "must be an ISO 8601 date-time with offset")
        return INVALID

    return check


def ref(kind: str) -> Validator:
    """An id of an existing ``kind``; existence is checked later, in one query per batch."""

    def check(value: Any, path: Path, checks: Checks) -> Any:
        if not is_id(value, kind):
            checks.fail(path, "INVALID_ID", f"must be the id of a {kind}")
            return INVALID
        checks.refs.append(RefCheck(kind, value, path))
        return value

    return check


def list_of(item: Validator, *, max_items: int = MAX_LIST, unique: bool = False) -> Validator:
    def check(value: Any, path: Path, checks: Checks) -> Any:
        if not isinstance(value, list):
            checks.fail(path, "INVALID_TYPE", "must be a list")
            return INVALID
        if len(value) > max_items:
            checks.fail(path, "TOO_MANY", f"must have at most {max_items} items (got {len(value)})")
            return INVALID
        out = [item(v, (*path, i), checks) for i, v in enumerate(value)]
        if any(v is INVALID for v in out):
            return INVALID
        if unique:
            seen: list[Any] = []
            for v in out:
                if v not in seen:
                    seen.append(v)
            out = seen
        return out

    return check


def integer(*, minimum: int = 0, maximum: int = 2**31 - 1) -> Validator:
    def check(value: Any, path: Path, checks: Checks) -> Any:
        if isinstance(value, bool) or not isinstance(value, int):
            checks.fail(path, "INVALID_TYPE", "must be an integer")
            return INVALID
        if not minimum <= value <= maximum:
            checks.fail(path, "OUT_OF_RANGE", f"must be between {minimum} and {maximum}")
            return INVALID
        return value

    return check


def number() -> Validator:
    def check(value: Any, path: Path, checks: Checks) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            checks.fail(path, "INVALID_TYPE", "must be a finite number")
            return INVALID
        if abs(value) > 1e15:
            checks.fail(path, "OUT_OF_RANGE", "must be at most 1e15 in magnitude")
            return INVALID
        return value

    return check


def geojson() -> Validator:
    geometry_types = {
        "Point",
        "MultiPoint",
        "LineString",
        "MultiLineString",
        "Polygon",
        "MultiPolygon",
        "GeometryCollection",
        "Feature",
        "FeatureCollection",
    }

    def check(value: Any, path: Path, checks: Checks) -> Any:
        if not isinstance(value, dict) or value.get("type") not in geometry_types:
            checks.fail(path, "INVALID_GEOJSON", "must be a GeoJSON object with a geometry or feature type")
            return INVALID
        try:
            size = len(orjson.dumps(value))
        except (TypeError, orjson.JSONEncodeError):
            checks.fail(path, "INVALID_GEOJSON", "must be plain JSON")
            return INVALID
        if size > MAX_GEOJSON_BYTES:
            checks.fail(path, "TOO_LONG", f"must be at most {MAX_GEOJSON_BYTES} bytes of JSON")
            return INVALID
        return value

    return check


@dataclass(frozen=True)
class Field:
    """One input field: its camelCase name, how to validate it, and where it is stored.

    ``store`` maps the validated value to columns; by default the value goes to ``column``."""

    name: str
    validate: Validator
    column: str | None = None
    required: bool = False
    default: Any = None
    store: Callable[[Any], dict[str, Any]] | None = None

    def columns(self, value: Any) -> dict[str, Any]:
        if self.store is not None:
            return self.store(value)
        return {self.column or self.name: value}


def obj(fields: tuple[Field, ...]) -> Validator:
    """A nested object validated field by field; unknown keys are errors, not silently dropped."""
    known = {f.name for f in fields}

    def check(value: Any, path: Path, checks: Checks) -> Any:
        if not isinstance(value, dict):
            checks.fail(path, "INVALID_TYPE", "must be an object")
            return INVALID
        out: dict[str, Any] = {}
        for key in value:
            if key not in known:
                checks.fail((*path, key), "UNKNOWN_FIELD", "is not a field of this object")
        failed = False
        for f in fields:
            raw = value.get(f.name)
            if raw is None:
                if f.required:
                    checks.fail((*path, f.name), "REQUIRED", "is required")
                    failed = True
                out[f.name] = f.default() if callable(f.default) else f.default
                continue
            result = f.validate(raw, (*path, f.name), checks)
            failed |= result is INVALID
            out[f.name] = result
        return INVALID if failed else out

    return check


# ---- value objects shared by several facts -------------------------------------------------

APPROXIMATIONS = ("exact", "approximately", "atLeast", "atMost", "range", "unspecified")


def quantity() -> Validator:
    """``amount`` / ``lowerBound`` / ``upperBound`` with an ``approximation`` that must agree with them:
    "at least 65" is lowerBound 65 and no upper bound; "around 10,000" is amount 10000, approximately."""
    base = obj(
        (
            Field("amount", number()),
            Field("lowerBound", number()),
            Field("upperBound", number()),
            Field("approximation", enum(*APPROXIMATIONS), required=True),
            Field("unit", text(max_len=100)),
            Field("originalText", text(max_len=500)),
        )
    )

    def check(value: Any, path: Path, checks: Checks) -> Any:
        q = base(value, path, checks)
        if q is INVALID:
            return INVALID
        kind, amount, low, high = q["approximation"], q["amount"], q["lowerBound"], q["upperBound"]
        problem = None
        if kind in ("exact", "approximately") and amount is None:
            problem = f"{kind} needs an amount"
        elif kind == "atLeast" and (low is None or high is not None):
            problem = "atLeast needs a lowerBound and no upperBound"
        elif kind == "atMost" and (high is None or low is not None):
            problem = "atMost needs an upperBound and no lowerBound"
        elif kind == "range" and (low is None or high is None or low > high):
            problem = "range needs lowerBound <= upperBound"
        elif kind == "unspecified" and (amount is not None or low is not None or high is not None):
            problem = "unspecified takes no amount or bounds"
        if problem:
            checks.fail((*path, "approximation"), "INCONSISTENT_QUANTITY", problem)
            return INVALID
        return q

    return check


def references(*, max_items: int = 50) -> Validator:
    """Provenance: each reference quotes the article body between two code-point offsets."""
    base = obj(
        (
            Field("article", ref("article"), required=True),
            Field("charStart", integer(maximum=MAX_BODY), required=True),
            Field("charEnd", integer(maximum=MAX_BODY), required=True),
            Field("quoteText", raw_text(max_len=MAX_TEXT), required=True),
        )
    )

    def item(value: Any, path: Path, checks: Checks) -> Any:
        r = base(value, path, checks)
        if r is INVALID:
            return INVALID
        if r["charEnd"] <= r["charStart"]:
            checks.fail((*path, "charEnd"), "INVALID_RANGE", "must be greater than charStart")
            return INVALID
        if r["charEnd"] - r["charStart"] != len(r["quoteText"]):
            checks.fail((*path, "quoteText"), "QUOTE_MISMATCH", "length differs from charEnd - charStart")
            return INVALID
        checks.quotes.append(QuoteCheck(r["article"], r["charStart"], r["charEnd"], r["quoteText"], path))
        return r

    return list_of(item, max_items=max_items)


def with_ids(kind: str, item_fields: tuple[Field, ...], *, max_items: int = MAX_LIST) -> Validator:
    """A list of nested objects that each keep a stable id (assets): given ids are kept, new ones minted."""
    id_field = Field("id", pattern_text(r"[a-z]{3}_[0-9A-HJKMNP-TV-Z]{26}", f"an id of a {kind}"))
    item = obj((id_field, *item_fields))

    def with_id(value: Any, path: Path, checks: Checks) -> Any:
        out = item(value, path, checks)
        if out is INVALID:
            return INVALID
        if out["id"] is None:
            out["id"] = new_id(kind)
        elif not is_id(out["id"], kind):
            checks.fail((*path, "id"), "INVALID_ID", f"must be the id of a {kind}")
            return INVALID
        return out

    return list_of(with_id, max_items=max_items)


def place() -> Validator:
    """A named place with optional GeoJSON (a deployment's region, an incident's location)."""
    return obj((Field("name", text(max_len=300)), Field("geojson", geojson())))


def place_columns(prefix: str) -> Callable[[Any], dict[str, Any]]:
    """Stores a place in ``<prefix>_name`` and ``<prefix>_geojson``."""

    def store(value: dict[str, Any] | None) -> dict[str, Any]:
        value = value or {}
        return {f"{prefix}_name": value.get("name"), f"{prefix}_geojson": value.get("geojson")}

    return store


def article_ids_of(refs: list[dict[str, Any]] | None) -> list[str]:
    """The distinct articles a list of references cites, in first-cited order."""
    seen: dict[str, None] = {}
    for r in refs or []:
        seen.setdefault(r["article"], None)
    return list(seen)
