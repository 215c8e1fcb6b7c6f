"""How the analytics fields of a connection are planned: ``facets``, ``histogram`` and ``aggregate``
become one db.plan Aggregate each, bound by the same validation the resolvers call
(db/aggregates.py), whose selection reads the JSON document PostgreSQL builds. The handlers of
the types below them (facet results and buckets, histograms, sums) are made from the same
declarations as the types (schema/aggregates.py)."""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import Any

from graphql import GraphQLField, GraphQLObjectType, get_named_type

from db import aggregates
from db.kinds import BY_NAME
from db.plan import tree as t
from db.registry import FACT_TYPES, fact_type
from schema.aggregates import facet_type_name
from schema.plan.compile import Compiler, Entry, Handler

AGGREGATES = ("facets", "histogram", "aggregate")


def _object_type(definition: GraphQLField) -> GraphQLObjectType:
    named = get_named_type(definition.type)
    assert isinstance(named, GraphQLObjectType), named
    return named


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value


def aggregate(c: Compiler, conn_type: GraphQLObjectType, name: str, entries: list[Entry], kind: str) -> t.Aggregate:
    """The plan of a connection's ``facets``, ``histogram`` or ``aggregate`` field."""
    definition = conn_type.fields[name]
    owner = _object_type(definition)
    arguments = c.arguments(definition, entries)
    ft = fact_type(kind)
    obj = c.object(owner, entries, None)
    if name == "facets":
        asks: list[tuple[str, str, Callable[[Any], dict[str, Any]]]] = []
        for key, here in c.collect(owner, entries).items():
            field = here[0].node.name.value
            if field != "__typename":
                asks.append((key, field, c.arguments(owner.fields[field], here)))
                if ft.analytics.facet(field) is not None and ft.analytics.facet(field).relation:  # type: ignore[union-attr]
                    c.lists.add("actor")  # a relation bucket's value is read through the lens

        def facets(variables: Any) -> aggregates.FacetsRequest:
            exclude = bool(arguments(variables).get("excludeOwnFilter"))
            wanted = [(key, field, of(variables).get("first")) for key, field, of in asks]
            return aggregates.facets_request(ft, wanted, ("first",), exclude_own=exclude, labels=False)

        return t.Aggregate("facets", facets, obj)
    if name == "histogram":

        def histogram(variables: Any) -> aggregates.HistogramRequest:
            args = arguments(variables)
            paths: dict[str, tuple[str | int, ...]] = {n: (n,) for n in ("on", "interval", "timeZone", "from", "to")}
            return aggregates.histogram_request(
                ft, str(_plain(args["on"])), str(_plain(args["interval"])), args.get("timeZone"),
                args.get("from"), args.get("to"), paths,
            )  # fmt: skip

        return t.Aggregate("histogram", histogram, obj)

    def sums(variables: Any) -> aggregates.SumsRequest:
        group = _plain(arguments(variables).get("groupBy"))
        paths: dict[str, tuple[str | int, ...]] = {"sum": ("aggregate",), "groupBy": ("groupBy",)}
        return aggregates.sums_request(ft, [(s.name, s.name) for s in ft.analytics.sums], group, paths, flat=True)

    return t.Aggregate("sums", sums, obj)


def _embedded(key: str, *, many: bool, by_alias: bool = False) -> Handler:
    def plan(c: Compiler, owner: GraphQLObjectType, definition: GraphQLField, entries: list[Entry]) -> t.Value:
        node = entries[0].node
        doc_key = (node.alias.value if node.alias else node.name.value) if by_alias else key
        named = _object_type(definition)
        return t.Embedded(doc_key, c.object(named, entries, None), many, "null")

    return plan


def _actor_value(c: Compiler, owner: GraphQLObjectType, definition: GraphQLField, entries: list[Entry]) -> t.Value:
    return t.Linked("actor", (("value", False),), c.object(_object_type(definition), entries, "actor"), many=False)


def handlers() -> dict[tuple[str, str], Handler]:
    """The plans of the analytics types' fields, for every kind's declaration."""
    out: dict[tuple[str, str], Handler] = {("Histogram", "buckets"): _embedded("buckets", many=True)}
    for kind, ft in FACT_TYPES.items():
        title = BY_NAME[kind].title
        for facet in ft.analytics.facets:
            # A facet's document is keyed by its response key: aliases may ask for different ``first``.
            out[(f"{title}Facets", facet.name)] = _embedded(facet.name, many=False, by_alias=True)
            result = facet_type_name(facet, title)
            out[(result, "buckets")] = _embedded("buckets", many=True)
            if facet.relation == "actor":
                out[(f"{result}Bucket", "value")] = _actor_value
        if ft.analytics.sums:
            for owner in (f"{title}Aggregate", f"{title}AggregateGroup"):
                for s in ft.analytics.sums:
                    out[(owner, s.name)] = _embedded(s.name, many=True)
            out[(f"{title}Aggregate", "groups")] = _embedded("groups", many=True)
    return out
