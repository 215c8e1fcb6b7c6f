"""Relay's Node interface over our prefixed ids (the same ids REST serves, used as-is as global
ids), the Fact interface every fact type shares, and the helpers root fields and relations use to
turn documents into typed objects and keyset pages into connections."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

import strawberry
from strawberry.types import Info

from db import pagination, queries
from db.errors import BadUserInput, FieldError, NotFound
from db.ids import PREFIXES
from db.registry import fact_type, type_of_id
from schema import connections
from schema.aggregates import Scope
from schema.common import DateTime, Revision, from_doc, from_docs, page_size
from schema.context import Context
from schema.kinds import class_for
from schema.links import linked, linked_one
from schema.prefetch import prefetch

__all__ = ["Fact", "Node", "check_id", "fetch_one", "linked", "linked_one", "list_connection", "related"]


@strawberry.interface(description="An object with a global id: the prefixed id REST uses too (clm_…, act_…).")
class Node:
    id: strawberry.ID


@strawberry.interface(description="A fact: versioned, revisable, retractable.")
class Fact(Node):
    created_at: DateTime
    updated_at: DateTime
    version: int
    retracted_at: DateTime | None
    doc: strawberry.Private[dict[str, Any]]

    @strawberry.field(description="Every version of this fact, oldest first (with asOf, those made by then).")
    async def revisions(self, info: Info[Context, None]) -> list[Revision]:
        return from_docs(Revision, await asyncio.shield(info.context.loaders_for(info).revisions.load(self.id)))


def check_id(value: str, kind: str | None = None, *, argument: str = "id") -> str:
    """The fact kind ``value`` names; a malformed id, or one of another kind, is BAD_USER_INPUT."""
    t = type_of_id(value)
    if t is None or (kind is not None and t.kind != kind):
        expected = f"{PREFIXES[kind]}_<26 characters>" if kind else "<prefix>_<26 characters>"
        raise BadUserInput(
            f"{argument}: {value!r} is not {'a ' + kind if kind else 'an'} id (expected {expected})",
            errors=[FieldError((argument,), "INVALID_ID", f"must look like {expected}")],
        )
    return t.kind


async def fetch_one(info: Info[Context, None], kind: str, fact_id: str, as_of: str | None) -> Any:
    """One fact by id (as it stood at ``as_of`` when given); unknown ids are NOT_FOUND."""
    check_id(fact_id, kind)
    found = await info.context.read_at(info, as_of).fact(kind, fact_id)
    if found is None:
        when = f" at {as_of}" if as_of else ""
        raise NotFound(f"no {kind} with id {fact_id}{when}", id=fact_id)
    return found


def page_request(
    order: str, descending: bool, first: int | None, after: str | None, last: int | None, before: str | None
) -> queries.PageRequest:
    """A root connection's page arguments, validated: ``first``/``after`` walk forward,
    ``last``/``before`` backward (shared with the read planner, so refusals read the same)."""
    size = page_size(first, last)
    if after is not None and before is not None:
        raise BadUserInput(
            "pass after or before, not both",
            errors=[FieldError(("before",), "CONFLICTING_ARGUMENTS", "use after or before")],
        )
    backward = last is not None or before is not None
    cursor = before if backward else after
    if cursor is not None:  # decoded here too so the error names the GraphQL argument
        pagination.decode(cursor, order=order, param="before" if backward else "after")
    return queries.PageRequest(size, cursor, order, descending, backward)


def page_time(request: queries.PageRequest, as_of: str | None) -> str | None:
    """The time a root page reads at: its asOf, or the one its cursor carries."""
    param = "before" if request.backward else "after"
    return pagination.as_of_of(request.cursor, as_of, order=request.order, param=param)


async def list_connection(
    info: Info[Context, None],
    kind: str,
    raw_filter: dict[str, Any],
    order: str,
    descending: bool,
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
    as_of: str | None = None,
) -> Any:
    """A root keyset connection: ``first``/``after`` walk forward, ``last``/``before`` backward."""
    t = fact_type(kind)
    filters = queries.parse_filters(t, raw_filter)
    request = page_request(order, descending, first, after, last, before)
    lens = info.context.read_at(info, page_time(request, as_of)).lens
    backward = request.backward
    ctx = info.context
    ctx.touch_list(kind)
    async with ctx.connection() as conn:
        page = await queries.list_page(conn, kind, filters, request, lens=lens)

    async def counter() -> int:
        async with ctx.connection() as conn:
            return await queries.count(conn, kind, filters, lens=lens)

    cls = class_for(kind)
    nodes: list[Any] = [from_doc(cls, d) for d in page.docs]
    await prefetch(info, kind, nodes)
    scope = Scope(ctx, kind, filters, lens)
    distances = [d.get("distanceKm") for d in page.docs]
    has_next, has_previous = (before is not None, page.has_more) if backward else (page.has_more, after is not None)
    return connections.page(
        kind, nodes, page.cursors, has_next=has_next, has_previous=has_previous, counter=counter, scope=scope,
        distances=distances,
    )  # fmt: skip


async def related(
    info: Info[Context, None], kind: str, relation: str, parent_id: str, first: int | None, after: str | None
) -> Any:
    """A nested connection (facts of ``kind`` pointing at ``parent_id``), batched across parents."""
    size = page_size(first, None)
    loaders = info.context.loaders_for(info)
    after_id = pagination.after_id(after, as_of=loaders.lens.as_of, order="createdAt")
    docs, cursors, more = await asyncio.shield(loaders.related.load((kind, relation, parent_id, size, after_id)))

    def counter() -> Awaitable[int]:
        return asyncio.shield(loaders.related_count.load((kind, relation, parent_id)))

    cls = class_for(kind)
    nodes: list[Any] = [from_doc(cls, d) for d in docs]
    await prefetch(info, kind, nodes)
    scope = Scope(info.context, kind, {}, loaders.lens, related=(relation, parent_id))
    return connections.page(
        kind, nodes, cursors, has_next=more, has_previous=after is not None, counter=counter, scope=scope
    )


@strawberry.type
class NodeQueries:
    @strawberry.field(description="Any fact by its global id; null when no fact has it (with asOf, had it then).")
    async def node(self, info: Info[Context, None], id: strawberry.ID, as_of: DateTime | None = None) -> Node | None:
        kind = check_id(id)
        return await info.context.read_at(info, as_of).fact(kind, id)  # type: ignore[no-any-return]

    @strawberry.field(description="Facts by global id, in the order asked (null where unknown). At most 100.")
    async def nodes(
        self, info: Info[Context, None], ids: list[strawberry.ID], as_of: DateTime | None = None
    ) -> list[Node | None]:
        if len(ids) > queries.MAX_PAGE:
            raise BadUserInput(
                f"at most {queries.MAX_PAGE} ids", errors=[FieldError(("ids",), "TOO_MANY", "at most 100")]
            )
        kinds = [check_id(i, argument=f"ids[{n}]") for n, i in enumerate(ids)]
        loaders = info.context.read_at(info, as_of)
        return list(await asyncio.gather(*(loaders.fact(k, i) for k, i in zip(kinds, ids, strict=True))))
