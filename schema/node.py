"""Relay's Node interface over our prefixed ids (the same ids REST serves, used as-is as global
ids), the Fact interface every fact type shares, and the helpers root fields and relations use to
turn documents into typed objects and keyset pages into connections."""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Awaitable
from typing import Any

import strawberry
from strawberry.types import Info

from db import pagination, queries
from db.errors import BadUserInput, FieldError, NotFound
from db.ids import PREFIXES
from db.kinds import KINDS
from db.registry import fact_type, type_of_id
from schema.common import Connection, DateTime, Revision, connection, from_doc, from_docs, page_size
from schema.context import Context
from schema.prefetch import prefetch


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

    @strawberry.field(description="Every version of this fact, oldest first.")
    async def revisions(self, info: Info[Context, None]) -> list[Revision]:
        return from_docs(Revision, await info.context.loaders.revisions.load(self.id))


_CLASSES: dict[str, type] = {}


def class_for(kind: str) -> type:
    """The strawberry type of a kind (imported on first use: the type modules import this one)."""
    if not _CLASSES:
        # Each kind's type is schema.<plural>.<Title> (the registry's names, db/kinds.py).
        for k in KINDS:
            _CLASSES[k.name] = getattr(importlib.import_module(f"schema.{k.plural}"), k.title)
    return _CLASSES[kind]


def as_object(doc: dict[str, Any]) -> Any:
    return from_doc(class_for(doc["object"]), doc)


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
    ctx = info.context
    if as_of is None:
        found = await ctx.loaders.fact(kind, fact_id)
    else:
        ctx.touched.add(fact_id)
        async with ctx.connection() as conn:
            doc = await queries.get_as_of(conn, fact_id, as_of)
        found = None if doc is None else from_doc(class_for(kind), doc)
    if found is None:
        when = f" at {as_of}" if as_of else ""
        raise NotFound(f"no {kind} with id {fact_id}{when}", id=fact_id)
    return found


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
) -> Connection[Any]:
    """A root keyset connection: ``first``/``after`` walk forward, ``last``/``before`` backward."""
    t = fact_type(kind)
    filters = queries.parse_filters(t, raw_filter)
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
    request = queries.PageRequest(size, cursor, order, descending, backward)
    ctx = info.context
    ctx.touch_list(kind)
    async with ctx.connection() as conn:
        page = await queries.list_page(conn, kind, filters, request)

    async def counter() -> int:
        async with ctx.connection() as conn:
            return await queries.count(conn, kind, filters)

    cls = class_for(kind)
    nodes: list[Any] = [from_doc(cls, d) for d in page.docs]
    await prefetch(info, kind, nodes)
    if backward:
        return connection(nodes, page.cursors, has_next=before is not None, has_previous=page.has_more, counter=counter)
    return connection(nodes, page.cursors, has_next=page.has_more, has_previous=after is not None, counter=counter)


async def related(
    info: Info[Context, None], kind: str, relation: str, parent_id: str, first: int | None, after: str | None
) -> Connection[Any]:
    """A nested connection (facts of ``kind`` pointing at ``parent_id``), batched across parents."""
    size = page_size(first, None)
    after_id = pagination.decode(after, order="createdAt", param="after").id if after else None
    loaders = info.context.loaders
    docs, cursors, more = await loaders.related.load((kind, relation, parent_id, size, after_id))

    def counter() -> Awaitable[int]:
        return loaders.related_count.load((kind, relation, parent_id))

    cls = class_for(kind)
    nodes: list[Any] = [from_doc(cls, d) for d in docs]
    await prefetch(info, kind, nodes)
    return connection(nodes, cursors, has_next=more, has_previous=after is not None, counter=counter)


def linked(info: Info[Context, None], kind: str, ids: list[str] | None) -> Any:
    """The related facts: a list when already loaded, else an awaitable of it."""
    return info.context.loaders.facts(kind, ids)


def linked_one(info: Info[Context, None], kind: str, fact_id: str | None) -> Any:
    """The related fact as an awaitable (the loader's future), or None: resolvers return it as is."""
    return info.context.loaders.fact(kind, fact_id)


@strawberry.type
class NodeQueries:
    @strawberry.field(description="Any fact by its global id; null when no fact has it.")
    async def node(self, info: Info[Context, None], id: strawberry.ID) -> Node | None:
        kind = check_id(id)
        return await info.context.loaders.fact(kind, id)  # type: ignore[no-any-return]

    @strawberry.field(description="Facts by global id, in the order asked (null where unknown). At most 100.")
    async def nodes(self, info: Info[Context, None], ids: list[strawberry.ID]) -> list[Node | None]:
        if len(ids) > queries.MAX_PAGE:
            raise BadUserInput(
                f"at most {queries.MAX_PAGE} ids", errors=[FieldError(("ids",), "TOO_MANY", "at most 100")]
            )
        kinds = [check_id(i, argument=f"ids[{n}]") for n, i in enumerate(ids)]
        loaders = info.context.loaders
        return list(await asyncio.gather(*(loaders.fact(k, i) for k, i in zip(kinds, ids, strict=True))))
