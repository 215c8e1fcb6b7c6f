"""How each GraphQL field that has a resolver is planned: relations, value objects, connections
and the root fields. Arguments are validated by the same functions the resolvers call
(``page_size``, ``check_id``, ``parse_filters``, cursor decoding), so a refusal reads the same on
both paths. tests/schema/test_plan_coverage.py checks every resolver field of the read types has
an entry here."""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import Any

from graphql import GraphQLField, GraphQLObjectType, GraphQLUnionType, get_named_type

from db import corrections, pagination, queries
from db import search as db_search
from db.errors import BadUserInput, FieldError
from db.plan import tree as t
from db.registry import FACT_TYPES, fact_type
from db.relations import RELATED_ORDER
from schema.common import page_size
from schema.node import check_id, page_request, page_time
from schema.plan import aggregates as plan_aggregates
from schema.plan.compile import Compiler, Entry, Handler, RootHandler
from schema.search import search_request, search_time

# GraphQL object type → fact kind.
KINDS = {kind.capitalize(): kind for kind in FACT_TYPES}


def _object_type(definition: GraphQLField) -> GraphQLObjectType:
    named = get_named_type(definition.type)
    assert isinstance(named, GraphQLObjectType), named
    return named


def _child(c: Compiler, definition: GraphQLField, entries: list[Entry]) -> t.Obj:
    owner = _object_type(definition)
    return c.object(owner, entries, KINDS.get(owner.name))


def linked(kind: str, *parts: tuple[str, bool], many: bool, distinct: bool = False) -> Handler:
    def plan(c: Compiler, owner: GraphQLObjectType, definition: GraphQLField, entries: list[Entry]) -> t.Value:
        return t.Linked(kind, parts, _child(c, definition, entries), many, distinct)

    return plan


def embedded(key: str, *, many: bool, empty: str = "null") -> Handler:
    def plan(c: Compiler, owner: GraphQLObjectType, definition: GraphQLField, entries: list[Entry]) -> t.Value:
        return t.Embedded(key, _child(c, definition, entries), many, empty)

    return plan


def revisions(c: Compiler, owner: GraphQLObjectType, definition: GraphQLField, entries: list[Entry]) -> t.Value:
    return t.Revisions(_child(c, definition, entries))


def connection(
    c: Compiler, definition: GraphQLField, entries: list[Entry], *, facts: bool = True
) -> tuple[t.Connection, str | None]:
    """The selection on a ``<Kind>Connection`` and the kind of its nodes (None for a connection
    of other objects, ``facts=False``: the corrections feed's)."""
    conn_type = _object_type(definition)
    node_type = _object_type(conn_type.fields["nodes"])
    kind = KINDS[node_type.name] if facts else None
    if kind is not None:
        c.lists.add(kind)
    fields = []
    for key, here in c.collect(conn_type, entries).items():
        name = here[0].node.name.value
        value: t.Value
        if name == "__typename":
            value = t.Const(conn_type.name)
        elif name == "nodes":
            value = t.Nodes(c.object(node_type, here, kind))
        elif name == "edges":
            value = t.Edges(
                _edge_fields(
                    c,
                    _object_type(conn_type.fields["edges"]),
                    here,
                    lambda e: t.EdgeNode(c.object(node_type, e, kind)),
                    {"distanceKm": lambda _: t.EdgeDistance()},
                )
            )
        elif name == "pageInfo":
            value = t.PageInfo(_page_info(c, _object_type(conn_type.fields["pageInfo"]), here))
        elif name == "totalCount":
            value = t.TotalCount()
        elif name in plan_aggregates.AGGREGATES and kind is not None:
            value = plan_aggregates.aggregate(c, conn_type, name, here, kind)
        else:
            raise t.Unplannable(f"{conn_type.name}.{name}")
        fields.append(t.Field(key, value, c.include(here)))
    return t.Connection(tuple(fields)), kind


def _edge_fields(
    c: Compiler,
    edge_type: GraphQLObjectType,
    entries: list[Entry],
    node: Callable[[list[Entry]], t.Value],
    extras: dict[str, Callable[[list[Entry]], t.Value]] | None = None,
) -> tuple[t.Field, ...]:
    """An edge's fields: ``__typename``, ``cursor``, ``node`` (``node`` plans it) and, for edges
    that carry more (a search hit's rank and snippet), ``extras`` by field name."""
    fields = []
    for key, here in c.collect(edge_type, entries).items():
        name = here[0].node.name.value
        value: t.Value
        if name == "__typename":
            value = t.Const(edge_type.name)
        elif name == "cursor":
            value = t.EdgeCursor()
        elif name == "node":
            value = node(here)
        elif extras is not None and name in extras:
            value = extras[name](here)
        else:
            raise t.Unplannable(f"{edge_type.name}.{name}")
        # Leaves may sit under differing @skip/@include: no sub-selection can differ per request.
        fields.append(
            t.Field(key, value, c.include(here, leaf=isinstance(value, t.EdgeCursor | t.EdgeRank | t.EdgeDistance)))
        )
    return tuple(fields)


_PAGE_INFO: dict[str, t.Value] = {
    "hasNextPage": t.PageFlag("next"),
    "hasPreviousPage": t.PageFlag("previous"),
    "startCursor": t.PageCursor("start"),
    "endCursor": t.PageCursor("end"),
}


def _page_info(c: Compiler, info_type: GraphQLObjectType, entries: list[Entry]) -> tuple[t.Field, ...]:
    fields = []
    for key, here in c.collect(info_type, entries).items():
        name = here[0].node.name.value
        value: t.Value = t.Const(info_type.name) if name == "__typename" else _PAGE_INFO[name]
        fields.append(t.Field(key, value, c.include(here)))
    return tuple(fields)


def related(kind: str, relation: str) -> Handler:
    """A nested connection, bound as schema.node.related binds it."""

    def plan(c: Compiler, owner: GraphQLObjectType, definition: GraphQLField, entries: list[Entry]) -> t.Value:
        conn, _ = connection(c, definition, entries)
        arguments = c.arguments(definition, entries)

        def bind(variables: Any) -> tuple[int, str | None]:
            args = arguments(variables)
            size = page_size(args.get("first"), None)
            after = args.get("after")
            if after is not None:  # decoded here too, so a malformed cursor refuses as the resolvers do
                pagination.decode(after, order=RELATED_ORDER, param="after")
            return size, after

        return t.Related(kind, relation, conn, bind)

    return plan


REFERENCES = embedded("references", many=True)
QUANTITY = embedded("quantity", many=False, empty="falsy")
ACTOR = ("actor", False)

HANDLERS: dict[tuple[str, str], Handler] = {
    ("*", "revisions"): revisions,
    ("Revision", "diff"): embedded("diff", many=True),
    ("Correction", "diff"): embedded("diff", many=True),
    ("Article", "outlet"): linked("actor", ("outlet", False), many=False),
    ("Article", "authors"): linked("actor", ("authors", True), many=True),
    ("Article", "basedOn"): linked("actor", ("basedOn", True), many=True),
    ("Article", "actors"): linked(
        "actor", ("outlet", False), ("authors", True), ("basedOn", True), many=True, distinct=True
    ),
    ("Article", "claims"): related("claim", "article"),
    ("Article", "deployments"): related("deployment", "article"),
    ("Article", "incidents"): related("incident", "article"),
    ("Actor", "roles"): embedded("roles", many=True),
    ("Actor", "claimsAsSpeaker"): related("claim", "speaker"),
    ("Actor", "claimsAsSubject"): related("claim", "subject"),
    ("Actor", "claimsReported"): related("claim", "reportedBy"),
    ("Actor", "articles"): related("article", "actor"),
    ("Actor", "deployments"): related("deployment", "deployer"),
    ("Actor", "incidents"): related("incident", "actor"),
    ("Role", "organization"): linked("actor", ("organization", False), many=False),
    ("Claim", "speaker"): linked("actor", ("speaker", False), many=False),
    ("Claim", "reportedBy"): linked("actor", ("reportedBy", False), many=False),
    ("Claim", "subjects"): linked("actor", ("subjects", True), many=True),
    ("Claim", "references"): REFERENCES,
    ("Claim", "supersedes"): linked("claim", ("supersedes", True), many=True),
    ("Claim", "contradicts"): linked("claim", ("contradicts", True), many=True),
    ("Claim", "sameAs"): linked("claim", ("sameAs", True), many=True),
    ("Claim", "relatedClaims"): related("claim", "linksTo"),
    ("Reference", "article"): linked("article", ("article", False), many=False),
    ("Deployment", "deployer"): linked("actor", ("deployer", False), many=False),
    ("Deployment", "region"): embedded("region", many=False, empty="place"),
    ("Deployment", "assets"): embedded("assets", many=True),
    ("Deployment", "references"): REFERENCES,
    ("Asset", "quantity"): QUANTITY,
    ("Asset", "references"): REFERENCES,
    ("Incident", "actors"): embedded("actors", many=True),
    ("Incident", "location"): embedded("location", many=False, empty="place"),
    ("Incident", "count"): embedded("count", many=False, empty="falsy"),
    ("Incident", "fatalities"): embedded("fatalities", many=False, empty="falsy"),
    ("Incident", "injuries"): embedded("injuries", many=False, empty="falsy"),
    ("Incident", "references"): REFERENCES,
    ("IncidentActor", "actor"): linked("actor", ("actor", False), many=False),
    # Facets, histograms and sums (schema/plan/aggregates.py), from the kinds' declarations.
    **plan_aggregates.handlers(),
    # Subscription payloads (schema/subscriptions.py): documents of the event that happened.
    ("Event", "fact"): lambda c, owner, definition, entries: t.Typed("data", _by_kind(c, definition, entries)),
    **{
        (payload, key): embedded(key, many=False)
        for payload, fact in (
            ("ClaimChange", "claim"),
            ("ArticlePublication", "article"),
            ("DeploymentChange", "deployment"),
        )
        for key in ("event", fact)
    },
}


# ---- root fields -----------------------------------------------------------------------------


def _by_kind(c: Compiler, definition: GraphQLField, entries: list[Entry]) -> dict[str, t.Obj]:
    """One object plan per fact kind, for a field typed as an interface (Node) or a union."""
    named = get_named_type(definition.type)
    types = named.types if isinstance(named, GraphQLUnionType) else c.schema.get_possible_types(named)  # type: ignore[arg-type]
    return {KINDS[o.name]: c.object(o, entries, KINDS[o.name]) for o in types}


def by_id(kind: str) -> RootHandler:
    def plan(c: Compiler, definition: GraphQLField, entries: list[Entry]) -> Any:
        arguments = c.arguments(definition, entries)

        def bind(variables: Any) -> str:
            args = arguments(variables)
            check_id(args["id"], kind)
            return str(args["id"])

        plan = t.ById(kind, _child(c, definition, entries), bind, _as_of(arguments))
        return plan, lambda v: [arguments(v)["id"]]

    return plan


def article(c: Compiler, definition: GraphQLField, entries: list[Entry]) -> Any:
    """``article(id:)`` plans as by id; ``article(uri:)`` by uri. The pair is decided per request."""
    arguments = c.arguments(definition, entries)
    obj = _child(c, definition, entries)

    def args_of(variables: Any) -> dict[str, Any]:
        args = arguments(variables)
        if (args.get("id") is None) == (args.get("uri") is None):
            raise BadUserInput(
                "pass exactly one of id and uri", errors=[FieldError(("id",), "CONFLICTING_ARGUMENTS", "id or uri")]
            )
        return args

    def bind(variables: Any) -> str:
        args = args_of(variables)
        check_id(args["id"], "article")
        return str(args["id"])

    by_uri = t.ByUri(obj, lambda variables: args_of(variables)["uri"], _as_of(arguments))
    by_id_plan = t.ById("article", obj, bind, _as_of(arguments))
    choice = t.Choice(lambda v: by_uri if arguments(v).get("uri") is not None else by_id_plan)
    return choice, (lambda v: [i] if (i := arguments(v).get("id")) else [])


def node(c: Compiler, definition: GraphQLField, entries: list[Entry]) -> Any:
    arguments = c.arguments(definition, entries)

    def bind(variables: Any) -> tuple[str, str]:
        fact_id = arguments(variables)["id"]
        return check_id(fact_id), fact_id

    return t.AnyNode(_by_kind(c, definition, entries), bind, _as_of(arguments)), lambda v: [arguments(v)["id"]]


def nodes(c: Compiler, definition: GraphQLField, entries: list[Entry]) -> Any:
    arguments = c.arguments(definition, entries)

    def bind(variables: Any) -> list[tuple[str, str]]:
        ids = arguments(variables)["ids"]
        if len(ids) > queries.MAX_PAGE:
            raise BadUserInput(
                f"at most {queries.MAX_PAGE} ids", errors=[FieldError(("ids",), "TOO_MANY", "at most 100")]
            )
        return [(check_id(i, argument=f"ids[{n}]"), i) for n, i in enumerate(ids)]

    return t.AnyNodes(_by_kind(c, definition, entries), bind, _as_of(arguments)), lambda v: list(arguments(v)["ids"])


def _as_of(arguments: Callable[[Any], dict[str, Any]]) -> t.Bind:
    """A root's ``when``: its asOf argument."""
    return lambda variables: arguments(variables).get("asOf")


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value


def root_list(kind: str) -> RootHandler:
    """A root connection, bound as schema.node.list_connection binds it."""

    def plan(c: Compiler, definition: GraphQLField, entries: list[Entry]) -> Any:
        conn, _ = connection(c, definition, entries)
        arguments = c.arguments(definition, entries)
        ft = fact_type(kind)

        last: list[Any] = [None, None]  # (variables, what they bound): bind and when ask in turn

        def bound(variables: Any) -> tuple[dict[str, Any], queries.PageRequest, str | None]:
            if last[0] is not variables:
                last[0], last[1] = variables, _bound(variables)
            found: tuple[dict[str, Any], queries.PageRequest, str | None] = last[1]
            return found

        def _bound(variables: Any) -> tuple[dict[str, Any], queries.PageRequest, str | None]:
            args = arguments(variables)
            raw = {k: _plain(v) for k, v in (args.get("filter") or {}).items() if v is not None}
            filters = queries.parse_filters(ft, raw)
            order_by = args.get("orderBy") or {}
            order = _plain(order_by.get("field")) or "createdAt"
            descending = _plain(order_by.get("direction")) == "desc"
            first, after, last, before = (args.get(n) for n in ("first", "after", "last", "before"))
            request = page_request(order, descending, first, after, last, before)
            return filters, request, page_time(request, args.get("asOf"))

        return t.RootList(kind, conn, lambda v: bound(v)[:2], lambda v: bound(v)[2]), None

    return plan


def corrections_feed(c: Compiler, definition: GraphQLField, entries: list[Entry]) -> Any:
    """``corrections``, bound as schema.corrections binds it (the same checks, in the same order)."""
    conn, _ = connection(c, definition, entries, facts=False)
    c.lists.update(FACT_TYPES)  # any fact's correction changes the feed (its cache tags)
    arguments = c.arguments(definition, entries)

    def values(members: Any) -> tuple[str, ...]:
        return tuple(dict.fromkeys(str(_plain(m)) for m in members or ()))

    def bind(variables: Any) -> tuple[corrections.Filter, int, corrections.Position | None]:
        args = arguments(variables)
        size = page_size(args.get("first"), None)
        where = corrections.Filter(values(args.get("kinds")), values(args.get("changeKinds")), args.get("since"))
        return where, size, corrections.decode(args.get("after"), "after")

    return t.Corrections(conn, bind), None


def search(c: Compiler, definition: GraphQLField, entries: list[Entry]) -> Any:
    """``search``, bound as schema.search binds it (the same validation function)."""
    arguments = c.arguments(definition, entries)
    conn_type = _object_type(definition)
    fields = []
    for key, here in c.collect(conn_type, entries).items():
        name = here[0].node.name.value
        value: t.Value
        if name == "__typename":
            value = t.Const(conn_type.name)
        elif name == "nodes":
            value = t.UnionNodes(_by_kind(c, conn_type.fields["nodes"], here))
        elif name == "edges":
            value = t.Edges(_search_edges(c, _object_type(conn_type.fields["edges"]), here))
        elif name == "pageInfo":
            value = t.PageInfo(_page_info(c, _object_type(conn_type.fields["pageInfo"]), here))
        elif name == "totalCount":
            value = t.TotalCount()
        else:
            raise t.Unplannable(f"{conn_type.name}.{name}")
        fields.append(t.Field(key, value, c.include(here)))
    c.lists.update(FACT_TYPES)

    def bind(variables: Any) -> db_search.SearchRequest:
        args = arguments(variables)
        return search_request(args["query"], args.get("types"), args.get("first"), args.get("after"))

    def when(variables: Any) -> str | None:
        args = arguments(variables)
        return search_time(args.get("after"), args.get("asOf"))

    return t.Search(t.Connection(tuple(fields)), bind, when), None


def _search_edges(c: Compiler, edge_type: GraphQLObjectType, entries: list[Entry]) -> tuple[t.Field, ...]:
    """A search connection's edges: a hit of any kind, with its rank and snippet."""
    return _edge_fields(
        c,
        edge_type,
        entries,
        lambda e: t.UnionEdgeNode(_by_kind(c, edge_type.fields["node"], e)),
        {
            "rank": lambda _: t.EdgeRank(),
            "snippet": lambda e: t.EdgeSnippet(_child(c, edge_type.fields["snippet"], e)),
        },
    )


ROOTS: dict[str, RootHandler] = {
    "node": node,
    "nodes": nodes,
    "article": article,
    "articles": root_list("article"),
    **{kind: by_id(kind) for kind in FACT_TYPES if kind != "article"},
    **{f"{kind}s": root_list(kind) for kind in FACT_TYPES if kind != "article"},
    "search": search,
    "corrections": corrections_feed,
}
