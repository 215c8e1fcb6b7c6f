"""Limits a hostile query hits before it costs anything: depth and alias counts (validation rules,
cached with the document), tokens (the parser's own limit), and a GitHub-style cost computed from
the document and its variables before execution — every object counts once per parent it may be
fetched for, connections multiply their nodes by ``first``/``last`` — reported in
``extensions.cost`` and refused with QUERY_TOO_COMPLEX over budget."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from graphql import (
    ArgumentNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLList,
    GraphQLNonNull,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
    Visitor,
    get_named_type,
    value_from_ast_untyped,
    visit,
)
from graphql import ExecutionResult as GraphQLExecutionResult
from graphql.language.visitor import BREAK, SKIP
from strawberry.extensions import SchemaExtension

TOO_COMPLEX = "QUERY_TOO_COMPLEX"
DEFAULT_PAGE = 20


@dataclass(frozen=True)
class Limits:
    max_depth: int = 12
    max_aliases: int = 30
    max_tokens: int = 2_000
    max_cost: int = 5_000


def too_complex(message: str, **extra: Any) -> GraphQLError:
    return GraphQLError(message, extensions={"code": TOO_COMPLEX, **extra})


def _fragments(document: Any) -> dict[str, FragmentDefinitionNode]:
    return {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}


def inlined_fields(
    selection_set: SelectionSetNode | None,
    fragments: dict[str, FragmentDefinitionNode],
    spread: set[str] | None = None,
) -> Iterator[Any]:
    """Field nodes of a selection set (with the type condition they sit under), fragments inlined,
    each fragment once (``spread``: those inlined into this selection set so far). Its second
    spread into the same selection set adds nothing the first did not (the two merge, with the
    same type condition), and a spread inside itself is a cycle, which validation refuses. Inlined
    at every spread instead, ``F0 { ...F1 ...F1 } F1 { ...F2 ...F2 } …`` made 2^n fields of a
    document of 40 n bytes (the event loop held 4 s at 784 bytes), and a cycle never ended."""
    if selection_set is None:
        return
    if spread is None:
        spread = set()
    for node in selection_set.selections:
        if isinstance(node, FieldNode):
            yield node, None
        elif isinstance(node, InlineFragmentNode):
            cond = node.type_condition.name.value if node.type_condition else None
            for inner, c in inlined_fields(node.selection_set, fragments, spread):
                yield inner, c or cond
        elif isinstance(node, FragmentSpreadNode) and node.name.value in fragments and node.name.value not in spread:
            spread.add(node.name.value)
            frag = fragments[node.name.value]
            for inner, c in inlined_fields(frag.selection_set, fragments, spread):
                yield inner, c or frag.type_condition.name.value


def depth_rule(max_depth: int) -> type[ValidationRule]:
    class MaxDepth(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            fragments = _fragments(context.document)
            for op in context.document.definitions:
                if isinstance(op, OperationDefinitionNode):
                    depth = self._depth(op.selection_set, fragments, 0)
                    if depth > max_depth:
                        context.report_error(
                            too_complex(f"query depth {depth} exceeds the limit of {max_depth}", limit="depth")
                        )

        def _depth(self, sel: SelectionSetNode | None, fragments: dict[str, FragmentDefinitionNode], level: int) -> int:
            deepest = level
            # The limit stops recursion, and validation rejects fragment cycles separately.
            if level > max_depth:
                return level
            for node, _ in inlined_fields(sel, fragments):
                if node.name.value.startswith("__"):
                    continue
                child = self._depth(node.selection_set, fragments, level + 1) if node.selection_set else level + 1
                deepest = max(deepest, child)
            return deepest

    return MaxDepth


def alias_rule(max_aliases: int) -> type[ValidationRule]:
    class MaxAliases(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            self.count = 0

        def enter_field(self, node: FieldNode, *_: Any) -> None:
            if node.alias is not None:
                self.count += 1
                if self.count == max_aliases + 1:
                    self.report_error(too_complex(f"more than {max_aliases} aliases in the document", limit="aliases"))

    return MaxAliases


def query_cost(schema: GraphQLSchema, document: Any, variables: dict[str, Any] | None, operation: str | None) -> int:
    """The potential number of objects a query fetches (see module docstring)."""
    fragments = _fragments(document)
    ops = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    op = next((o for o in ops if operation is None or (o.name and o.name.value == operation)), None)
    if op is None:
        return 0
    root = schema.get_root_type(op.operation)
    if root is None:
        return 0
    return _cost(schema, root, op.selection_set, fragments, variables or {}, 1, 1)


# The only arguments a query's cost reads: page sizes and the ids of ``nodes``.
SIZE_ARGUMENTS = frozenset({"first", "last", "ids"})


def cost_is_fixed(document: DocumentNode) -> bool:
    """Whether no size argument in ``document`` takes a variable, so that its cost is the same
    for every request whatever its variables (it is then computed once, with the plan)."""
    finder = _SizeVariable()
    visit(document, finder)
    return not finder.found


class _SizeVariable(Visitor):
    """Finds a variable inside a size argument (``first: $n``, ``ids: [$a, "x"]``): every other
    place a variable stands (its definition, other arguments, directives) is skipped, so any
    variable reached is one."""

    def __init__(self) -> None:
        super().__init__()
        self.found = False

    def enter_argument(self, node: ArgumentNode, *_: Any) -> Any:
        return None if node.name.value in SIZE_ARGUMENTS else SKIP

    def enter_variable_definition(self, *_: Any) -> Any:
        return SKIP

    def enter_directive(self, *_: Any) -> Any:
        return SKIP

    def enter_variable(self, *_: Any) -> Any:
        self.found = True
        return BREAK


def _size(args: dict[str, Any], *names: str) -> int | None:
    for name in names:
        value = args.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            return max(1, min(value, 100))
        if name == "ids" and isinstance(value, list):
            return max(1, len(value))
    return None


def _cost(
    schema: GraphQLSchema,
    parent: Any,
    sel: SelectionSetNode | None,
    fragments: dict[str, FragmentDefinitionNode],
    variables: dict[str, Any],
    multiplier: int,
    page: int,
) -> int:
    """Objects under ``sel``: each object field counts once per parent instance (``multiplier``);
    inside a connection, ``nodes`` and ``edges`` count once per item of the page (``page``)."""
    total = 0
    for node, condition in inlined_fields(sel, fragments):
        owner = schema.get_type(condition) if condition else parent
        fields = getattr(owner, "fields", None)
        if not fields or node.name.value not in fields:
            continue
        field = fields[node.name.value]
        named = get_named_type(field.type)
        if not hasattr(named, "fields") and not hasattr(named, "types"):
            continue  # scalars and enums are free
        m = multiplier * page if node.name.value in ("nodes", "edges") and page > 1 else multiplier
        # Argument defaults count too (``search`` fetches its default 20 when ``first`` is omitted).
        args = {name: arg.default_value for name, arg in field.args.items() if isinstance(arg.default_value, int)}
        args.update({a.name.value: value_from_ast_untyped(a.value, variables) for a in node.arguments or ()})
        if named.name.endswith("Connection"):
            size = _size(args, "first", "last") or DEFAULT_PAGE
            total += m + _cost(schema, named, node.selection_set, fragments, variables, m, size)
        elif _is_list(field.type) and (items := _size(args, "first", "ids")) is not None:
            total += m * items + _cost(schema, named, node.selection_set, fragments, variables, m * items, 1)
        else:
            total += m + _cost(schema, named, node.selection_set, fragments, variables, m, 1)
    return total


def _is_list(t: Any) -> bool:
    if isinstance(t, GraphQLNonNull):
        t = t.of_type
    return isinstance(t, GraphQLList)


class QueryCost(SchemaExtension):
    """Computes the cost before execution, refuses over-budget queries, reports it in extensions."""

    def __init__(self, max_cost: int) -> None:
        self.max_cost = max_cost
        self.cost: int | None = None

    def on_execute(self) -> Iterator[None]:
        ec = self.execution_context
        if ec.graphql_document is not None:
            self.cost = query_cost(ec.schema._schema, ec.graphql_document, ec.variables, ec.operation_name)
            if self.cost > self.max_cost:
                ec.result = GraphQLExecutionResult(
                    data=None,
                    errors=[
                        too_complex(
                            f"query cost {self.cost} exceeds the budget of {self.max_cost}; ask for smaller pages",
                            limit="cost",
                            cost=self.cost,
                            maxCost=self.max_cost,
                        )
                    ],
                )
        yield

    def get_results(self) -> dict[str, Any]:
        if self.cost is None:
            return {}
        return {"cost": {"requested": self.cost, "limit": self.max_cost}}
