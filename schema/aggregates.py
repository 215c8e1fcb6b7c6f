"""The GraphQL side of the analytics reads, generated from each kind's declaration (db/analytics.py):
``<Kind>Facets`` (a field per facet, typed by its values: an enum, a string, an actor), the
``Histogram`` and ``QuantitySum`` types, ``<Kind>Aggregate`` with a field per summed quantity and
its groups. The read planner answers them in the request's one statement (schema/plan/
aggregates.py); the resolvers here run each aggregate's statement themselves, as the reference."""

# Annotations are objects here, not strings (no ``from __future__ import annotations``): resolvers
# are made at run time from the declarations, and strawberry reads their annotations as they are.

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import orjson
import strawberry
from strawberry.types import Info

from db import aggregates
from db.analytics import Facet
from db.lens import Lens
from db.plan.sql import aggregate_statement
from db.registry import fact_type
from schema.common import DateTime, make_enum
from schema.context import Context
from schema.inputs import shared_enum
from schema.links import linked_one

if TYPE_CHECKING:
    from schema.actors import Actor

ActorRef = Annotated["Actor", strawberry.lazy("schema.actors")]

CalendarInterval = make_enum(
    "CalendarInterval",
    aggregates.INTERVALS,
    "A calendar interval in the histogram's time zone (Elasticsearch's calendar_interval): a day of"
    " 23 or 25 hours across a daylight-saving change is one day; weeks start on Monday; HOUR fits"
    " timestamps only.",
)


@dataclass(frozen=True)
class Scope:
    """What a connection's aggregates summarise: its kind's facts that pass its filters (or, for a
    nested connection, its relation to the parent), read through its lens."""

    context: Context
    kind: str
    filters: dict[str, Any]
    lens: Lens
    related: tuple[str, str] | None = None

    async def run(self, what: str, request: Any) -> Any:
        sql, values = aggregate_statement(self.kind, what, request, self.filters, self.lens, related=self.related)
        self.context.touch_list(self.kind)
        async with self.context.connection() as conn:
            text = await conn.fetchval(sql, *values)
        return orjson.loads(text)


# ---- facets ----------------------------------------------------------------------------------

_FACET_TYPES: dict[str, tuple[type, type]] = {}
_COUNTS = "`otherCount`: how many values the cut left out; `missingCount`: how many facts have none."


def facet_type_name(facet: Facet, title: str) -> str:
    """The name of a facet's result type: ``<name>Facet`` (its buckets ``<name>FacetBucket``)."""
    return f"{_bucket_value(facet, title)[0]}Facet"


def _bucket_value(facet: Facet, title: str) -> tuple[str, Any]:
    """The name of a facet's result type and the type of its buckets' value."""
    if facet.relation == "actor":
        return ("IncidentActor" if facet.detail else "Actor"), None
    if facet.values:
        enum = shared_enum(facet.values, title)
        return str(enum.__name__), enum
    return "String", str


def facet_types(facet: Facet, title: str) -> tuple[type, type]:
    """(``<Name>Facet``, ``<Name>FacetBucket``) for a facet's kind of value, made once per name."""
    name, value = _bucket_value(facet, title)
    if name in _FACET_TYPES:
        return _FACET_TYPES[name]
    annotations: dict[str, Any] = {}
    namespace: dict[str, Any] = {"__annotations__": annotations, "__module__": __name__}
    if facet.relation == "actor":

        def related(self: Any, info: Info[Context, None]) -> ActorRef | None:
            return linked_one(info, "actor", self.doc["value"])  # type: ignore[no-any-return]

        namespace["value"] = strawberry.field(
            resolver=related, description="The actor (null when it does not exist as of the read's time)."
        )
        if facet.detail:
            role = shared_enum(facet.detail_values, title)
            annotations[facet.detail] = role
    else:
        annotations["value"] = value
    annotations.update({"count": int, "doc": strawberry.Private[dict[str, Any]]})
    bucket = strawberry.type(
        type(f"{name}FacetBucket", (), namespace), description="One value and how many facts have it."
    )
    result = strawberry.type(
        type(
            f"{name}Facet",
            (),
            {
                "__annotations__": {
                    "buckets": list[bucket],  # type: ignore[valid-type]
                    "other_count": int,
                    "missing_count": int,
                },
                "__module__": __name__,
            },
        ),
        description=f"Counts by value, most frequent first (ties by value). {_COUNTS}",
    )
    _FACET_TYPES[name] = (result, bucket)
    return result, bucket


def _facet_result(doc: dict[str, Any], facet: Facet, result: type, bucket: type) -> Any:
    def one(b: dict[str, Any]) -> Any:
        fields: dict[str, Any] = {"count": b["count"], "doc": b}
        if facet.relation is None:
            fields["value"] = b["value"]
        if facet.detail:
            fields[facet.detail] = b[facet.detail]
        return bucket(**fields)

    return result(
        buckets=[one(b) for b in doc["buckets"]], other_count=doc["otherCount"], missing_count=doc["missingCount"]
    )


def facets_type(kind: str, title: str) -> type | None:
    """``<Title>Facets``: a field per declared facet, each taking ``first`` (1 to 100, default 10)."""
    t = fact_type(kind)
    if not t.analytics.facets:
        return None
    annotations: dict[str, Any] = {"scope": strawberry.Private[Scope], "exclude_own": strawberry.Private[bool]}
    namespace: dict[str, Any] = {"__annotations__": annotations, "__module__": __name__}
    for facet in t.analytics.facets:
        namespace[facet.name] = _facet_field(kind, facet, title)
    return strawberry.type(
        type(f"{title}Facets", (), namespace),
        description=f"Counts of {t.table} by value of each field, over every page of the connection.",
    )


def _facet_field(kind: str, facet: Facet, title: str) -> Any:
    result, bucket = facet_types(facet, title)

    async def resolve(self: Any, info: Info[Context, None], first: int | None = None) -> Any:
        name = facet.name
        request = aggregates.facets_request(
            fact_type(kind), [(name, name, first)], ("first",), exclude_own=self.exclude_own, labels=False
        )
        doc = await self.scope.run("facets", request)
        return _facet_result(doc[name], facet, result, bucket)

    resolve.__annotations__["return"] = result
    own = ", ".join(facet.selected_by)
    return strawberry.field(
        resolver=resolve,
        name=facet.name,
        description=f"By {facet.name} (its filter: {own}); `first` buckets, 1 to 100 (default {aggregates.DEFAULT_FACET_SIZE}).",
    )


# ---- histograms ------------------------------------------------------------------------------


@strawberry.type(description="One calendar interval: [start, end) in the histogram's time zone, with its offset then.")
class HistogramBucket:
    start: DateTime
    end: DateTime
    count: int


@strawberry.type(
    description="Facts by calendar interval, in order, zero-filled from the first to the last bucket (or over"
    " from/to). A fact dated less precisely than the interval (a month, in a day histogram) is in no bucket:"
    " it counts in `imprecise`; one without the date in `missingCount`."
)
class Histogram:
    buckets: list[HistogramBucket]
    imprecise: int
    missing_count: int


def histogram_from(doc: dict[str, Any]) -> Histogram:
    buckets = [HistogramBucket(start=b["start"], end=b["end"], count=b["count"]) for b in doc["buckets"]]
    return Histogram(buckets=buckets, imprecise=doc["imprecise"], missing_count=doc["missingCount"])


def date_field_enum(kind: str, title: str) -> Any:
    """``<Title>DateField``: the dates a kind's histogram buckets by (createdAt for every kind)."""
    names = tuple(d.name for d in fact_type(kind).analytics.histogram_fields)
    return make_enum(f"{title}DateField", names, f"The dates {fact_type(kind).table} can be bucketed by.")


async def histogram(
    scope: Scope,
    on: Enum,
    interval: Enum,
    time_zone: str,
    start: str | None,
    end: str | None,
) -> Histogram:
    paths: dict[str, tuple[str | int, ...]] = {n: (n,) for n in ("on", "interval", "timeZone", "from", "to")}
    request = aggregates.histogram_request(
        fact_type(scope.kind), str(on.value), str(interval.value), time_zone, start, end, paths
    )
    return histogram_from(await scope.run("histogram", request))


# ---- bounded sums ----------------------------------------------------------------------------


@strawberry.type(
    description="The sum of quantities of one unit, by interval arithmetic over each one's bounds: `low` and"
    " `high` bound the total, `best` is the sum of the stated amounts (a lower bound when nothing better is"
    " said). `high` is null when any counted quantity has no upper bound (`openUpper` says how many);"
    " `unknown` quantities (unspecified, or none given) add 0 and leave `high` open; `approximate` is true when"
    ' any counted quantity is approximate (the total reads "≈ 10,000").'
)
class QuantitySum:
    unit: str | None
    count: int
    low: float
    best: float
    high: float | None
    open_upper: int
    unknown: int
    approximate: bool


def quantity_sums(docs: list[dict[str, Any]]) -> list[QuantitySum]:
    return [
        QuantitySum(
            unit=d["unit"],
            count=d["count"],
            low=d["low"],
            best=d["best"],
            high=d["high"],
            open_upper=d["openUpper"],
            unknown=d["unknown"],
            approximate=d["approximate"],
        )
        for d in docs
    ]


@dataclass(frozen=True)
class AggregateTypes:
    """``<Title>Aggregate``, the ``<Title>GroupBy`` enum, and how a sums document becomes the type."""

    type: type
    group_by: Any
    build: Callable[[dict[str, Any]], Any]


def aggregate_types(kind: str, title: str) -> AggregateTypes | None:
    """``<Title>Aggregate`` (with ``<Title>AggregateGroup``) and ``<Title>GroupBy``, or None for a
    kind with nothing to sum."""
    t = fact_type(kind)
    if not t.analytics.sums:
        return None
    group_by = make_enum(
        f"{title}GroupBy", tuple(g.name for g in t.analytics.groups), f"What {t.table}' sums group by."
    )

    def sums_namespace(annotations: dict[str, Any]) -> dict[str, Any]:
        annotations["total_count"] = int
        namespace: dict[str, Any] = {"__annotations__": annotations, "__module__": __name__}
        namespace["total_count"] = strawberry.field(description=f"How many {t.table}.")
        for s in t.analytics.sums:
            annotations[s.name] = list[QuantitySum]
            namespace[s.name] = strawberry.field(
                name=s.name, description=f"Sums of {s.description or s.name}, one per unit, the most counted first."
            )
        return namespace

    group = strawberry.type(
        type(f"{title}AggregateGroup", (), sums_namespace({"key": str | None})),
        description="The sums of one group (its key is the grouped field's value).",
    )
    whole = sums_namespace({})
    whole["__annotations__"]["groups"] = list[group]  # type: ignore[valid-type]
    whole["groups"] = strawberry.field(
        description=f"With groupBy: the sums of each group, the largest first (at most {aggregates.MAX_GROUPS})."
    )
    aggregate = strawberry.type(
        type(f"{title}Aggregate", (), whole),
        description=f"Bounded sums over every {kind} of the connection (all pages).",
    )

    def sums(doc: dict[str, Any]) -> dict[str, Any]:
        return {s.name: quantity_sums(doc[s.name]) for s in t.analytics.sums}

    def build(doc: dict[str, Any]) -> Any:
        groups = [group(key=g["key"], total_count=g["totalCount"], **sums(g)) for g in doc["groups"]]
        return aggregate(total_count=doc["totalCount"], groups=groups, **sums(doc))

    return AggregateTypes(aggregate, group_by, build)


__all__ = ["CalendarInterval", "Histogram", "QuantitySum", "Scope", "facets_type", "histogram", "quantity_sums"]
