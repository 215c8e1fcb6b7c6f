"""Random valid GraphQL read queries over our schema, for the planner's differential test: random
selections of every type's fields, aliases, inline and named fragments (on Node and the search
union too), @include/@skip with variables, and arguments drawn from the real corpus — within the
schema's cost budget. A small share carries arguments the API refuses, so errors are compared too.
Deterministic for a given seed."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    get_named_type,
    parse,
)

from db import pagination
from schema.limits import query_cost

ROOT_BY_ID = ("actor", "article", "claim", "deployment", "incident")
ROOT_LISTS = {
    "actors": "actor",
    "articles": "article",
    "claims": "claim",
    "deployments": "deployment",
    "incidents": "incident",
}
# Root fields this generator leaves to other tests (scope admin).
SKIPPED_ROOTS = ("webhookEndpoint", "webhookEndpoints", "webhookDeliveries", "webhookDelivery", "apiKeys")
ORDER_FIELDS = {
    "actor": ("CREATED_AT", "UPDATED_AT"),
    "article": ("CREATED_AT", "UPDATED_AT", "PUBLISHED_AT"),
    "claim": ("CREATED_AT", "UPDATED_AT", "CLAIM_DATE"),
    "deployment": ("CREATED_AT", "UPDATED_AT", "STARTED_ON"),
    "incident": ("CREATED_AT", "UPDATED_AT", "OCCURRED_FROM"),
}


@dataclass
class Corpus:
    """What arguments are drawn from: ids by kind, article uris, search words, asOf times."""

    ids: dict[str, list[str]]
    uris: list[str]
    words: list[str]
    times: list[str]
    # Filter values that match something, by kind and filter name.
    filters: dict[str, dict[str, list[Any]]] = field(default_factory=dict)
    # ``search`` after-cursors: real ones from relevance pages (mid-page, through tied ranks).
    search_cursors: list[str] = field(default_factory=list)
    # Cursors into the corrections feed (and one that is not a cursor).
    corrections: list[str] = field(default_factory=list)


@dataclass
class Query:
    text: str
    variables: dict[str, Any]
    # False when it deliberately carries an argument the API refuses inside a list (the planner
    # leaves those to the resolvers, so the request is not expected to be planned).
    plannable: bool = True


class Generator:
    def __init__(self, schema: GraphQLSchema, corpus: Corpus, seed: int, *, max_cost: int = 4_000) -> None:
        self.schema = schema
        self.corpus = corpus
        self.rng = random.Random(seed)
        self.max_cost = max_cost

    def query(self) -> Query:
        for _ in range(50):
            q = self._attempt()
            if query_cost(self.schema, parse(q.text), q.variables, None) <= self.max_cost:
                return q
        raise RuntimeError("no query under the cost budget in 50 attempts")

    # ---- one document ----------------------------------------------------------------------

    def _attempt(self) -> Query:
        self.variables: dict[str, Any] = {}
        self.var_defs: list[str] = []
        self.fragments: dict[str, str] = {}
        self.aliases = 0
        self.plannable = True
        query_type = self.schema.query_type
        assert query_type is not None
        roots = [n for n in query_type.fields if n not in SKIPPED_ROOTS]
        parts = []
        used: set[str] = set()
        for n in range(self.rng.choice((1, 1, 1, 2, 2, 3))):
            name = self.rng.choice(roots)
            part = self._root(name, query_type.fields[name])
            # The same root field twice with other arguments needs its own response key.
            parts.append(f"r{n}: {part}" if name in used and not part.startswith("a") else part)
            used.add(name)
        if self.rng.random() < 0.1:
            parts.append("__typename")
        head = f"query Q({', '.join(self.var_defs)})" if self.var_defs else "query Q"
        text = head + " { " + " ".join(parts) + " }" + "".join(f" {f}" for f in self.fragments.values())
        return Query(text, dict(self.variables), self.plannable)

    def _alias(self) -> str:
        if self.aliases < 25 and self.rng.random() < 0.2:
            self.aliases += 1
            return f"a{self.aliases}: "
        return ""

    def _variable(self, type_name: str, value: Any) -> str:
        name = f"v{len(self.var_defs)}"
        self.var_defs.append(f"${name}: {type_name}")
        self.variables[name] = value
        return f"${name}"

    def _directive(self) -> str:
        roll = self.rng.random()
        if roll < 0.06:
            return f" @include(if: {self._variable('Boolean!', self.rng.random() < 0.5)})"
        if roll < 0.1:
            return f" @skip(if: {self._variable('Boolean!', self.rng.random() < 0.5)})"
        if roll < 0.12:
            return f" @include(if: {self.rng.choice(('true', 'false'))})"
        return ""

    def _arg(self, type_name: str, value: Any, literal: str) -> str:
        """An argument value, as a variable half of the time."""
        return self._variable(type_name, value) if self.rng.random() < 0.5 else literal

    # ---- roots -----------------------------------------------------------------------------

    def _root(self, name: str, definition: GraphQLField) -> str:
        c = self.corpus
        prefix = self._alias()
        if name == "__typename":
            return prefix + "__typename"
        if name in ROOT_BY_ID:
            if name == "article" and self.rng.random() < 0.3:
                uri = self.rng.choice([*c.uris, "urn:none"])
                args = [f"uri: {self._arg('String', uri, _q(uri))}"]
            else:
                fact_id = self._some_id(name)
                args = [f"id: {self._arg('ID!' if name != 'article' else 'ID', fact_id, _q(fact_id))}"]
            args.extend(self._as_of())
            return f"{prefix}{name}({', '.join(args)}){self._directive()} {self._object(definition, 0)}"
        if name == "node":
            fact_id = self._some_id(self.rng.choice(ROOT_BY_ID))
            args = [f"id: {self._arg('ID!', fact_id, _q(fact_id))}", *self._as_of()]
            return f"{prefix}node({', '.join(args)}) {self._object(definition, 0)}"
        if name == "nodes":
            ids = [self._some_id(self.rng.choice(ROOT_BY_ID)) for _ in range(self.rng.randint(0, 4))]
            literal = "[" + ", ".join(_q(i) for i in ids) + "]"
            args = [f"ids: {self._arg('[ID!]!', ids, literal)}", *self._as_of()]
            return f"{prefix}nodes({', '.join(args)}) {self._object(definition, 0)}"
        if name == "search":
            word = self.rng.choice(c.words)
            args = [f"query: {self._arg('String!', word, _q(word))}"]
            if self.rng.random() < 0.5:
                kinds = self.rng.sample(("ARTICLE", "ACTOR", "CLAIM", "DEPLOYMENT", "INCIDENT"), self.rng.randint(1, 3))
                args.append(f"types: [{', '.join(kinds)}]")
            if self.rng.random() < 0.5:
                args.append(f"first: {self.rng.choice((1, 3, 5, 0))}")
            if self.rng.random() < 0.35:
                after = self._search_cursor()
                args.append(f"after: {self._arg('String', after, _q(after))}")
            # With an after cursor of another time (or of the present), asOf is refused.
            args.extend(self._as_of())
            return f"{prefix}search({', '.join(args)}) {self._object(definition, 0)}"
        if name == "corrections":
            return f"{prefix}corrections{self._corrections_args()} {self._object(definition, 0)}"
        kind = ROOT_LISTS[name]
        return f"{prefix}{name}{self._list_args(kind)} {self._object(definition, 0)}"

    def _search_cursor(self) -> str:
        """Mostly a cursor a relevance page returned; sometimes a forged rank (past every match,
        or between real ones), a rank no real cast accepts, or a cursor of another order."""
        roll = self.rng.random()
        ref = self.rng.choice(self.corpus.ids[self.rng.choice(ROOT_BY_ID)])
        if roll < 0.7 and self.corpus.search_cursors:
            return self.rng.choice(self.corpus.search_cursors)
        if roll < 0.85:
            return pagination.encode(
                pagination.Cursor("relevance", self.rng.choice(("0", "0.05", "0.1", "1e-05")), ref)
            )
        if roll < 0.9:
            return pagination.encode(pagination.Cursor("relevance", self.rng.choice(("NaN", "1e400", "-1", "x")), ref))
        if roll < 0.95:  # a forged position in the past: the page reads at the cursor's time
            return pagination.encode(pagination.Cursor("relevance", "0.05", ref, self.rng.choice(self.corpus.times)))
        return pagination.encode(pagination.Cursor("createdAt", ref, ref))

    def _as_of(self, at: str | None = None) -> list[str]:
        """An asOf argument a quarter of the time (``at`` when given): the whole read at that time."""
        if at is None:
            if self.rng.random() >= 0.25:
                return []
            at = self.rng.choice(self.corpus.times)
        return [f"asOf: {self._arg('DateTime', at, _q(at))}"]

    def _corrections_args(self) -> str:
        args = []
        if self.rng.random() < 0.4:
            args.append(f"kinds: [{', '.join(self.rng.sample(('ARTICLE', 'CLAIM', 'DEPLOYMENT', 'INCIDENT'), 2))}]")
        if self.rng.random() < 0.4:
            kinds = ("CORRECTED", "RETRACTED", "WITHHELD", "CANCELED", "RELEASED", "SOURCING_CHANGED")
            args.append(f"changeKinds: [{', '.join(self.rng.sample(kinds, 2))}]")
        if self.rng.random() < 0.2:
            at = self.rng.choice(self.corpus.times)
            args.append(f"since: {self._arg('DateTime', at, _q(at))}")
        roll = self.rng.random()
        if roll < 0.6:
            args.append(f"first: {self.rng.choice((1, 2, 5))}")
        elif roll < 0.63:
            args.append("first: 0")  # refused: out of range
        if self.rng.random() < 0.2:
            cursor = self.rng.choice(self.corpus.corrections or ["not-a-cursor"])
            args.append(f"after: {self._arg('String', cursor, _q(cursor))}")
        return f"({', '.join(args)})" if args else ""

    def _some_id(self, kind: str) -> str:
        roll = self.rng.random()
        if roll < 0.05:
            return f"{kind[:3]}_not-an-id"
        if roll < 0.1:
            return kind[:3] + "_" + "0" * 26  # well formed, names nothing
        return self.rng.choice(self.corpus.ids[kind])

    def _list_args(self, kind: str) -> str:
        args = []
        options = self.corpus.filters.get(kind, {})
        if options and self.rng.random() < 0.5:
            name = self.rng.choice(sorted(options))
            value = self.rng.choice(options[name])
            filter_type = self.schema.get_type(f"{kind.capitalize()}Filter")
            is_enum = isinstance(get_named_type(filter_type.fields[name].type), GraphQLEnumType)  # type: ignore[union-attr]
            literal = value if is_enum else _q(value)
            args.append(f"filter: {{{name}: {literal}}}")
        order = None
        if self.rng.random() < 0.4:
            order = self.rng.choice(ORDER_FIELDS[kind])
            direction = self.rng.choice(("ASC", "DESC"))
            args.append(f"orderBy: {{field: {order}, direction: {direction}}}")
        roll = self.rng.random()
        size = self.rng.choice((1, 2, 3, 5))
        if roll < 0.5:
            args.append(f"first: {size}")
        elif roll < 0.7:
            args.append(f"last: {size}")
        elif roll < 0.72:
            args.append("first: 0")  # refused: out of range
        at = self.rng.choice(self.corpus.times) if self.rng.random() < 0.25 else None
        if (order is None or order == "CREATED_AT") and self.rng.random() < 0.25:
            ref = self.rng.choice(self.corpus.ids[kind])
            # A cursor of an asOf page carries its time: mostly the page's own, sometimes none or
            # another (refused), sometimes with the asOf left out (the cursor's time is used).
            roll = self.rng.random()
            carried = at if roll < 0.6 else (self.rng.choice(self.corpus.times) if roll < 0.8 else None)
            if roll >= 0.9 and carried is not None:
                at = None
            cursor = pagination.encode(pagination.Cursor("createdAt", ref, ref, carried))
            args.append(f"{'before' if any(a.startswith('last') for a in args) else 'after'}: {_q(cursor)}")
        args.extend(self._as_of(at) if at is not None else [])
        return f"({', '.join(args)})" if args else ""

    # ---- selections ------------------------------------------------------------------------

    def _object(self, definition: GraphQLField, depth: int) -> str:
        named = get_named_type(definition.type)
        return self._selection(named, depth)

    def _selection(self, named: Any, depth: int) -> str:
        if isinstance(named, GraphQLObjectType) and named.name.endswith("Connection"):
            return self._connection(named, depth)
        if isinstance(named, GraphQLInterfaceType | GraphQLUnionType):
            return self._abstract(named, depth)
        return "{ " + self._fields(named, depth) + " }"

    def _abstract(self, named: GraphQLInterfaceType | GraphQLUnionType, depth: int) -> str:
        parts = ["__typename"] if self.rng.random() < 0.7 else []
        if isinstance(named, GraphQLInterfaceType) and self.rng.random() < 0.5:
            parts.append("id")
        possible = list(self.schema.get_possible_types(named))
        for obj in self.rng.sample(possible, self.rng.randint(1, min(3, len(possible)))):
            inner = self._fields(obj, depth + 1)
            if self.rng.random() < 0.3:
                frag = f"F{len(self.fragments)}"
                self.fragments[frag] = f"fragment {frag} on {obj.name} {{ {inner} }}"
                parts.append(f"...{frag}")
            else:
                parts.append(f"... on {obj.name} {{ {inner} }}")
        return "{ " + " ".join(parts or ["__typename"]) + " }"

    def _connection(self, conn: GraphQLObjectType, depth: int) -> str:
        node_type = get_named_type(conn.fields["nodes"].type)
        parts = []
        if self.rng.random() < 0.8:
            parts.append(f"{self._alias()}nodes{self._directive()} {self._selection(node_type, depth + 1)}")
        if self.rng.random() < 0.35:
            edge_type = get_named_type(conn.fields["edges"].type)
            edge = ["cursor"] if self.rng.random() < 0.7 else []
            edge.append(f"node {self._selection(node_type, depth + 1)}")
            # What else an edge carries (a search edge's rank and snippet), aliased at times.
            for name in edge_type.fields:
                if name not in ("cursor", "node") and self.rng.random() < 0.5:
                    named = get_named_type(edge_type.fields[name].type)
                    inner = f" {self._selection(named, depth + 1)}" if hasattr(named, "fields") else ""
                    edge.append(f"{self._alias()}{name}{self._directive()}{inner}")
            if self.rng.random() < 0.1:
                edge.append("__typename")
            parts.append("edges { " + " ".join(edge) + " }")
        if self.rng.random() < 0.35:
            info = self.rng.sample(["hasNextPage", "hasPreviousPage", "startCursor", "endCursor", "__typename"], 3)
            parts.append("pageInfo { " + " ".join(info) + " }")
        if self.rng.random() < 0.3:
            parts.append(f"{self._alias()}totalCount")
        return "{ " + " ".join(parts or ["totalCount"]) + " }"

    def _fields(self, obj: GraphQLObjectType, depth: int) -> str:
        names = list(obj.fields)
        chosen = self.rng.sample(names, self.rng.randint(1, min(len(names), 7)))
        parts = []
        for name in chosen:
            definition = obj.fields[name]
            named = get_named_type(definition.type)
            leaf = isinstance(named, GraphQLEnumType) or (not hasattr(named, "fields") and not hasattr(named, "types"))
            if leaf:
                parts.append(f"{self._alias()}{name}{self._directive()}")
                continue
            if depth >= 3:
                continue
            args = ""
            if "first" in definition.args:
                roll = self.rng.random()
                if roll < 0.03:
                    args = "(first: 500)"  # refused inside a list: left to the resolvers
                    self.plannable = False
                elif roll < 0.6:
                    args = f"(first: {self.rng.choice((1, 2, 3))})"
            parts.append(f"{self._alias()}{name}{args}{self._directive()} {self._selection(named, depth + 1)}")
        if "id" in obj.fields and self.rng.random() < 0.3:
            parts.append("id")
        return " ".join(parts or ["__typename"])


def _q(value: Any) -> str:
    """A GraphQL string literal."""
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


__all__ = ["Corpus", "Generator", "GraphQLList", "GraphQLNonNull", "Query"]
