"""A GraphQL query operation compiled into a read plan (db/plan/tree.py), once per document and
operation name. Plain fields of the strawberry types map to their document keys by the same rule
``schema.common.from_doc`` uses; fields with resolvers map through ``schema/plan/fields.py``.
What cannot be planned raises Unplannable, and the operation runs on the resolvers."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    BooleanValueNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLEnumType,
    GraphQLField,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    NameNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    VariableNode,
    Visitor,
    get_named_type,
    visit,
)
from graphql.execution.values import get_argument_values

from db.plan import tree as t
from db.plan.tree import Unplannable

STRAWBERRY = "strawberry-definition"
# Directive conditions along a field's path: (skip?, literal or variable name).
Condition = tuple[tuple[bool, bool | str], ...]


@dataclass(frozen=True)
class Entry:
    node: FieldNode
    conditions: Condition


@dataclass(frozen=True)
class RootField:
    key: str
    nodes: tuple[FieldNode, ...]
    nullable: bool
    # None for __typename (answered without SQL).
    plan: t.Root | None
    # Ids the field is about, known from its arguments (asked for even when nothing is found).
    arg_ids: Callable[[Any], list[str]] | None = None
    include: t.Include | None = None
    # Fact families whose lists the field walks (``list:<kind>`` cache tags).
    lists: frozenset[str] = frozenset()


@dataclass
class Operation:
    document: DocumentNode
    operation: OperationDefinitionNode
    roots: tuple[RootField, ...]
    lists: frozenset[str]
    # The cost of a document without variables, computed once (schema/limits.py).
    fixed_cost: int | None = None
    # The whole response of a document that reads nothing (``{ __typename }``), kept once built.
    constant: bytes | None = None
    # Whether every variable is only the id of a root field by id (``claim(id: $id)``): the
    # statement's text is then the same for every request, only those ids change.
    ids_only: bool = False
    # A document without variables, or with ids only, builds the same statement text on every
    # request: run.py keeps it here by (lens, whether ids are collected), at most four entries.
    statements: dict[Any, Any] = field(default_factory=dict)

    @property
    def name(self) -> str | None:
        return self.operation.name.value if self.operation.name else None


# Handler of a field with a resolver: (compiler, owner type, field definition, entries) → value.
Handler = Callable[["Compiler", GraphQLObjectType, GraphQLField, list[Entry]], t.Value]
RootHandler = Callable[["Compiler", GraphQLField, list[Entry]], tuple[t.Root, Callable[[Any], list[str]] | None]]


class Compiler:
    def __init__(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        operation: OperationDefinitionNode,
        handlers: dict[tuple[str, str], Handler],
        roots: dict[str, RootHandler],
    ) -> None:
        self.schema = schema
        self.document = document
        self.operation = operation
        self.handlers = handlers
        self.root_handlers = roots
        self.fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        # ``list:<kind>`` families walked anywhere (connections, search): cache tags of the answer.
        self.lists: set[str] = set()

    # ---- selections ----------------------------------------------------------------------

    def collect(self, owner: GraphQLObjectType, entries: list[Entry]) -> dict[str, list[Entry]]:
        """The fields selected on ``owner`` under ``entries``' selection sets, by response key."""
        out: dict[str, list[Entry]] = {}
        # Each fragment once per condition: a second spread of it under the same condition adds
        # entries the first did (schema/limits.py's inlined_fields says why that is exponential).
        spread: set[tuple[str, Condition]] = set()
        for entry in entries:
            self._visit(owner, entry.node.selection_set, entry.conditions, out, spread)
        return out

    def _visit(
        self,
        owner: GraphQLObjectType,
        sel: SelectionSetNode | None,
        cond: Condition,
        out: dict[str, list[Entry]],
        spread: set[tuple[str, Condition]],
    ) -> None:
        for node in sel.selections if sel is not None else ():
            here = cond + _conditions(node.directives or ())
            if isinstance(node, FieldNode):
                key = node.alias.value if node.alias else node.name.value
                out.setdefault(key, []).append(Entry(node, here))
            elif isinstance(node, InlineFragmentNode):
                if node.type_condition is None or self._applies(node.type_condition.name.value, owner):
                    self._visit(owner, node.selection_set, here, out, spread)
            elif isinstance(node, FragmentSpreadNode) and (node.name.value, here) not in spread:
                spread.add((node.name.value, here))
                frag = self.fragments[node.name.value]
                if self._applies(frag.type_condition.name.value, owner):
                    self._visit(owner, frag.selection_set, here, out, spread)

    def _applies(self, condition: str, owner: GraphQLObjectType) -> bool:
        if condition == owner.name:
            return True
        abstract = self.schema.get_type(condition)
        return (
            abstract is not None
            and not isinstance(abstract, GraphQLObjectType)
            and (
                self.schema.is_sub_type(abstract, owner)  # type: ignore[arg-type]
            )
        )

    def include(self, entries: list[Entry], *, leaf: bool = False) -> t.Include | None:
        """Whether the response key is selected: when any of its entries is. Entries of an object
        field under different conditions would select different sub-fields per request."""
        conditions = list(dict.fromkeys(e.conditions for e in entries))
        if len(conditions) > 1 and not leaf:
            raise Unplannable("one object field under different @skip/@include conditions")
        checks = [_condition(c) for c in conditions]
        if any(check is None for check in checks):
            return None
        if len(checks) == 1:
            return checks[0]
        return lambda variables: any(check(variables) for check in checks if check is not None)

    # ---- objects -------------------------------------------------------------------------

    def object(self, owner: GraphQLObjectType, entries: list[Entry], kind: str | None) -> t.Obj:
        fields = []
        for key, here in self.collect(owner, entries).items():
            name = here[0].node.name.value
            if name == "__typename":
                value: t.Value = t.Const(owner.name)
            else:
                value = self.field(owner, owner.fields[name], here)
            fields.append(t.Field(key, value, self.include(here, leaf=isinstance(value, t.LEAVES))))
        return t.Obj(kind, tuple(fields))

    def field(self, owner: GraphQLObjectType, definition: GraphQLField, entries: list[Entry]) -> t.Value:
        name = entries[0].node.name.value
        handler = self.handlers.get((owner.name, name)) or self.handlers.get(("*", name))
        if handler is not None:
            return handler(self, owner, definition, entries)
        strawberry_field = (definition.extensions or {}).get(STRAWBERRY)
        if strawberry_field is not None and strawberry_field.base_resolver is None:
            named = get_named_type(definition.type)
            if isinstance(named, GraphQLEnumType):
                names = tuple((str(v.value), n) for n, v in named.values.items())
                return t.EnumScalar(name, names)
            if isinstance(named, GraphQLObjectType):
                raise Unplannable(f"{owner.name}.{name}: an object without a resolver")
            return t.Scalar(name)
        raise Unplannable(f"{owner.name}.{name} has no plan")

    def arguments(self, definition: GraphQLField, entries: list[Entry]) -> Callable[[Any], dict[str, Any]]:
        """The field's coerced arguments for one request's variables (as graphql-core gives them
        to resolvers: input objects as dicts, enums as members)."""
        node = entries[0].node
        if not node.arguments and not definition.args:
            return lambda _variables: {}
        return lambda variables: get_argument_values(definition, node, variables)

    # ---- the operation -------------------------------------------------------------------

    def compile(self) -> Operation:
        root_type = self.schema.query_type
        assert root_type is not None
        roots = []
        for key, here in self.collect(root_type, [Entry(_root_node(self.operation), ())]).items():
            name = here[0].node.name.value
            include = self.include(here)
            nodes = tuple(e.node for e in here)
            if name == "__typename":
                roots.append(RootField(key, nodes, False, None, include=include))
                continue
            handler = self.root_handlers.get(name)
            if handler is None:
                raise Unplannable(f"Query.{name} has no plan")
            definition = root_type.fields[name]
            before = set(self.lists)
            plan, arg_ids = handler(self, definition, here)
            nullable = not isinstance(definition.type, GraphQLNonNull)
            lists = frozenset(self.lists - before)
            roots.append(RootField(key, nodes, nullable, plan, arg_ids, include, lists))
        return Operation(self.document, self.operation, tuple(roots), frozenset(self.lists))


def _root_node(operation: OperationDefinitionNode) -> FieldNode:
    """A stand-in field node whose selection set is the operation's, so roots collect like fields."""
    return FieldNode(name=NameNode(value="query"), selection_set=operation.selection_set, directives=(), arguments=())


def _condition(cond: Condition) -> t.Include | None:
    """The test of one entry's directive conditions (None: always selected)."""
    if not cond:
        return None
    if all(isinstance(value, bool) for _, value in cond):
        if all(value != skip for skip, value in cond):
            return None
        return lambda _variables: False
    return lambda variables: all(
        (variables.coerced[value] if isinstance(value, str) else value) != skip for skip, value in cond
    )


def _conditions(directives: Any) -> Condition:
    out: list[tuple[bool, bool | str]] = []
    for d in directives:
        if d.name.value not in ("skip", "include"):
            continue
        (arg,) = d.arguments
        value = arg.value
        if isinstance(value, BooleanValueNode):
            out.append((d.name.value == "skip", value.value))
        elif isinstance(value, VariableNode):
            out.append((d.name.value == "skip", value.name.value))
        else:
            raise Unplannable("an @skip/@include condition that is neither literal nor variable")
    return tuple(out)


def compile_operation(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation: OperationDefinitionNode,
    handlers: dict[tuple[str, str], Handler],
    roots: dict[str, RootHandler],
) -> Operation:
    """The plan of a validated query operation, or Unplannable."""
    if operation.operation is not OperationType.QUERY:
        raise Unplannable(f"{operation.operation.value} operations run on the resolvers")
    op = Compiler(schema, document, operation, handlers, roots).compile()
    op.ids_only = bool(operation.variable_definitions) and _ids_only(document, op)
    return op


class _VariableUses(Visitor):
    """How often each variable is used anywhere in a document (fragments included, whether the
    operation spreads them or not: counting too many only makes ``_ids_only`` say no)."""

    def __init__(self) -> None:
        super().__init__()
        self.uses: Counter[str] = Counter()

    def enter_variable_definition(self, *_: Any) -> Any:
        return self.SKIP  # a definition's ``$name`` is not a use

    def enter_variable(self, node: VariableNode, *_: Any) -> None:
        self.uses[node.name.value] += 1


def _ids_only(document: DocumentNode, op: Operation) -> bool:
    """True when each use of each variable is the ``id`` argument of a root field planned by
    id: its value then reaches the statement only as that root's bind parameter, so the text
    is the same whatever the ids (their kind, too, is the field's: check_id refuses others)."""
    as_ids: Counter[str] = Counter()
    for root in op.roots:
        if not isinstance(root.plan, t.ById):
            continue
        for node in root.nodes:
            for argument in node.arguments or ():
                if argument.name.value == "id" and isinstance(argument.value, VariableNode):
                    as_ids[argument.value.name.value] += 1
    counter = _VariableUses()
    visit(document, counter)
    return bool(as_ids) and counter.uses == as_ids
