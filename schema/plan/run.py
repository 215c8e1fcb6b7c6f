"""Planned execution of GraphQL reads: a document is parsed, validated (the schema's own rules and
limits) and compiled once into a plan, kept in a bounded cache; each request then costs its
variables' coercion, one SQL statement built from the plan (or kept with it, when no request can
change its text), and splicing PostgreSQL's JSON into the response bytes — no Python object per
field. Whatever the planner cannot answer identically (other operation types, webhooks,
introspection, errors inside lists, invalid documents) returns None, and the caller runs the
resolvers, which stay the reference."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any

import orjson
from graphql import (
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    get_operation_ast,
    parse,
    specified_rules,
    validate,
)
from graphql.execution.values import VariableValues, get_variable_values

from db.errors import NewsfactsError, NotFound
from db.lens import Lens
from db.plan import tree as t
from db.plan.sql import Statement, statement
from db.pool import Conn
from schema.errors import format_error
from schema.limits import Limits, alias_rule, cost_is_fixed, depth_rule, query_cost
from schema.plan.cache import PlanCache
from schema.plan.compile import Operation, compile_operation
from schema.plan.fields import HANDLERS, ROOTS

Connect = Callable[[], AbstractAsyncContextManager[Conn]]
_NO_VARIABLES = VariableValues({}, {})


@dataclass
class Answer:
    """A planned response: its JSON bytes and what it read (the response cache's tags)."""

    body: bytes
    touched: set[str] = field(default_factory=set)
    cacheable: bool = True


@dataclass(slots=True)
class _Built:
    """One request's statement (None when nothing is read), its bind parameters, and what its
    answer is assembled from: a slot per root (the statement's column pair, or constant JSON),
    each planned root, and the errors and ids known before it runs."""

    slots: list[tuple[str, Any]]
    sql: str | None
    params: list[Any]
    planned: list[tuple[t.Root, Any]]
    errors: list[GraphQLError]
    touched: set[str]  # the ids known before it runs, but those of root arguments (per request)
    taken_params: list[tuple[int, t.Bind]]  # root ids: (index into params, bind)

    def with_ids(self, variables: Any) -> _Built | None:
        """This statement for another request of an ``ids_only`` document: the same text, its ids
        bound anew; None when one of them is refused (that request builds its own statement,
        in which the root that refused it is null)."""
        params = list(self.params)
        try:
            for index, bind in self.taken_params:
                params[index] = bind(variables)
        except NewsfactsError:
            return None
        return _Built(self.slots, self.sql, params, self.planned, self.errors, self.touched, self.taken_params)


class Planner:
    def __init__(self, schema: GraphQLSchema, limits: Limits, *, production: bool) -> None:
        self.schema = schema
        self.limits = limits
        self.production = production
        self.rules = [*specified_rules, depth_rule(limits.max_depth), alias_rule(limits.max_aliases)]
        self._plans: PlanCache[Operation | None] = PlanCache()

    def plan(self, query: str, operation_name: str | None) -> Operation | None:
        """The compiled plan of a query operation (cached), or None for the resolvers."""
        return self._plans.get(query, operation_name, self._compile)

    def validated(self, query: str, operation_name: str | None) -> tuple[DocumentNode, OperationDefinitionNode] | None:
        """The parsed document and its operation when both are valid under the schema's rules and
        limits; None leaves wording every refusal to the resolvers' path."""
        try:
            document = parse(query, max_tokens=self.limits.max_tokens)
        except GraphQLError:
            return None
        if validate(self.schema, document, self.rules):
            return None
        operation = get_operation_ast(document, operation_name)
        if not isinstance(operation, OperationDefinitionNode):
            return None
        return document, operation

    def _compile(self, query: str, operation_name: str | None) -> Operation | None:
        found = self.validated(query, operation_name)
        if found is None:
            return None
        document, operation = found
        try:
            op = compile_operation(self.schema, document, operation, HANDLERS, ROOTS)
        except t.Unplannable:
            return None
        if cost_is_fixed(document):
            # No page size comes from a variable: every request costs the same, computed once.
            op.fixed_cost = query_cost(self.schema, document, None, op.name)
        return op

    def admit(
        self,
        document: DocumentNode,
        operation: OperationDefinitionNode,
        variables: dict[str, Any] | None,
        cost: int | None = None,
    ) -> tuple[Any, int] | None:
        """(coerced variables, cost) of one request, or None when its variables fail coercion or it
        is over the cost budget — refusals the resolvers' path words, for queries and subscriptions.
        ``cost``: the document's, when no variable changes it."""
        coerced = get_variable_values(self.schema, operation.variable_definitions or (), variables or {})
        if isinstance(coerced, list):
            return None
        if cost is None:
            name = operation.name.value if operation.name else None
            cost = query_cost(self.schema, document, variables, name)
        return None if cost > self.limits.max_cost else (coerced, cost)

    async def execute(
        self,
        op: Operation,
        variables: dict[str, Any] | None,
        connect: Connect,
        *,
        collect_ids: bool,
        lens: Lens,
        extensions: bool = True,
    ) -> Answer | None:
        """The response to one request of ``op``, or None when it must run on the resolvers;
        ``extensions=False`` leaves out ``extensions.cost`` (graphql-transport-ws results carry
        data and errors only)."""
        # A document that declares no variables needs no coercion: its request is its document.
        bare = op.fixed_cost is not None and not variables and not op.operation.variable_definitions
        if bare:
            assert op.fixed_cost is not None
            if op.constant is not None and extensions:
                return Answer(op.constant)
            if op.fixed_cost > self.limits.max_cost:
                return None
            coerced, cost = _NO_VARIABLES, op.fixed_cost
        else:
            admitted = self.admit(op.document, op.operation, variables, op.fixed_cost)
            if admitted is None:
                return None
            coerced, cost = admitted
        built = self._statement(op, coerced, bare, collect_ids=collect_ids, lens=lens)
        if built is None:
            return None
        slots, planned = built.slots, built.planned
        errors, touched = list(built.errors), set(built.touched)
        if collect_ids:
            for _, root in planned:
                if root.arg_ids is not None:
                    touched.update(root.arg_ids(coerced))
        row: Any = None
        if built.sql is not None:
            async with connect() as conn:
                row = await conn.fetchrow(built.sql, *built.params)
        out = [b'{"data":{']
        for n, (key, slot) in enumerate(slots):
            if n:
                out.append(b",")
            out.append(f'"{key}":'.encode())
            if isinstance(slot, str):
                out.append(slot.encode())
                continue
            text = row[2 * slot]
            if collect_ids and (ids := row[2 * slot + 1]):
                touched.update(ids.split())
            if text is None:
                plan, root = planned[slot]
                missing = _not_found(plan, coerced)
                if missing is not None:
                    errors.append(_located(missing, root))
                text = "null"
            out.append(text.encode())
        out.append(b"}")
        if errors:
            out.append(b',"errors":')
            out.append(orjson.dumps([format_error(e, production=self.production) for e in errors]))
        if extensions:
            out.append(b',"extensions":')
            out.append(orjson.dumps({"cost": {"requested": cost, "limit": self.limits.max_cost}}))
        out.append(b"}")
        body = b"".join(out)
        if extensions and bare and built.sql is None and not errors:
            op.constant = body  # nothing read and nothing variable: every request gets these bytes
        return Answer(body, touched)

    def _statement(self, op: Operation, coerced: Any, bare: bool, *, collect_ids: bool, lens: Lens) -> _Built | None:
        """One request's statement: built, or kept from an earlier request of a document whose
        text cannot differ between requests (no variables, or only root ids: ``ids_only``)."""
        if not (bare or op.ids_only):
            return self._build(op, coerced, collect_ids=collect_ids, lens=lens)
        memo = (lens, collect_ids)
        kept: _Built | None = op.statements.get(memo)
        if kept is not None:
            again = kept if bare else kept.with_ids(coerced)
            if again is not None:
                return again
        elif bare and memo in op.statements:
            return None  # kept as unplannable
        built = self._build(op, coerced, collect_ids=collect_ids, lens=lens)
        # With ids, only a statement in which every root was built serves the next request: a
        # refused id made its root a null, which another id's request would not be.
        if bare or (built is not None and not built.errors):
            op.statements[memo] = built
        return built

    def _build(self, op: Operation, coerced: Any, *, collect_ids: bool, lens: Lens) -> _Built | None:
        """One request's statement and how its answer is assembled, or None for the resolvers."""
        stmt = Statement(coerced, collect_ids=collect_ids, lens=lens)
        slots: list[tuple[str, Any]] = []  # (key, index into sqls | constant JSON text)
        sqls: list[str] = []
        planned: list[tuple[t.Root, Any]] = []
        errors: list[GraphQLError] = []
        touched: set[str] = set()
        try:
            for root in op.roots:
                if root.include is not None and not root.include(coerced):
                    continue
                if root.plan is None:
                    slots.append((root.key, '"Query"'))
                    continue
                plan = root.plan.choose(coerced) if isinstance(root.plan, t.Choice) else root.plan
                mark = len(stmt.params.values)
                try:
                    sql = stmt.root(plan)
                except NewsfactsError as exc:
                    del stmt.params.values[mark:]
                    stmt.taken_params = [(i, bind) for i, bind in stmt.taken_params if i < mark]
                    if not root.nullable:
                        return None  # a null non-null root nulls all data: the resolvers say so
                    errors.append(_located(exc, root))
                    slots.append((root.key, "null"))
                    continue
                if collect_ids:
                    touched.update(f"list:{kind}" for kind in root.lists)
                slots.append((root.key, len(sqls)))
                sqls.append(sql)
                planned.append((plan, root))
        except t.Unplannable:
            return None
        whole = statement(sqls, collect_ids=collect_ids) if sqls else None
        return _Built(slots, whole, stmt.params.values, planned, errors, touched, stmt.taken_params)


def _not_found(plan: t.Root, variables: Any) -> NewsfactsError | None:
    """The error the resolvers raise for a root that found nothing (``node`` finds null quietly)."""
    if isinstance(plan, t.ById | t.ByUri):
        as_of = plan.when(variables)
        when = f" at {as_of}" if as_of else ""
        if isinstance(plan, t.ByUri):
            return NotFound(f"no article with uri {plan.bind(variables)}{when}")
        fact_id = plan.bind(variables)
        return NotFound(f"no {plan.kind} with id {fact_id}{when}", id=fact_id)
    return None


def _located(exc: NewsfactsError, root: Any) -> GraphQLError:
    return GraphQLError(str(exc), nodes=list(root.nodes), path=[root.key], original_error=exc)


__all__ = ["Answer", "AsyncIterator", "Planner"]
