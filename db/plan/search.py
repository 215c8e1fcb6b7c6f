"""The planned ``search`` root: db/search.py's ranked matches (kind, id, rank) of one page plus one,
then one LATERAL join per kind that builds, for the page's rows of that kind only, every selected
node object and snippet; the connection's JSON aggregates them in rank order, leaving out the
extra row (which only says whether a next page exists)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from db import search as db_search
from db.plan import tree as t
from db.plan.sources import DocSource, RowSource
from db.registry import fact_type

if TYPE_CHECKING:
    from db.plan.sql import Statement

_EMPTY = "'[]'::json"


class _Kinds:
    """The per-kind LATERAL joins of one search page: columns are added to each as fields need them."""

    def __init__(self, stmt: Statement, request: db_search.SearchRequest, hits: str) -> None:
        self.stmt = stmt
        self.request = request
        self.hits = hits
        self.kinds = list(request.filters)
        self.columns: dict[str, list[str]] = {k: [] for k in self.kinds}
        self.inner: dict[str, list[str]] = {k: [] for k in self.kinds}
        self.ids: dict[str, list[str]] = {k: [] for k in self.kinds}
        self.rows = {k: stmt._alias("t") for k in self.kinds}
        self.joins = {k: stmt._alias("k") for k in self.kinds}
        self._query: str | None = None

    def objects(self, objs: dict[str, t.Obj]) -> str:
        """The node's JSON, whichever kind the row is."""
        col = self.stmt._alias("c")
        for kind in self.kinds:
            row = RowSource.fact(kind, self.rows[kind])
            built = self.stmt.object(objs[kind], row, self.inner[kind], self.ids[kind])
            self.columns[kind].append(f"{built} AS {col}")
        return self._coalesce(col)

    def scalar(self, build: Callable[[RowSource], str]) -> str:
        """A value ``build`` reads from the row of its kind."""
        col = self.stmt._alias("c")
        for kind in self.kinds:
            self.columns[kind].append(f"{build(RowSource.fact(kind, self.rows[kind]))} AS {col}")
        return self._coalesce(col)

    def snippet(self) -> str:
        """The row's snippet parts as jsonb (db.search.snippet, from the row of its kind)."""
        if self._query is None:
            self._query = self.stmt.params.add(self.request.query)
        col = self.stmt._alias("c")
        for kind in self.kinds:
            cut = db_search.snippet(fact_type(kind), self.rows[kind], self._query)
            self.columns[kind].append(f"{cut}::jsonb AS {col}")
        return self._coalesce(col)

    def _coalesce(self, col: str) -> str:
        found = [f"{self.joins[k]}.{col}" for k in self.kinds]
        return f"coalesce({', '.join(found)})" if len(found) > 1 else found[0]

    def laterals(self) -> list[str]:
        out = []
        size = int(self.request.limit)
        for kind in self.kinds:
            columns = list(self.columns[kind])
            if not columns:
                continue
            ids = self.ids[kind]
            if self.stmt.collect_ids and ids:
                columns.append(f"concat_ws(' ', {', '.join(ids)}) AS ids")
            ft = fact_type(kind)
            y = self.rows[kind]
            out.append(
                f"LEFT JOIN LATERAL (SELECT {', '.join(columns)} FROM {self.stmt._rel(kind)} {y} {' '.join(self.inner[kind])} "
                f"WHERE {self.hits}.kind = '{ft.kind}' AND {y}.id = {self.hits}.id AND {self.hits}.o <= {size}) "
                f"{self.joins[kind]} ON true"
            )
        return out

    def row_ids(self) -> list[str]:
        return [f"{self.joins[k]}.ids" for k in self.kinds if self.stmt.collect_ids and self.ids[k] and self.columns[k]]


def search(stmt: Statement, root: t.Search, request: db_search.SearchRequest) -> str:
    """A subquery yielding the search connection's JSON ``j`` (and, when collected, ``ids``)."""
    size = int(request.limit)
    hits = db_search.hits_sql(request, stmt.params, stmt.lens)
    h = stmt._alias("h")
    kinds = _Kinds(stmt, request, h)

    def cursor() -> str:
        # Built only where selected, as the other connections' cursors: under asOf it adds the
        # time as a parameter, which an unselected cursor should not.
        return stmt._cursor(db_search.RELEVANCE, f"{h}.rank::text", f"{h}.id")

    keep = f"FILTER (WHERE p.o <= {size})"
    columns = [f"{h}.o AS o"]
    pairs: list[str] = []
    needs_cursor = False
    for f in stmt._selected(root.connection.fields):
        v = f.value
        if isinstance(v, t.UnionNodes):
            col = stmt._alias("n")
            columns.append(f"{kinds.objects(v.objs)} AS {col}")
            pairs.append(f"'{f.key}', coalesce(json_agg(p.{col} ORDER BY p.o) {keep}, {_EMPTY})")
        elif isinstance(v, t.Edges):
            col = stmt._alias("n")
            edge = []
            for ef in stmt._selected(v.fields):
                ev = ef.value
                if isinstance(ev, t.EdgeCursor):
                    edge.append(f"'{ef.key}', {cursor()}")
                elif isinstance(ev, t.UnionEdgeNode):
                    edge.append(f"'{ef.key}', {kinds.objects(ev.objs)}")
                elif isinstance(ev, t.EdgeRank):
                    # float8, as asyncpg hands the resolvers the same real: both print one number.
                    edge.append(f"'{ef.key}', {h}.rank::float8")
                elif isinstance(ev, t.EdgeSnippet):
                    edge.append(f"'{ef.key}', {_parts(stmt, ev.obj, kinds.snippet())}")
                elif isinstance(ev, t.Const):
                    edge.append(f"'{ef.key}', {stmt.value(ev, DocSource('NULL'), [], [])}")
                else:
                    raise t.Unplannable(f"{type(ev).__name__} in a search edge")
            columns.append(f"json_build_object({', '.join(edge)}) AS {col}")
            pairs.append(f"'{f.key}', coalesce(json_agg(p.{col} ORDER BY p.o) {keep}, {_EMPTY})")
        elif isinstance(v, t.PageInfo):
            info = []
            for pf in stmt._selected(v.fields):
                pv = pf.value
                if isinstance(pv, t.PageFlag):
                    flag = f"count(*) > {size}" if pv.which == "next" else str(request.after is not None).lower()
                    info.append(f"'{pf.key}', {flag}")
                elif isinstance(pv, t.PageCursor):
                    needs_cursor = True
                    direction = "" if pv.which == "start" else " DESC"
                    info.append(f"'{pf.key}', (array_agg(p.c ORDER BY p.o{direction}) {keep})[1]")
                else:
                    info.append(f"'{pf.key}', {stmt.value(pv, DocSource('NULL'), [], [])}")
            pairs.append(f"'{f.key}', json_build_object({', '.join(info)})")
        elif isinstance(v, t.TotalCount):
            pairs.append(f"'{f.key}', ({db_search.count_sql(request, stmt.params, stmt.lens)})")
        elif isinstance(v, t.PageFlag) and v.which == "next":
            pairs.append(f"'{f.key}', count(*) > {size}")
        elif isinstance(v, t.PageCursor) and v.which == "next":
            needs_cursor = True
            last = f"(array_agg(p.c ORDER BY p.o DESC) {keep})[1]"
            pairs.append(f"'{f.key}', CASE WHEN count(*) > {size} THEN {last} END")
        elif isinstance(v, t.Const):
            pairs.append(f"'{f.key}', {stmt.value(v, DocSource('NULL'), [], [])}")
        else:
            raise t.Unplannable(f"{type(v).__name__} in a search connection")
    if needs_cursor:
        columns.append(f"{cursor()} AS c")
    extra = ""
    if stmt.validators:
        # Built before the laterals are: each adds a column to every kind's join.
        updated = kinds.scalar(lambda row: row.json("updatedAt"))
        tag = kinds.scalar(lambda row: f"({row.text('id')} || '.v' || {row.json('version')})")
        columns.append(f"{updated} AS vu, {tag} AS vt")
        extra = f", max(p.vu) {keep} AS vu, string_agg(p.vt, ' ' ORDER BY p.o) {keep} AS vt"
    row_ids = kinds.row_ids()
    if row_ids:
        columns.append(f"concat_ws(' ', {', '.join(row_ids)}) AS ids")
    ids_col = extra + stmt._root_ids("string_agg(p.ids, ' ')" if row_ids else None)
    ranked = f"(SELECT x.*, row_number() OVER (ORDER BY x.rank DESC, x.id DESC) AS o FROM ({hits}) x) {h}"
    return (
        f"SELECT json_build_object({', '.join(pairs)}) AS j{ids_col} "
        f"FROM (SELECT {', '.join(columns)} FROM {ranked} {' '.join(kinds.laterals())}) p"
        # One row however many matches the page has (an empty page, totalCount alone).
        " GROUP BY ()"
    )


def _parts(stmt: Statement, obj: t.Obj, parts: str) -> str:
    """The snippet parts (jsonb) as the selection asks for them (aliases, __typename, @skip)."""
    e = stmt._alias("e")
    built = stmt.object(obj, DocSource(f"{e}.v"), [], [])
    return (
        f"(SELECT coalesce(json_agg({built} ORDER BY {e}.ord), {_EMPTY}) "
        f"FROM jsonb_array_elements({parts}) WITH ORDINALITY {e}(v, ord))"
    )
