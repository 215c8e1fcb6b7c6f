"""Planned mutation payloads: each fact mutation's write still runs through its own resolver
(schema/mutations.py → db/writes.py: scope check, validation, write, revision, event, typed
userErrors), but the payload it returns — the fact with whatever relations the document selects,
and its userErrors — is read by one planned SQL statement over the written document, as planned
subscriptions read an event's (schema/plan/live.py), instead of per-field resolvers. Root fields
run one after another, each write before its payload's read, as GraphQL's serial execution does.
Documents with other root fields (webhooks, keys), directives on root fields, or invalid ones are
left to the resolvers, which stay the reference."""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import orjson
from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLError,
    GraphQLField,
    GraphQLNonNull,
    GraphQLObjectType,
    OperationDefinitionNode,
    OperationType,
    get_named_type,
)
from graphql.execution.values import get_argument_values
from strawberry.types.arguments import convert_arguments

from db.lens import Lens
from db.plan import tree as t
from db.plan.sql import Statement, statement
from schema.errors import format_error, log_errors
from schema.mutations import KINDS
from schema.plan.cache import PlanCache
from schema.plan.compile import STRAWBERRY, Compiler, Entry, Handler, _root_node
from schema.plan.fields import HANDLERS, embedded
from schema.plan.run import Connect, Planner

MUTATION_PLANS = 256
# The fact mutations (createClaim, updateActor, correctIncident, retractArticle…) and their kinds.
FACT_MUTATIONS = {
    f"{verb}{kind.capitalize()}": kind for kind in KINDS for verb in ("create", "update", "correct", "retract")
}
# A payload's fact and its userErrors are read from the document the resolver's payload gives.
PAYLOAD_HANDLERS: dict[tuple[str, str], Handler] = {
    **HANDLERS,
    **{(f"{kind.capitalize()}Payload", kind): embedded(kind, many=False) for kind in KINDS},
    **{(f"{kind.capitalize()}Payload", "userErrors"): embedded("userErrors", many=True) for kind in KINDS},
}


def _no_document(_variables: Any) -> dict[str, Any]:
    return {}


@dataclass(frozen=True)
class MutationField:
    key: str
    node: FieldNode
    definition: GraphQLField | None  # None for __typename
    obj: t.Obj | None = None


@dataclass(frozen=True)
class MutationPlan:
    document: DocumentNode
    operation: OperationDefinitionNode
    fields: tuple[MutationField, ...]


@dataclass
class MutationAnswer:
    body: bytes
    # Every root field failed for want of the database: the resolvers' path answers such a
    # response with 503 and Retry-After (api/graphql/view.py), and so does the endpoint.
    unavailable: bool = False


class MutationPlanner:
    """Plans (cached, bounded) and runs mutation operations over the query planner's schema."""

    def __init__(self, planner: Planner, strawberry_schema: Any) -> None:
        self.planner = planner
        self.strawberry = strawberry_schema
        self._plans: PlanCache[MutationPlan | None] = PlanCache(MUTATION_PLANS)

    def plan(self, query: str, operation_name: str | None) -> MutationPlan | None:
        return self._plans.get(query, operation_name, self._compile)

    def _compile(self, query: str, operation_name: str | None) -> MutationPlan | None:
        found = self.planner.validated(query, operation_name)
        if found is None:
            return None
        document, operation = found
        root_type = self.planner.schema.mutation_type
        if operation.operation is not OperationType.MUTATION or root_type is None:
            return None
        compiler = Compiler(self.planner.schema, document, operation, PAYLOAD_HANDLERS, {})
        fields = []
        try:
            for key, entries in compiler.collect(root_type, [Entry(_root_node(operation), ())]).items():
                if len(entries) != 1 or entries[0].conditions:
                    return None  # a key selected twice or under @skip/@include: the resolvers merge it
                node = entries[0].node
                name = node.name.value
                if name == "__typename":
                    fields.append(MutationField(key, node, None))
                    continue
                if name not in FACT_MUTATIONS:
                    return None
                definition = root_type.fields[name]
                payload = get_named_type(definition.type)
                assert isinstance(payload, GraphQLObjectType) and isinstance(definition.type, GraphQLNonNull)
                fields.append(MutationField(key, node, definition, compiler.object(payload, entries, None)))
        except t.Unplannable:
            return None
        return MutationPlan(document, operation, tuple(fields))

    async def execute(
        self, plan: MutationPlan, variables: dict[str, Any] | None, context: Any, connect: Connect
    ) -> MutationAnswer | None:
        """The response, or None (before anything is written) when the variables or the cost send
        the request to the resolvers, which word those refusals."""
        admitted = self.planner.admit(plan.document, plan.operation, variables)
        if admitted is None:
            return None
        coerced, cost = admitted
        try:
            # Each payload's statement, built once before any write: its text depends on the
            # variables alone (the document is a parameter), and one the planner refuses (a nested
            # argument out of range) must go to the resolvers while nothing is written yet.
            for field in plan.fields:
                if field.obj is not None:
                    Statement(coerced, collect_ids=False, lens=context.lens).root(t.Payload(field.obj, _no_document))
        except t.Unplannable:
            return None
        info = SimpleNamespace(context=context)
        parts: list[bytes] = []
        error: GraphQLError | None = None
        for field in plan.fields:
            if field.definition is None:
                parts.append(orjson.dumps(field.key) + b':"Mutation"')
                continue
            try:
                value = await self._resolve(field, field.definition, coerced, info)
                read = await self._read(field, value, coerced, context.lens, connect)
                parts.append(orjson.dumps(field.key) + b":" + read)
            except Exception as exc:
                # A payload is non-null: its failure nulls all data and ends the operation, as
                # graphql-core's serial execution does (later mutations do not run). Never raised
                # on: the caller would hand the request to the resolvers, which would write again.
                error = GraphQLError(str(exc), nodes=[field.node], path=[field.key], original_error=exc)
                break
        extensions = orjson.dumps({"cost": {"requested": cost, "limit": self.planner.limits.max_cost}})
        if error is None:
            return MutationAnswer(b'{"data":{' + b",".join(parts) + b'},"extensions":' + extensions + b"}")
        log_errors([error])
        rendered = format_error(error, production=self.planner.production)
        body = b'{"data":null,"errors":' + orjson.dumps([rendered]) + b',"extensions":' + extensions + b"}"
        return MutationAnswer(body, unavailable=rendered["extensions"]["code"] == "UNAVAILABLE")

    async def _resolve(self, field: MutationField, definition: GraphQLField, coerced: Any, info: Any) -> Any:
        """The mutation's own resolver, given its arguments as strawberry would convert them."""
        strawberry_field = definition.extensions[STRAWBERRY]
        raw = get_argument_values(definition, field.node, coerced)
        kwargs = convert_arguments(
            raw,
            strawberry_field.arguments,
            scalar_registry=self.strawberry.schema_converter.scalar_registry,
            config=self.strawberry.config,
        )
        return await strawberry_field.base_resolver.wrapped_func(info, **kwargs)

    async def _read(self, field: MutationField, value: Any, coerced: Any, lens: Lens, connect: Connect) -> bytes:
        """The payload's selection, read by one statement over the written document, through the
        caller's lens (db/lens.py) as the resolvers' loaders read its relations."""
        assert field.obj is not None
        kind = FACT_MUTATIONS[field.node.name.value]
        fact = getattr(value, kind)
        doc = {
            kind: fact.doc if fact is not None else None,
            "userErrors": [{"path": e.path, "code": e.code, "message": e.message} for e in value.user_errors],
        }
        stmt = Statement(coerced, collect_ids=False, lens=lens)
        sql = stmt.root(t.Payload(field.obj, lambda _variables: doc))
        async with connect() as conn:
            row = await conn.fetchrow(statement([sql], collect_ids=False), *stmt.params.values)
        assert row is not None  # the statement selects from a one-row FROM
        text: str = row[0]
        return text.encode()
