"""Query parameters of the REST reads, parsed strictly: an unknown or repeated parameter, a bad
value, an unknown filter, sort, expansion or field is a 400 naming each bad parameter."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from starlette.datastructures import QueryParams
from starlette.requests import Request

from api.rest.expand import expandable
from db.analytics import ANY_OF
from db.errors import BadUserInput, FieldError
from db.facts import READ_ONLY, FactType
from db.fields import INVALID, Checks, timestamp
from db.queries import MAX_PAGE, parse_filters
from db.registry import fact_type
from db.search import RELEVANCE

PAGING = frozenset({"limit", "cursor", "sort", "expand", "fields", "format", "asOf"})
ITEM = frozenset({"expand", "fields", "format", "asOf"})
# Filters a client names differently in a query string than the FactType does.
RENAMED = {"q": "query"}
FORMATS = {
    "article": ("json", "ninjs"),
    "claim": ("json", "jsonld"),
    "deployment": ("json", "geojson"),
    "incident": ("json", "geojson"),
}
MEDIA_FORMATS = {
    "application/ninjs+json": "ninjs",
    "application/ld+json": "jsonld",
    "application/x-ndjson": "ndjson",
    "application/geo+json": "geojson",
}


@dataclass
class Common:
    expand: list[str] = field(default_factory=list)
    fields: frozenset[str] | None = None
    format: str = "json"


@dataclass
class ListParams(Common):
    limit: int = 20
    cursor: str | None = None
    order: str = "createdAt"
    descending: bool = False
    filters: dict[str, Any] = field(default_factory=dict)
    as_of: str | None = None


@dataclass
class ItemParams(Common):
    as_of: str | None = None


def refuse_unstorable(request: Request) -> None:
    """Refuse a NUL character in any query or path parameter, naming each: PostgreSQL text cannot
    hold one, and without this check it would reach the database and fail there."""
    raw = request.scope.get("query_string", b"")
    if b"%00" not in raw and b"\x00" not in raw and "\x00" not in request.scope.get("path", ""):
        return  # decoded, no parameter can hold a NUL: the common case, without decoding them
    errors = [
        FieldError(("query", name), "INVALID_VALUE", "must not contain NUL characters")
        for name, value in request.query_params.multi_items()
        if "\x00" in name or "\x00" in value
    ]
    errors += [
        FieldError(("path", name), "INVALID_VALUE", "must not contain NUL characters")
        for name, value in request.path_params.items()
        if isinstance(value, str) and "\x00" in value
    ]
    if errors:
        raise _fail(errors)


def small_int(raw: str, *, low: int, high: int) -> int | None:
    """``raw`` as an integer in [low, high], or None: ASCII digits only (``"²".isdigit()`` is true
    and ``int`` refuses it) and few enough of them that ``int`` never meets its 4,300-digit limit."""
    if not raw.isascii() or not raw.isdigit() or len(raw) > 19:
        return None
    value = int(raw)
    return value if low <= value <= high else None


def filter_params(t: FactType, fixed: frozenset[str] = frozenset()) -> list[str]:
    """The query-string names of ``t``'s filters (``q`` for full text), minus those the path fixes."""
    inverse = {v: k for k, v in RENAMED.items()}
    # A path that fixes a filter (an actor's claims: speaker) fixes its any-of form too.
    return [
        inverse.get(f.name, f.name)
        for f in t.filters
        if f.name not in fixed and not (f.many and f.name.removesuffix(ANY_OF) in fixed)
    ]


def _fail(errors: list[FieldError]) -> BadUserInput:
    names = ", ".join(str(e.path[-1]) for e in errors)
    return BadUserInput(f"invalid query parameters: {names}", errors=errors)


def _values(request: Request, allowed: frozenset[str] | set[str], errors: list[FieldError]) -> dict[str, str]:
    """The query parameters by name; unknown and repeated ones are added to ``errors``."""
    return _named(request.query_params.multi_items(), allowed, errors)


def _named(
    items: Iterable[tuple[str, str]], allowed: frozenset[str] | set[str], errors: list[FieldError]
) -> dict[str, str]:
    values: dict[str, str] = {}
    for name, value in items:
        if name not in allowed:
            hint = ", ".join(sorted(allowed)) or "none"
            errors.append(
                FieldError(("query", name), "UNKNOWN_PARAMETER", f"is not a parameter here (allowed: {hint})")
            )
        elif name in values:
            errors.append(FieldError(("query", name), "REPEATED_PARAMETER", "is given more than once"))
        else:
            values[name] = value
    return values


def _format(accept: str, kind: str, raw: str | None, errors: list[FieldError], *, listing: bool) -> str:
    allowed = [*FORMATS.get(kind, ("json",)), *(("ndjson",) if listing else ())]
    if raw is not None:
        if raw not in allowed:
            errors.append(FieldError(("query", "format"), "INVALID_ENUM", f"must be one of: {', '.join(allowed)}"))
            return "json"
        return raw
    for part in accept.split(","):
        media = part.split(";")[0].strip().lower()
        chosen = MEDIA_FORMATS.get(media)
        if chosen is not None and chosen in allowed:
            return chosen
    return "json"


def _common(accept: str, t: FactType, values: dict[str, str], errors: list[FieldError], *, listing: bool) -> Common:
    common = Common(format=_format(accept, t.kind, values.get("format"), errors, listing=listing))
    if "expand" in values:
        known = expandable(t.kind)
        for name in filter(None, (p.strip() for p in values["expand"].split(","))):
            if name not in known:
                hint = ", ".join(sorted(known)) or "nothing (this kind has no relations)"
                errors.append(
                    FieldError(("query", "expand"), "INVALID_EXPAND", f"{name!r} cannot be expanded; use: {hint}")
                )
            elif name not in common.expand:
                common.expand.append(name)
    if "fields" in values:
        known_fields = t.field_names | READ_ONLY
        chosen = {p.strip() for p in values["fields"].split(",") if p.strip()}
        bad = sorted(chosen - known_fields)
        if bad:
            errors.append(
                FieldError(("query", "fields"), "INVALID_FIELD", f"unknown field(s) {', '.join(bad)} of {t.kind}")
            )
        common.fields = frozenset(chosen | {"id", "object"})
        if common.format in ("jsonld", "ninjs"):
            # Those vocabularies have other keys than the document's fields: trimming them by
            # field name left `{}`, valid in neither.
            errors.append(
                FieldError(
                    ("query", "fields"), "INVALID_FIELD", f"selects fields of the JSON document, not of {common.format}"
                )
            )
    return common


def _accept(request: Request) -> str:
    """The first Accept header, as Starlette's ``headers.get`` reads it, without building Headers."""
    value = next((v for k, v in request.scope["headers"] if k == b"accept"), b"")
    return value.decode("latin-1")


def parse_list(request: Request, t: FactType, fixed: frozenset[str] = frozenset()) -> ListParams:
    """Paging, sort, expansion, fields, format and filters of a list request on ``t``."""
    query: bytes = request.scope.get("query_string", b"")
    found = _parsed_list(t.kind, fixed, query, _accept(request))
    # A copy whose filters the request may change (a sub-collection adds its parent's), built by
    # the constructor: dataclasses.replace cost three times as much. Nothing changes the rest.
    return ListParams(
        found.expand, found.fields, found.format, found.limit, found.cursor, found.order, found.descending,
        dict(found.filters), found.as_of,
    )  # fmt: skip


# Parsed params by everything they depend on (kind, the path's fixed filters, the raw query string,
# Accept), the most recent 1,024 (a refusal raises, and is not kept): clients repeat their reads,
# and parsing strictly was about a twelfth of a page read's CPU.
@lru_cache(maxsize=1024)
def _parsed_list(kind: str, fixed: frozenset[str], query: bytes, accept: str) -> ListParams:
    t = fact_type(kind)
    names = set(filter_params(t, fixed))
    errors: list[FieldError] = []
    values = _named(QueryParams(query).multi_items(), PAGING | names, errors)
    common = _common(accept, t, values, errors, listing=True)
    params = ListParams(expand=common.expand, fields=common.fields, format=common.format)
    if "limit" in values:
        limit = small_int(values["limit"], low=1, high=MAX_PAGE)
        if limit is None:
            errors.append(FieldError(("query", "limit"), "INVALID_LIMIT", f"must be an integer from 1 to {MAX_PAGE}"))
        else:
            params.limit = limit
    if "sort" in values:
        raw = values["sort"].strip()
        name = raw.removeprefix("-")
        if raw == RELEVANCE:
            # Relevance ranks full-text matches, so it needs the text to rank by; it has one
            # direction (most relevant first) and no stored order an export could stream.
            if "q" not in values:
                errors.append(
                    FieldError(
                        ("query", "sort"), "QUERY_REQUIRED", "sort=relevance ranks full-text matches: give q too"
                    )
                )
            params.order = RELEVANCE
        elif t.order(name) is None:
            orders = ", ".join(o.name for o in t.orders)
            errors.append(
                FieldError(
                    ("query", "sort"),
                    "INVALID_SORT",
                    f"must be one of {orders} (optionally prefixed by -), or relevance (with q)",
                )
            )
        else:
            params.order, params.descending = name, raw.startswith("-")
    params.cursor = values.get("cursor")
    params.as_of = _as_of(values, errors)
    params.filters = _filters(t, values, names, errors)
    order = t.order(params.order)
    if order is not None and order.needs is not None and order.needs not in params.filters:
        errors.append(
            FieldError(
                ("query", "sort"), f"{order.needs.upper()}_REQUIRED", f"sort={order.name} needs {order.needs} too"
            )
        )
    if params.format == "ndjson":
        if params.order == RELEVANCE:
            errors.append(
                FieldError(
                    ("query", "sort"), "NOT_FOR_EXPORT", "an NDJSON export streams a stored order, not relevance"
                )
            )
        for name in ("limit", "cursor", "expand"):
            if name in values:
                errors.append(
                    FieldError(("query", name), "NOT_FOR_EXPORT", "an NDJSON export streams the whole listing")
                )
    if errors:
        raise _fail(errors)
    return params


def _filters(t: FactType, values: dict[str, str], names: set[str], errors: list[FieldError]) -> dict[str, Any]:
    """The filters among ``values`` (query-string names), parsed; bad ones are added to ``errors``."""
    raw_filters: dict[str, Any] = {RENAMED.get(k, k): v for k, v in values.items() if k in names}
    for name, value in raw_filters.items():
        f = t.filter(name)
        if f is not None and f.many:  # an any-of filter: comma-separated values
            raw_filters[name] = [part.strip() for part in value.split(",") if part.strip()]
    try:
        return parse_filters(t, raw_filters, location="query")
    except BadUserInput as exc:
        inverse = {v: k for k, v in RENAMED.items()}
        errors.extend(
            FieldError(("query", inverse.get(str(e.path[1]), str(e.path[1])), *e.path[2:]), e.code, e.message)
            for e in exc.errors
        )
        return {}


@dataclass
class SummaryParams:
    """An aggregate read's filters and asOf (as a list's), and its own parameters by name."""

    filters: dict[str, Any]
    as_of: str | None
    own: dict[str, str]


def parse_summary(query: bytes, t: FactType, own: frozenset[str]) -> tuple[SummaryParams, list[FieldError]]:
    """The list filters, ``q`` and ``asOf`` of an aggregate read on ``t`` (``query``: its raw
    query string) plus the values of its ``own`` parameters; what is wrong so far comes back for
    the caller to add to and raise."""
    names = set(filter_params(t))
    errors: list[FieldError] = []
    values = _named(QueryParams(query).multi_items(), own | names | {"asOf"}, errors)
    as_of = _as_of(values, errors)
    filters = _filters(t, values, names, errors)
    return SummaryParams(filters, as_of, {k: v for k, v in values.items() if k in own}), errors


def refuse(errors: list[FieldError]) -> BadUserInput:
    """The 400 of a request's bad query parameters, each named."""
    return _fail(errors)


def _as_of(values: dict[str, str], errors: list[FieldError]) -> str | None:
    if "asOf" not in values:
        return None
    checks = Checks()
    parsed = timestamp()(values["asOf"], ("query", "asOf"), checks)
    errors.extend(checks.errors)
    return None if parsed is INVALID else str(parsed)


def parse_item(request: Request, t: FactType) -> ItemParams:
    query: bytes = request.scope.get("query_string", b"")
    # The kept parameters themselves: an item read changes none of them.
    return _parsed_item(t.kind, query, _accept(request))


@lru_cache(maxsize=1024)  # as _parsed_list
def _parsed_item(kind: str, query: bytes, accept: str) -> ItemParams:
    t = fact_type(kind)
    errors: list[FieldError] = []
    values = _named(QueryParams(query).multi_items(), ITEM, errors)
    common = _common(accept, t, values, errors, listing=False)
    params = ItemParams(expand=common.expand, fields=common.fields, format=common.format)
    params.as_of = _as_of(values, errors)
    if errors:
        raise _fail(errors)
    return params


def parse_none(request: Request) -> None:
    errors: list[FieldError] = []
    _values(request, frozenset(), errors)
    if errors:
        raise _fail(errors)
