"""REST reads as read plans: a list, a sub-collection, a relevance page or one fact becomes the
plan tree GraphQL's compiler produces for the same read (db/plan/tree.py) — a RootList, Search or
ById whose objects are the kind's canonical document, key by key, with ``fields`` choosing the
keys and ``expand`` reading ids through to documents — and db/plan/sql.py makes it one statement
in which PostgreSQL builds the response JSON. The same lens (asOf, recall rules), filters, orders,
cursors and relevance ranking as GraphQL's planned reads; Python passes the bytes on."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from api.rest.expand import RELATIONS
from db import search
from db.errors import BadUserInput, FieldError
from db.lens import Lens
from db.plan import tree as t
from db.plan.sources import row_columns
from db.plan.sql import Statement
from db.pool import Conn
from db.queries import PageRequest

_Expansion = t.Expanded | t.Patched


def expansions(kind: str, paths: tuple[str, ...]) -> dict[str, _Expansion]:
    """Document key → how ``expand``'s dotted ``paths`` read it (paths sharing a head merge)."""
    tree: dict[str, Any] = {}
    for path in paths:
        node = tree
        *heads, last = path.split(".")
        for head in heads:
            node = node.setdefault(head, {})
        node[last] = RELATIONS[kind][path]

    def build(key: str, value: Any) -> _Expansion:
        if isinstance(value, str):
            return t.Expanded(key, value)
        return t.Patched(key, tuple(build(k, v) for k, v in value.items()))

    return {key: build(key, value) for key, value in tree.items()}


@cache
def document(kind: str, *, fields: frozenset[str] | None, expand: tuple[str, ...], near: bool = False) -> t.Obj:
    """The canonical document of ``kind`` (``<kind>_doc``'s keys, read from the row), trimmed to
    ``fields``, with ``expand``'s relations read through; a ``near`` listing adds ``distanceKm``."""
    expanded = expansions(kind, expand)
    chosen = [
        t.Field(key, expanded.get(key) or t.Scalar(key)) for key in row_columns(kind) if fields is None or key in fields
    ]
    if near and fields is None:
        chosen.append(t.Field("distanceKm", t.EdgeDistance()))
    return t.Obj(kind, tuple(chosen))


def _page(data: t.Value) -> t.Connection:
    """``{"object": "list", "data": […], "hasMore": …, "nextCursor": …}``."""
    return t.Connection(
        (
            t.Field("object", t.Const("list")),
            t.Field("data", data),
            t.Field("hasMore", t.PageFlag("next")),
            t.Field("nextCursor", t.PageCursor("next")),
        )
    )


# Each root reads at the lens's time (its asOf, or the one its cursor carries).


def list_root(kind: str, obj: t.Obj, filters: dict[str, Any], request: PageRequest, lens: Lens) -> t.RootList:
    return t.RootList(kind, _page(t.Nodes(obj)), lambda _: (filters, request), lambda _: lens.as_of)


def relevance_root(
    kind: str, obj: t.Obj, filters: dict[str, Any], limit: int, cursor: str | None, lens: Lens
) -> t.Search:
    """``sort=relevance``: GraphQL's ``search`` ranking over one kind's filters."""
    after = search.decode_after(cursor, param="cursor")
    request = search.SearchRequest(filters["query"], {kind: filters}, limit, after)
    return t.Search(_page(t.UnionNodes({kind: obj})), lambda _: request, lambda _: lens.as_of)


def item_root(kind: str, obj: t.Obj, fact_id: str, lens: Lens) -> t.ById:
    return t.ById(kind, obj, lambda _: fact_id, lambda _: lens.as_of)


@dataclass(slots=True)  # not frozen: a frozen dataclass's __init__ costs a setattr call per field
class Answer:
    """A read's JSON (None when the fact is not there), ``updated``: the latest updatedAt of the
    facts it shows, ``tags``: their ``<id>.v<version>`` in order, ``parent``: whether the parent
    of a sub-collection exists (None when there is none)."""

    body: bytes | None
    updated: datetime | None
    tags: str | None
    parent: bool | None


class Statements:
    """Built statements by everything their text and parameters depend on (``key``), the most
    recently used ``keep``: building one costs more of the server's CPU than the rest of a read's
    Python, and clients ask the same reads again and again. A fact by id is kept without its id
    (one text per shape of item read), which each request binds anew."""

    def __init__(self, keep: int = 512) -> None:
        self.keep = keep
        self._built: OrderedDict[Hashable, tuple[str, list[Any], int | None]] = OrderedDict()

    def __contains__(self, key: Hashable) -> bool:
        return key in self._built

    def get(
        self,
        root: t.Root | Callable[[], t.Root],
        lens: Lens,
        parent: tuple[str, str] | None,
        key: Hashable,
        item_id: str | None = None,
    ) -> tuple[str, list[Any]]:
        """The statement of ``key``; ``root``: its plan tree, or what builds it (needed only when
        the statement is not kept: a kept statement's tree is not built); ``item_id``: the id a
        ById root binds (what its ``bind`` gives), bound without the tree."""
        found = self._built.get(key)
        if found is None:
            if callable(root):
                root = root()
            found = self._built[key] = _build(root, lens, parent)
            if len(self._built) > self.keep:
                self._built.popitem(last=False)
        else:
            self._built.move_to_end(key)
        sql, params, taken = found
        if taken is not None:
            params = [*params]
            if item_id is None:
                assert isinstance(root, t.ById)
                item_id = root.bind(None)
            params[taken] = item_id
        return sql, params


def _build(root: t.Root, lens: Lens, parent: tuple[str, str] | None) -> tuple[str, list[Any], int | None]:
    """The statement's text, its parameters and the index of the id a ById root takes."""
    stmt = Statement(None, collect_ids=False, lens=lens, validators=True)
    try:
        sql = stmt.root(root)
    except BadUserInput as exc:
        exc.errors = [FieldError(("query", *e.path), e.code, e.message) for e in exc.errors]
        raise
    probe = "NULL::bool"
    if parent is not None:
        source = lens.relation(parent[0], stmt.params)
        probe = f"EXISTS (SELECT 1 FROM {source} x WHERE x.id = {stmt.params.add(parent[1])}::text)"  # noqa: S608 - a lens relation
    taken = stmt.taken_params[0][0] if isinstance(root, t.ById) else None
    return (
        # The JSON as its UTF-8 bytes (bytea): asyncpg hands them over as they came, where text
        # was decoded to a str only to be encoded back to the same bytes (4 us of a 24 KB page).
        f"SELECT convert_to(r.j::text, 'UTF8') AS j, r.vu, r.vt, {probe} AS parent "  # noqa: S608 - a built plan
        f"FROM (SELECT 1) one LEFT JOIN LATERAL ({sql}) r ON true",
        stmt.params.values,
        taken,
    )


async def run(
    conn: Conn,
    statements: Statements,
    root: t.Root | Callable[[], t.Root],
    lens: Lens,
    *,
    key: Hashable,
    parent: tuple[str, str] | None = None,
    item_id: str | None = None,
) -> Answer:
    """One statement: the root's JSON and validators, and whether ``parent`` (kind, id) exists.
    ``key`` names everything the statement depends on but a ById root's id (``item_id``, when
    ``root`` builds the tree). A refused argument (a cursor) is named as the query parameter it is."""
    sql, params = statements.get(root, lens, parent, key, item_id)
    row = await conn.fetchrow(sql, *params)
    assert row is not None
    return Answer(row["j"], row["vu"], row["vt"], row["parent"])
