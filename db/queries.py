"""Reads: one fact, many facts by id (for DataLoaders), a fact as of a time, and filtered keyset
pages. PostgreSQL filters, orders and builds each document (``<kind>_doc``); Python only passes
them through."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from db import pagination
from db.errors import BadUserInput, FieldError
from db.facts import FactType, OrderDef
from db.fields import INVALID, Checks
from db.geo import distance_sql
from db.lens import Lens
from db.params import Params
from db.pool import Conn
from db.registry import fact_type
from db.relations import revisions_of

MAX_PAGE = 100


@dataclass(frozen=True)
class PageRequest:
    """``limit`` rows after (or, ``backward``, before) ``cursor`` in ``order``, ascending unless ``descending``."""

    limit: int = 20
    cursor: str | None = None
    order: str = "createdAt"
    descending: bool = False
    backward: bool = False


@dataclass(frozen=True)
class Page:
    docs: list[dict[str, Any]]
    cursors: list[str]
    has_more: bool

    @property
    def end_cursor(self) -> str | None:
        return self.cursors[-1] if self.cursors else None

    @property
    def start_cursor(self) -> str | None:
        return self.cursors[0] if self.cursors else None


def parse_filters(t: FactType, raw: Mapping[str, Any], *, location: str = "filter") -> dict[str, Any]:
    """Validate filter values by name; unknown names and bad values are BadUserInput naming each."""
    checks = Checks()
    parsed: dict[str, Any] = {}
    for name, value in raw.items():
        if value is None:
            continue
        f = t.filter(name)
        if f is None:
            checks.fail((location, name), "UNKNOWN_FILTER", f"is not a filter of {t.table}")
            continue
        result = f.parse(value, (location, name), checks)
        if result is not INVALID:
            parsed[name] = result
    if checks.errors:
        raise BadUserInput(f"invalid {location}: {checks.errors[0].message}", errors=checks.errors)
    return parsed


def where_clauses(t: FactType, filters: Mapping[str, Any], params: Params) -> list[str]:
    clauses = []
    for name, value in filters.items():
        f = t.filter(name)
        assert f is not None, name
        clauses.append("(" + f.sql.format(p=params.add(value)) + ")")
    return clauses


def order_key(t: FactType, order: OrderDef, filters: Mapping[str, Any], params: Params) -> str:
    """The SQL of ``order``'s key; an order that needs a filter's value (distance: ``near``'s
    centre) binds it, and without that filter is refused, naming ``orderBy``."""
    if order.needs is None:
        return order.key
    if order.needs not in filters:
        raise BadUserInput(
            f"ordering by {order.name} needs the {order.needs} filter",
            errors=[FieldError(("orderBy",), f"{order.needs.upper()}_REQUIRED", f"give the {order.needs} filter too")],
        )
    return order.key.replace("{" + order.needs + "}", params.add(filters[order.needs]))


def page_clauses(
    t: FactType, filters: Mapping[str, Any], page: PageRequest, params: Params
) -> tuple[list[str], str, str]:
    """The WHERE conditions (filters and the cursor's keyset bound), the ORDER BY list and the
    order's key of one keyset page, in the table alias ``t.alias``. Shared by the list queries
    and the GraphQL read planner (db/plan/), so both walk pages identically."""
    order = t.order(page.order)
    if order is None:
        names = ", ".join(o.name for o in t.orders)
        raise BadUserInput(
            f"unknown order {page.order!r}",
            errors=[FieldError(("orderBy",), "INVALID_ENUM", f"must be one of: {names}")],
        )
    a = t.alias
    where = where_clauses(t, filters, params)
    key = order_key(t, order, filters, params)
    # Walking backward is walking forward in the opposite direction, then reversing the rows.
    descending = page.descending != page.backward
    op, direction = ("<", "DESC") if descending else (">", "ASC")
    if page.cursor is not None:
        param = "before" if page.backward else "cursor"
        cur = pagination.decode(page.cursor, order=page.order, param=param, cast=order.cast)
        if key == f"{a}.id":
            where.append(f"{a}.id {op} {params.add(cur.id)}::text")
        else:
            where.append(
                f"({key}, {a}.id) {op} (({params.add(cur.key)}::text)::{order.cast}, {params.add(cur.id)}::text)"
            )
    if key == f"{a}.id":
        return where, f"{a}.id {direction}", key
    return where, f"{key} {direction}, {a}.id {direction}", key


def _page_sql(
    t: FactType, filters: Mapping[str, Any], page: PageRequest, params: Params, *, select: str, lens: Lens
) -> str:
    where, order_by, key = page_clauses(t, filters, page, params)
    source = lens.relation(t.kind, params)
    sql = f"SELECT {select}, ({key})::text AS sort_key FROM {source} {t.alias}"  # noqa: S608 - specs only
    if where:
        sql += " WHERE " + " AND ".join(where)
    return sql + f" ORDER BY {order_by}"


def doc_sql(t: FactType, filters: Mapping[str, Any], params: Params) -> str:
    """A listed fact's document: with ``near``, its ``distanceKm`` from the centre added."""
    doc = f"{t.doc_function}({t.alias})"
    geometry = t.analytics.geometry
    if geometry is None or "near" not in filters:
        return doc
    distance = distance_sql(f"{t.alias}.{geometry.column}", params.add(filters["near"]))
    return f"({doc} || jsonb_build_object('distanceKm', {distance}))"


async def list_page(conn: Conn, kind: str, filters: Mapping[str, Any], page: PageRequest, *, lens: Lens) -> Page:
    """One keyset page of documents; ``filters`` must come from ``parse_filters``."""
    t = fact_type(kind)
    limit = max(1, min(page.limit, MAX_PAGE))
    params = Params()
    select = f"{doc_sql(t, filters, params)} AS doc, {t.alias}.id"
    sql = _page_sql(t, filters, page, params, select=select, lens=lens)
    sql += f" LIMIT {params.add(limit + 1)}"
    rows = await conn.fetch(sql, *params.values)
    has_more = len(rows) > limit
    rows = rows[:limit]
    if page.backward:
        rows = list(reversed(rows))
    cursors = [pagination.encode(pagination.Cursor(page.order, r["sort_key"], r["id"], lens.as_of)) for r in rows]
    return Page([r["doc"] for r in rows], cursors, has_more)


async def exists(conn: Conn, kind: str, fact_id: str, *, lens: Lens) -> bool:
    params = Params()
    params.add(fact_id)
    source = lens.relation(kind, params)
    sql = f"SELECT EXISTS (SELECT 1 FROM {source} x WHERE x.id = $1)"  # noqa: S608
    return bool(await conn.fetchval(sql, *params.values))


async def count(conn: Conn, kind: str, filters: Mapping[str, Any], *, lens: Lens) -> int:
    t = fact_type(kind)
    params = Params()
    where = where_clauses(t, filters, params)
    sql = f"SELECT count(*) FROM {lens.relation(kind, params)} {t.alias}"  # noqa: S608
    if where:
        sql += " WHERE " + " AND ".join(where)
    return int(await conn.fetchval(sql, *params.values))


async def get(conn: Conn, kind: str, fact_id: str, *, lens: Lens) -> dict[str, Any] | None:
    """One document (in its version at ``lens.as_of`` when given), or None."""
    (doc,) = await get_many(conn, kind, [fact_id], lens=lens)
    return doc


async def get_many(conn: Conn, kind: str, ids: Sequence[str], *, lens: Lens) -> list[dict[str, Any] | None]:
    """Documents for ``ids`` in the same order (None where missing): the DataLoader batch function."""
    t = fact_type(kind)
    params = Params()
    params.add(list(ids))
    source = lens.relation(kind, params)
    rows = await conn.fetch(
        f"SELECT x.id, {t.doc_function}(x) AS doc FROM {source} x WHERE x.id = ANY($1::text[])",  # noqa: S608
        *params.values,
    )
    by_id = {r["id"]: r["doc"] for r in rows}
    return [by_id.get(i) for i in ids]


async def revisions(conn: Conn, fact_id: str, *, lens: Lens) -> list[dict[str, Any]]:
    """Every version of a fact, oldest first: who changed it, when, why, and what it became."""
    (found,) = await revisions_of(conn, [fact_id], lens=lens)
    return [{"object": "revision", **r} for r in found]
