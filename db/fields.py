"""Declarative input validation for writes. A FactType lists its Fields; each Field validates one
camelCase input value into column values and reports every problem as a FieldError with a path.
Validation never stops at the first error: a caller learns everything wrong with a record at once.

References to other facts and provenance quotes need the database; fields only *collect* them
(``Checks``) and the write service verifies them in one query per batch (db/writes.py)."""

from __future__ import annotations

import datetime as dt
import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ParamSpec

import orjson

from db.errors import FieldError
from db.geojson import problem as geojson_problem
from db.ids import ID_CHARACTERS, is_id, new_id

Path = tuple[str | int, ...]

MAX_TEXT = 5_000
MAX_BODY = 500_000
MAX_LIST = 100
MAX_GEOJSON_BYTES = 100_000
MAX_UTC_OFFSET = dt.timedelta(hours=15, minutes=59)


@dataclass
class RefCheck:
    """An id that must name an existing fact of ``kind``."""

    kind: str
    id: str
    path: Path


@dataclass
class QuoteCheck:
    """A provenance reference whose quoteText must equal the article body between the offsets, or,
    without offsets, must be found in the body (its ``occurrence``-th match). ``article`` may be a
    uri until the write service resolves it. ``ref`` is the validated reference itself, which the
    write service completes (article id, offsets) once it has read the article."""

    article: str
    char_start: int | None
    char_end: int | None
    quote_text: str
    path: Path
    occurrence: int | None = None
    ref: dict[str, Any] = field(default_factory=dict)


@dataclass
class Checks:
    """What one record asks of the database, gathered while validating it."""

    errors: list[FieldError] = field(default_factory=list)
    refs: list[RefCheck] = field(default_factory=list)
    quotes: list[QuoteCheck] = field(default_factory=list)

    def fail(self, path: Path, code: str, message: str) -> None:
        self.errors.append(FieldError(path, code, message))


Validator = Callable[[Any, Path, Checks], Any]


@dataclass(frozen=True)
class Shape:
    """What a validator accepts, described for the contracts generated from the declarations (the
    GraphQL input types in schema/inputs.py, the request schemas the OpenAPI test compares with)."""

    type: str  # string, integer, number, date, datetime, enum, ref, list, object, geojson, json
    values: tuple[str, ...] = ()  # enum
    kind: str = ""  # ref: the kind of fact named
    item: Shape | None = None  # list
    fields: tuple[Field, ...] = ()  # object
    name: str = ""  # object: its type name (Quantity, Reference, …)
    pattern: str = ""
    max_length: int | None = None
    minimum: int | None = None
    maximum: int | None = None
    max_items: int | None = None
    description: str = ""


def shape_of(validator: Validator) -> Shape:
    """The shape a validator was declared with (plain JSON for a hand-written one)."""
    shape = getattr(validator, "shape", None)
    return shape if isinstance(shape, Shape) else Shape("json")


def with_shape(validator: Validator, shape: Shape) -> Validator:
    """``validator``, described by ``shape``."""
    setattr(validator, "shape", shape)  # noqa: B010 - a function attribute mypy cannot see otherwise
    return validator


P = ParamSpec("P")


def shaped(describe: Callable[P, Shape]) -> Callable[[Callable[P, Validator]], Callable[P, Validator]]:
    """Gives every validator a factory makes the shape ``describe`` computes from the same arguments."""

    def wrap(factory: Callable[P, Validator]) -> Callable[P, Validator]:
        @functools.wraps(factory)
        def make(*args: P.args, **kwargs: P.kwargs) -> Validator:
            return with_shape(factory(*args, **kwargs), describe(*args, **kwargs))

        return make

    return wrap


class _Invalid:
    """Marker for a value that failed validation (the error is already recorded)."""


INVALID: Any = _Invalid()


@shaped(lambda *, max_len=MAX_TEXT, min_len=1: Shape("string", max_length=max_len))
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


@shaped(lambda *, max_len: Shape("string", max_length=max_len))
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


@shaped(lambda *values: Shape("enum", values=values))
def enum(*values: str) -> Validator:
    allowed = frozenset(values)

    def check(value: Any, path: Path, checks: Checks) -> Any:
        # The JSON type first: a list or object is unhashable, so ``in allowed`` would raise.
        if not isinstance(value, str) or value not in allowed:
            checks.fail(path, "INVALID_ENUM", f"must be one of: {', '.join(values)}")
            return INVALID
        return value

    return check


@shaped(lambda regex, description, *, max_len=200: Shape("string", pattern=regex, max_length=max_len))
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


@shaped(lambda: Shape("date"))
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


OUT_OF_RANGE = "is outside 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z"


def representable(moment: dt.datetime) -> bool:
    """Whether an aware ``moment`` falls within years 1 to 9999 in UTC. PostgreSQL's range is wider,
    but times reach it as Python datetimes (asyncpg binds them in UTC): 9999-12-31T23:59:59-14:00
    is a valid ISO 8601 time that no datetime can hold in UTC, and failed as a database error."""
    try:
        moment.astimezone(dt.UTC)
    except OverflowError:
        return False
    return True


@shaped(lambda: Shape("datetime"))
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
                if offset is not None and abs(offset) > MAX_UTC_OFFSET:
                    # Python takes offsets up to ±23:59; PostgreSQL (and RFC 3339 practice) stop at ±15:59.
                    checks.fail(path, "INVALID_DATETIME", "has a UTC offset beyond ±15:59")
                    return INVALID
                if not representable(parsed):
                    checks.fail(path, "INVALID_DATETIME", OUT_OF_RANGE)
                    return INVALID
                return parsed.isoformat()
        checks.fail(path, "INVALID_DATETIME", "must be an ISO 8601 date-time with offset")
        return INVALID

    return check


@shaped(lambda kind: Shape("ref", kind=kind))
def ref(kind: str) -> Validator:
    """An id of an existing ``kind``; existence is checked later, in one query per batch."""

    def check(value: Any, path: Path, checks: Checks) -> Any:
        if not is_id(value, kind):
            checks.fail(path, "INVALID_ID", f"must be the id of a {kind}")
            return INVALID
        checks.refs.append(RefCheck(kind, value, path))
        return value

    return check


@shaped(lambda item, *, max_items=MAX_LIST, unique=False: Shape("list", item=shape_of(item), max_items=max_items))
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


@shaped(lambda *, minimum=0, maximum=2**31 - 1: Shape("integer", minimum=minimum, maximum=maximum))
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


@shaped(lambda: Shape("number"))
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


@shaped(lambda: Shape("geojson"))
def geojson() -> Validator:
    """RFC 7946: a geometry, Feature or FeatureCollection, checked by structure (db/geojson.py)."""

    def check(value: Any, path: Path, checks: Checks) -> Any:
        found = geojson_problem(value)
        if found is not None:
            checks.fail(path, "INVALID_GEOJSON", found)
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


@shaped(lambda fields, name="": Shape("object", fields=fields, name=name))
def obj(fields: tuple[Field, ...], name: str = "") -> Validator:
    """A nested object validated field by field; unknown keys are errors, not silently dropped.
    ``name`` names its type in the generated contracts (Role, IncidentActor, …)."""
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


QUANTITY_FIELDS = (
    Field("amount", number()),
    Field("lowerBound", number()),
    Field("upperBound", number()),
    Field("approximation", enum(*APPROXIMATIONS), required=True),
    Field("unit", text(max_len=100)),
    Field("originalText", text(max_len=500)),
)


@shaped(lambda: Shape("object", fields=QUANTITY_FIELDS, name="Quantity"))
def quantity() -> Validator:
    """``amount`` / ``lowerBound`` / ``upperBound`` with an ``approximation`` that must agree with them:
    "at least 65" is lowerBound 65 and no upper bound; "around 10,000" is amount 10000, approximately."""
    base = obj(QUANTITY_FIELDS)

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


@shaped(lambda: Shape("ref", kind="article", description="the article's id (art_…) or its uri"))
def article_ref() -> Validator:
    """An article named by id, or by uri (resolved to its id by the write service, which reads the
    article anyway to check the quote). Existence of an id is checked with the other refs."""
    by_id = ref("article")
    uri = text(max_len=2000)

    def check(value: Any, path: Path, checks: Checks) -> Any:
        if isinstance(value, str) and value.startswith("art_"):
            return by_id(value, path, checks)
        return uri(value, path, checks)

    return check


REFERENCE_FIELDS = (
    Field("article", article_ref(), required=True),
    Field("charStart", integer(maximum=MAX_BODY)),
    Field("charEnd", integer(maximum=MAX_BODY)),
    Field("quoteText", raw_text(max_len=MAX_TEXT), required=True),
    Field("occurrence", integer(minimum=1, maximum=MAX_BODY)),
)


# Built once: a validator per reference would cost more than the checks it makes.
_REFERENCE_OBJECT = obj(REFERENCE_FIELDS)


def _reference(value: Any, path: Path, checks: Checks) -> Any:
    r = _REFERENCE_OBJECT(value, path, checks)
    if r is INVALID:
        return INVALID
    # occurrence only picks among matches; what is stored is the span it picked.
    occurrence = r.pop("occurrence")
    start, end = r["charStart"], r["charEnd"]
    if start is None and end is None:
        if not r["quoteText"]:
            checks.fail((*path, "quoteText"), "REQUIRED", "must not be empty")
            return INVALID
    elif start is None or end is None:
        missing = "charStart" if start is None else "charEnd"
        checks.fail((*path, missing), "REQUIRED", "give charStart and charEnd together, or neither")
        return INVALID
    elif occurrence is not None:
        checks.fail((*path, "occurrence"), "INVALID_VALUE", "applies only to a quote given without offsets")
        return INVALID
    elif end <= start:
        checks.fail((*path, "charEnd"), "INVALID_RANGE", "must be greater than charStart")
        return INVALID
    elif end - start != len(r["quoteText"]):
        checks.fail((*path, "quoteText"), "QUOTE_MISMATCH", "length differs from charEnd - charStart")
        return INVALID
    checks.quotes.append(QuoteCheck(r["article"], start, end, r["quoteText"], path, occurrence, r))
    return r


@shaped(
    lambda *, max_items=50: Shape(
        "list", item=Shape("object", fields=REFERENCE_FIELDS, name="Reference"), max_items=max_items
    )
)
def references(*, max_items: int = 50) -> Validator:
    """Provenance: each reference quotes the article body between two code-point offsets, or gives
    only the quote (and, when it occurs more than once, which ``occurrence``) for the write service
    to find; either way the offsets are stored."""
    return list_of(_reference, max_items=max_items)


def _with_ids_shape(kind: str, item_fields: tuple[Field, ...], *, max_items: int = MAX_LIST) -> Shape:
    id_field = Field("id", ref(kind))
    item = Shape("object", fields=(id_field, *item_fields), name=kind.capitalize())
    return Shape("list", item=item, max_items=max_items)


@shaped(_with_ids_shape)
def with_ids(kind: str, item_fields: tuple[Field, ...], *, max_items: int = MAX_LIST) -> Validator:
    """A list of nested objects that each keep a stable id (assets): given ids are kept, new ones minted."""
    id_field = Field("id", pattern_text(rf"[a-z]{{3}}_{ID_CHARACTERS}", f"an id of a {kind}"))
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


PLACE_FIELDS = (Field("name", text(max_len=300)), Field("geojson", geojson()))


def place() -> Validator:
    """A named place with optional GeoJSON (a deployment's region, an incident's location)."""
    return obj(PLACE_FIELDS, name="Place")


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
