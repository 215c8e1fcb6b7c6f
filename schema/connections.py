"""Each fact kind's connection type, made from its declaration: ``<Kind>Connection`` is the Relay
connection (edges, nodes, pageInfo, totalCount) plus the aggregates of every fact it lists —
``facets``, ``histogram`` and, for kinds with quantities, ``aggregate`` — and a kind on a map has
``<Kind>Edge.distanceKm``. Root lists and nested connections of a kind share the one type."""

# Annotations are objects here, not strings (no ``from __future__ import annotations``): resolvers
# are made at run time from the declarations, and strawberry reads their annotations as they are.

import types
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from db.kinds import BY_NAME
from db.registry import fact_type
from schema.aggregates import (
    CalendarInterval,
    Histogram,
    Scope,
    aggregate_types,
    date_field_enum,
    facets_type,
    histogram,
)
from schema.common import Connection, DateTime, Edge, PageInfo

_TYPES: dict[str, tuple[type, type]] = {}


def kind_connection(kind: str, node: type) -> type:
    """``<Title>Connection`` over ``node``, the kind's GraphQL type (and ``<Title>Edge``)."""
    k, t = BY_NAME[kind], fact_type(kind)
    annotations: dict[str, Any] = {"scope": strawberry.Private[Scope]}
    namespace: dict[str, Any] = {"__annotations__": annotations, "__module__": __name__}
    generic: Any = Edge
    edge: Any = generic[node]
    if t.analytics.geometry is not None:
        edge = _edge(k.title, node)
        annotations["edges"] = list[edge]

    facets = facets_type(kind, k.title)
    if facets is not None:

        def resolve_facets(self: Any, exclude_own_filter: bool = False) -> Any:
            return facets(scope=self.scope, exclude_own=exclude_own_filter)

        resolve_facets.__annotations__["return"] = facets
        namespace["facets"] = strawberry.field(
            resolver=resolve_facets,
            description="Counts by value of each field over every page (the same filters, asOf and recall rules);"
            " with excludeOwnFilter, each facet is counted without the filters that select by it, as a"
            " multi-select filter list needs.",
        )

    dates = date_field_enum(kind, k.title)
    first_date = next(iter(dates))

    async def resolve_histogram(
        self: Any,
        on: dates = first_date,  # type: ignore[valid-type]
        interval: CalendarInterval = CalendarInterval.MONTH,  # type: ignore[valid-type]
        time_zone: str = "UTC",
        from_: Annotated[DateTime | None, strawberry.argument(name="from")] = None,
        to: DateTime | None = None,
    ) -> Histogram:
        return await histogram(self.scope, on, interval, time_zone, from_, to)

    namespace["histogram"] = strawberry.field(
        resolver=resolve_histogram,
        description="Facts by calendar interval of a date in an IANA time zone (from inclusive, to exclusive); at"
        " most 1,000 buckets.",
    )

    sums = aggregate_types(kind, k.title)
    if sums is not None:

        async def resolve_aggregate(self: Any, group_by: sums.group_by | None = None) -> Any:  # type: ignore[name-defined]
            request = _sums_request(kind, group_by)
            return sums.build(await self.scope.run("sums", request))

        resolve_aggregate.__annotations__["return"] = sums.type
        namespace["aggregate"] = strawberry.field(
            resolver=resolve_aggregate,
            description="Bounded sums of the quantities of every fact listed, per unit (see QuantitySum); with"
            " groupBy, also per group.",
        )

    cls = types.new_class(f"{k.title}Connection", (Connection[node],), exec_body=lambda ns: ns.update(namespace))  # type: ignore[valid-type]
    made = strawberry.type(
        cls,
        name=f"{k.title}Connection",
        description=f"A keyset page of {t.table}, and aggregates of all of them. `totalCount` and the aggregates"
        " cost a statement of their own, so they run only when selected.",
    )
    _TYPES[kind] = (made, edge)
    return made


def _edge(title: str, node: type) -> type:
    namespace: dict[str, Any] = {
        "__annotations__": {"cursor": str, "node": node, "distance_km": float | None},
        "__module__": __name__,
        "distance_km": strawberry.field(
            description="Great-circle distance in km from the near filter's centre (null without near)."
        ),
    }
    return strawberry.type(type(f"{title}Edge", (), namespace))


def _sums_request(kind: str, group_by: Any) -> Any:
    from db import aggregates

    t = fact_type(kind)
    paths: dict[str, tuple[str | int, ...]] = {"sum": ("aggregate",), "groupBy": ("groupBy",)}
    grouped = None if group_by is None else str(group_by.value)
    return aggregates.sums_request(t, [(s.name, s.name) for s in t.analytics.sums], grouped, paths, flat=True)


def page(
    kind: str,
    nodes: list[Any],
    cursors: list[str],
    *,
    has_next: bool,
    has_previous: bool,
    counter: Any,
    scope: Scope,
    distances: list[float | None] | None = None,
) -> Any:
    """One page of ``kind`` as its connection type."""
    cls, edge = _TYPES[kind]
    if fact_type(kind).analytics.geometry is not None:
        near = distances or [None] * len(nodes)
        edges = [edge(cursor=c, node=n, distance_km=d) for c, n, d in zip(cursors, nodes, near, strict=True)]
    else:
        edges = [edge(cursor=c, node=n) for c, n in zip(cursors, nodes, strict=True)]
    info = PageInfo(
        has_next_page=has_next,
        has_previous_page=has_previous,
        start_cursor=cursors[0] if cursors else None,
        end_cursor=cursors[-1] if cursors else None,
    )
    return cls(edges=edges, nodes=nodes, page_info=info, counter=counter, scope=scope)


def connection_type(kind: str) -> type:
    return _TYPES[kind][0]


__all__ = ["Info", "connection_type", "kind_connection", "page"]
