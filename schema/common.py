"""Shared GraphQL building blocks: scalars, value objects (Quantity, Reference, Place, Revision),
Relay connections and the doc → object mapping every fact type uses."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any, Generic, NewType, TypeVar

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info
from strawberry.utils.str_converters import to_camel_case

from db.errors import BadUserInput, FieldError
from db.facts import SOURCINGS
from db.fields import OUT_OF_RANGE, representable
from db.queries import MAX_PAGE
from schema.links import linked_one

if TYPE_CHECKING:
    from schema.articles import Article


def _parse_date(value: Any) -> str:
    try:
        return dt.date.fromisoformat(str(value)).isoformat()
    except ValueError:
        raise BadUserInput(f"{value!r} is not a date (YYYY-MM-DD)") from None


def _parse_datetime(value: Any) -> str:
    try:
        parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise BadUserInput(f"{value!r} is not an ISO 8601 date-time") from None
    if parsed.tzinfo is None:
        raise BadUserInput(f"{value!r} needs a time zone (e.g. Z)")
    if not representable(parsed):
        raise BadUserInput(f"{value!r} {OUT_OF_RANGE}")
    return parsed.isoformat()


Date = NewType("Date", str)
DateTime = NewType("DateTime", str)

# Documents already carry ISO strings, so serialising is the identity (no per-field datetime work).
SCALARS: dict[object, Any] = {
    Date: strawberry.scalar(
        name="Date", serialize=str, parse_value=_parse_date, description="A calendar day, YYYY-MM-DD."
    ),
    DateTime: strawberry.scalar(
        name="DateTime",
        serialize=str,
        parse_value=_parse_datetime,
        description="An ISO 8601 date-time with time zone.",
    ),
}

T = TypeVar("T")


# Every enum made here, by its values: the generated write inputs (schema/inputs.py) reuse the
# output enums instead of declaring a second enum per value set.
ENUMS: dict[tuple[str, ...], list[Any]] = {}


def make_enum(name: str, values: tuple[str, ...], description: str = "") -> Any:
    """A GraphQL enum whose names are UPPER_SNAKE and whose values are the document strings, so a
    document value serialises without conversion."""
    members = {_upper_snake(v): v for v in values}
    made = strawberry.enum(Enum(name, members), description=description or None)  # type: ignore[call-overload]
    ENUMS.setdefault(tuple(values), []).append(made)
    return made


def _upper_snake(value: str) -> str:
    out = "".join("_" + c if c.isupper() else c for c in value)
    return out.upper()


Sourcing = make_enum(
    "Sourcing",
    SOURCINGS,
    "The state of the articles a fact's references point into: none withdrawn (or no references),"
    " some, or every one retracted, withheld or canceled.",
)
SOURCING_DESCRIPTION = (
    "Derived from the cited articles; changes (with a version and a sourcing_changed event) when one"
    " is withheld, canceled, released or retracted."
)


_PAIRS: dict[type, tuple[tuple[str, str], ...]] = {}


def _pairs(cls: type) -> tuple[tuple[str, str], ...]:
    """(python attribute, document key) for every plain field of a strawberry type."""
    pairs = _PAIRS.get(cls)
    if pairs is None:
        definition = cls.__strawberry_definition__  # type: ignore[attr-defined]
        pairs = tuple(
            (f.python_name, f.graphql_name or to_camel_case(f.python_name))
            for f in definition.fields
            if f.base_resolver is None
        )
        _PAIRS[cls] = pairs
    return pairs


def from_doc(cls: type[T], doc: dict[str, Any], **extra: Any) -> T:
    """An instance of strawberry type ``cls`` whose plain fields are read straight from ``doc``
    (skipping the dataclass __init__: a plain attribute is the cheapest field to resolve)."""
    obj = cls.__new__(cls)
    values = obj.__dict__
    for attr, key in _pairs(cls):
        values[attr] = doc.get(key)
    values["doc"] = doc
    values.update(extra)
    return obj


def from_docs(cls: type[T], docs: list[dict[str, Any]] | None) -> list[T]:
    return [from_doc(cls, d) for d in docs or ()]


Approximation = make_enum(
    "Approximation",
    ("exact", "approximately", "atLeast", "atMost", "range", "unspecified"),
    "How a quantity was stated: exactly, about, at least, at most, a range, or not at all.",
)


@strawberry.type(description="A count that keeps its uncertainty: 'at least 65' is lowerBound 65, atLeast.")
class Quantity:
    amount: float | None
    lower_bound: float | None
    upper_bound: float | None
    approximation: Approximation  # type: ignore[valid-type]
    unit: str | None
    original_text: str | None
    doc: strawberry.Private[dict[str, Any]]


def quantity(value: dict[str, Any] | None) -> Quantity | None:
    return from_doc(Quantity, value) if value else None


@strawberry.type(description="A named place, optionally with GeoJSON geometry.")
class Place:
    name: str | None
    geojson: JSON | None
    doc: strawberry.Private[dict[str, Any]]


def place(value: dict[str, Any] | None) -> Place | None:
    if not value or (value.get("name") is None and value.get("geojson") is None):
        return None
    return from_doc(Place, value)


@strawberry.type(description="One field that differs between a version and the one before it.")
class FieldChange:
    field: str = strawberry.field(description="The document key (camelCase), e.g. status or references.")
    from_: JSON | None = strawberry.field(name="from", description="Its value before (null: absent or null).")
    to: JSON | None = strawberry.field(description="Its value after.")
    doc: strawberry.Private[dict[str, Any]]


DIFF_DESCRIPTION = (
    "What this version changed, field by field, from the version before (empty for the first;"
    " version and updatedAt, which change every time, are left out)."
)


@strawberry.type(description="One version of a fact: who changed it, when, why, and what it became.")
class Revision:
    version: int
    change_kind: str = strawberry.field(
        description="created, updated, corrected, retracted; withheld, canceled, released (articles);"
        " sourcing_changed (claims, deployments, incidents)."
    )
    reason: str | None
    changed_by: str | None
    changed_at: DateTime
    snapshot: JSON
    doc: strawberry.Private[dict[str, Any]]

    @strawberry.field(description=DIFF_DESCRIPTION)
    def diff(self) -> list[FieldChange]:
        return from_docs(FieldChange, self.doc["diff"])


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type(description="A keyset page. `totalCount` costs a count query, so it runs only when selected.")
class Connection(Generic[T]):
    edges: list[Edge[T]]
    nodes: list[T]
    page_info: PageInfo
    counter: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(description="How many items match, across all pages.")
    async def total_count(self) -> int:
        return await self.counter()


def connection(
    nodes: list[Any], cursors: list[str], *, has_next: bool, has_previous: bool, counter: Callable[[], Awaitable[int]]
) -> Connection[Any]:
    edges = [Edge(cursor=c, node=n) for c, n in zip(cursors, nodes, strict=True)]
    info = PageInfo(
        has_next_page=has_next,
        has_previous_page=has_previous,
        start_cursor=cursors[0] if cursors else None,
        end_cursor=cursors[-1] if cursors else None,
    )
    return Connection(edges=edges, nodes=nodes, page_info=info, counter=counter)


def page_size(first: int | None, last: int | None, *, default: int = 20) -> int:
    """The validated page size: ``first`` or ``last`` (not both), 1..100."""
    if first is not None and last is not None:
        raise BadUserInput(
            "pass first or last, not both", errors=[FieldError(("last",), "CONFLICTING_ARGUMENTS", "use first or last")]
        )
    size = first if first is not None else last
    if size is None:
        return default
    if not 1 <= size <= MAX_PAGE:
        name = "first" if first is not None else "last"
        raise BadUserInput(
            f"{name} must be between 1 and {MAX_PAGE}, got {size}",
            errors=[FieldError((name,), "OUT_OF_RANGE", f"must be between 1 and {MAX_PAGE}")],
        )
    return size


def context_of(info: Info[Any, Any]) -> Any:
    return info.context


@strawberry.enum
class OrderDirection(Enum):
    ASC = "asc"
    DESC = "desc"


def filter_dict(value: Any) -> dict[str, Any]:
    """A filter input object as the {camelCaseName: value} mapping db.queries.parse_filters reads."""
    if value is None:
        return {}
    out: dict[str, Any] = {}
    for f in value.__strawberry_definition__.fields:
        v = getattr(value, f.python_name)
        if v is None or v is strawberry.UNSET:
            continue
        if not isinstance(v, Enum) and hasattr(v, "__strawberry_definition__"):
            v = filter_dict(v)  # a filter given as an input object (near: {lon, lat, radiusKm})
        if isinstance(v, list):  # an any-of filter's values (statusIn: [REPORTED, DISPUTED])
            v = [x.value if isinstance(x, Enum) else x for x in v]
        out[f.graphql_name or to_camel_case(f.python_name)] = v.value if isinstance(v, Enum) else v
    return out


@strawberry.type(
    description=(
        "Provenance: the exact span of an article a fact was drawn from. Read-scope keys and anonymous"
        " callers get no reference into a withheld or canceled article (its quote is that article's words)."
    )
)
class Reference:
    char_start: int
    char_end: int
    quote_text: str
    doc: strawberry.Private[dict[str, Any]]

    @strawberry.field(description="The article quoted.")
    def article(self, info: Info[Any, None]) -> Annotated[Article, strawberry.lazy("schema.articles")] | None:
        return linked_one(info, "article", self.doc["article"])  # type: ignore[no-any-return]


def references(values: list[dict[str, Any]] | None) -> list[Reference]:
    return from_docs(Reference, values)
