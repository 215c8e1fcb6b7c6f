"""One request of a planned read as one SQL statement: each root field is a LATERAL subquery
yielding its response JSON (built by PostgreSQL with json_build_object / json_agg) and, when the
response cache needs them, the ids of every fact it read. Relations are nested LATERAL joins, so
the statement's shape — never the number of rows — decides the work; page sizes are literals,
which keep PostgreSQL's index plans (see db/relations.py)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from db import corrections, pagination
from db.errors import NewsfactsError
from db.facts import FactType
from db.geo import distance_sql
from db.lens import Lens
from db.params import Params
from db.plan import aggregates as plan_aggregates
from db.plan import search as plan_search
from db.plan import tree as t
from db.plan.sources import DocSource, RowSource, Source, as_array
from db.queries import PageRequest, page_clauses, where_clauses
from db.registry import fact_type
from db.relations import RELATED_ORDER, relation_order, relation_where
from db.search import SearchRequest

_EMPTY = "'[]'::json"
# json_build_object takes at most 100 arguments.
MAX_KEYS = 50


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _agg(expr: str, order: str) -> str:
    return f"coalesce(json_agg({expr} ORDER BY {order}), {_EMPTY})"


class Statement:
    """Builds one request's statement; ``params`` are its bind parameters in order."""

    def __init__(self, variables: Any, *, collect_ids: bool, lens: Lens, validators: bool = False) -> None:
        self.variables = variables
        self.collect_ids = collect_ids
        # REST's: each root also yields ``vu`` (the latest updatedAt of the facts it shows) and
        # ``vt`` ("<id>.v<version>" of each, in order) for its Last-Modified and ETag.
        self.validators = validators
        # The distance of a listed row from a ``near`` centre, while a page's objects are built.
        self._page_distance = "NULL::float8"
        self.params = Params()
        # The request's lens; each root field reads through it at its own asOf (``root``).
        self.base_lens = self.lens = lens
        self._n = 0
        # (index into params, bind) of each root argument a parameter takes as it is (an id, a
        # payload's documents): what another request of the same text replaces (schema/plan/).
        self.taken_params: list[tuple[int, t.Bind]] = []

    def _rel(self, kind: str) -> str:
        """The FROM item standing for ``kind``'s table under the current root's lens."""
        return self.lens.relation(kind, self.params)

    def _cursor(self, order: str, key: str, row_id: str) -> str:
        if self.lens.as_of is None:
            return f"nf_cursor({_literal(order)}, {key}, {row_id})"
        return f"nf_cursor({_literal(order)}, {key}, {row_id}, {self.params.once(self.lens.as_of)}::text)"

    def _alias(self, prefix: str) -> str:
        self._n += 1
        return f"{prefix}{self._n}"

    def _selected(self, fields: tuple[t.Field, ...]) -> list[t.Field]:
        return [f for f in fields if f.include is None or f.include(self.variables)]

    def _nested_bind(self, bind: t.Bind) -> Any:
        """Arguments of a nested field: refusing one would null a field inside lists, whose paths
        and null propagation the resolvers already get right — so such requests go to them."""
        try:
            return bind(self.variables)
        except NewsfactsError:
            raise t.Unplannable("a nested argument was refused") from None

    # ---- objects -------------------------------------------------------------------------

    def object(self, obj: t.Obj, src: Source, laterals: list[str], ids: list[str]) -> str:
        """The json_build_object of ``obj`` read from ``src``; LATERAL joins it needs are appended
        to ``laterals`` (they go after the FROM item ``src`` reads), id expressions to ``ids``."""
        if obj.kind is not None and self.collect_ids:
            ids.append(src.text("id"))
        pairs = []
        for f in self._selected(obj.fields):
            pairs.append(f"'{f.key}', {self.value(f.value, src, laterals, ids)}")
        if len(pairs) > MAX_KEYS:
            raise t.Unplannable(f"more than {MAX_KEYS} fields in one object")
        return f"json_build_object({', '.join(pairs)})"

    def value(self, v: t.Value, src: Source, laterals: list[str], ids: list[str]) -> str:
        if isinstance(v, t.Const):
            return f"{_literal(v.text)}::text"
        if isinstance(v, t.Scalar):
            return src.json(v.key)
        if isinstance(v, t.EnumScalar):
            cases = " ".join(f"WHEN {_literal(value)} THEN {_literal(name)}" for value, name in v.names)
            return f"(CASE {src.text(v.key)} {cases} END)"
        if isinstance(v, t.Embedded):
            return self._embedded(v, src, laterals, ids)
        if isinstance(v, t.Typed):
            doc = src.jsonb(v.key)
            cases = " ".join(
                f"WHEN {_literal(kind)} THEN {self.object(obj, DocSource(doc), laterals, ids)}"
                for kind, obj in v.objs.items()
            )
            return f"(CASE {doc} ->> 'object' {cases} END)"
        if isinstance(v, t.Linked):
            return self._linked(v, src, laterals, ids)
        if isinstance(v, t.Revisions):
            return self._revisions(v, src, laterals)
        if isinstance(v, t.Related):
            return self._related(v, src, laterals, ids)
        if isinstance(v, t.Expanded | t.Patched):
            return self._rest_expand(v, f"to_jsonb({src.json(v.key)})")
        if isinstance(v, t.EdgeDistance):
            return self._page_distance
        raise t.Unplannable(f"{type(v).__name__} outside a connection")

    def _rest_expand(self, v: t.Expanded | t.Patched, value: str) -> str:
        """REST's ``expand`` over the jsonb ``value``: ids replaced by documents, and value objects
        (one, or each of a list) patched key by key, everything else kept as stored."""
        x, e = self._alias("x"), self._alias("e")
        if isinstance(v, t.Expanded):
            y = self._alias("t")
            lookup = f"FROM {self._rel(v.kind)} {y} WHERE {y}.id = "

            def one(ref: str) -> str:
                doc = fact_type(v.kind).doc_function
                return f"coalesce((SELECT {doc}({y}) {lookup}({ref} #>> '{{}}') LIMIT 1), {ref})"

            single, kind = one(f"{x}.v"), "string"
            each = f"CASE WHEN jsonb_typeof({e}.v) = 'string' THEN {one(f'{e}.v')} ELSE {e}.v END"
        else:

            def patch(obj: str) -> str:
                parts = [
                    f"CASE WHEN {obj} ? {_literal(f.key)} THEN jsonb_build_object({_literal(f.key)}, "
                    f"{self._rest_expand(f, f'({obj} -> {_literal(f.key)})')}) ELSE '{{}}'::jsonb END"
                    for f in v.fields
                ]
                return f"(CASE WHEN jsonb_typeof({obj}) = 'object' THEN {obj} || {' || '.join(parts)} ELSE {obj} END)"

            single, kind = patch(f"{x}.v"), "object"
            each = patch(f"{e}.v")
        listed = (
            f"(SELECT coalesce(jsonb_agg({each} ORDER BY {e}.o), '[]'::jsonb) "
            f"FROM jsonb_array_elements({x}.v) WITH ORDINALITY {e}(v, o))"
        )
        return (
            f"(SELECT CASE jsonb_typeof({x}.v) WHEN '{kind}' THEN {single} WHEN 'array' THEN {listed} "
            f"ELSE {x}.v END FROM (SELECT {value} AS v) {x})"
        )

    def _lateral(self, select: str, laterals: list[str], ids: list[str], child_ids: list[str], agg: bool) -> str:
        """Joins ``select`` (which yields ``j``) as a LATERAL subquery; returns its JSON column."""
        s = self._alias("s")
        if self.collect_ids and child_ids:
            joined = f"concat_ws(' ', {', '.join(child_ids)})"
            column = f"string_agg({joined}, ' ')" if agg else joined
            select = select.replace("{ids}", f", {column} AS ids")
            ids.append(f"{s}.ids")
        else:
            select = select.replace("{ids}", "")
        laterals.append(f"LEFT JOIN LATERAL ({select}) {s} ON true")
        return f"{s}.j"

    def _embedded(self, v: t.Embedded, src: Source, laterals: list[str], ids: list[str]) -> str:
        value = src.jsonb(v.key)
        if not v.many:
            # Its relations join the parent's row, like the parent's own.
            built = self.object(v.obj, DocSource(value), laterals, ids)
            empty = f"{value} IS NULL OR jsonb_typeof({value}) = 'null'"
            if v.empty == "falsy":
                empty += f" OR {value} = '{{}}'::jsonb"
            elif v.empty == "place":
                empty += (
                    f" OR (coalesce(jsonb_typeof({value} -> 'name'), 'null') = 'null'"
                    f" AND coalesce(jsonb_typeof({value} -> 'geojson'), 'null') = 'null')"
                )
            return f"(CASE WHEN {empty} THEN NULL ELSE {built} END)"
        e = self._alias("e")
        inner: list[str] = []
        child_ids: list[str] = []
        built = self.object(v.obj, DocSource(f"{e}.v"), inner, child_ids)
        select = (
            f"SELECT {_agg(built, f'{e}.ord')} AS j{{ids}} "
            f"FROM jsonb_array_elements({as_array(value)}) WITH ORDINALITY {e}(v, ord) {' '.join(inner)}"
        )
        return self._lateral(select, laterals, ids, child_ids, agg=True)

    def _linked(self, v: t.Linked, src: Source, laterals: list[str], ids: list[str]) -> str:
        table = self._rel(v.kind)
        y = self._alias("t")
        inner: list[str] = []
        child_ids: list[str] = []
        built = self.object(v.obj, RowSource.fact(v.kind, y), inner, child_ids)
        if not v.many:
            ((key, _),) = v.parts
            fk = src.text(key)
            if self.collect_ids:
                ids.append(fk)  # asked for even when missing: a later create changes the answer
            # LIMIT 1 (the id is unique) keeps PostgreSQL from pulling the subquery up into a
            # join: pulled up, a small table was hashed whole once per parent row (a seq scan of
            # every actor for each article's five claims); kept, it is one probe per row, and
            # the nested (c) read went from 0.98 to 0.68 ms in PostgreSQL.
            select = f"SELECT {built} AS j{{ids}} FROM {table} {y} {' '.join(inner)} WHERE {y}.id = {fk} LIMIT 1"
            return self._lateral(select, laterals, ids, child_ids, agg=False)
        array = " || ".join(src.id_array(key, many) for key, many in v.parts)
        if self.collect_ids:
            ids.append(f"array_to_string({array}, ' ')")
        u = self._alias("u")
        ordered = f"unnest({array}) WITH ORDINALITY {u}(id, ord)"
        if v.distinct:
            ordered = f"(SELECT id, min(ord) AS ord FROM unnest({array}) WITH ORDINALITY z(id, ord) GROUP BY id) {u}"
        select = (
            f"SELECT {_agg(built, f'{u}.ord')} AS j{{ids}} "
            f"FROM {ordered} JOIN {table} {y} ON {y}.id = {u}.id {' '.join(inner)}"
        )
        return self._lateral(select, laterals, ids, child_ids, agg=True)

    def _revisions(self, v: t.Revisions, src: Source, laterals: list[str]) -> str:
        r = self._alias("r")
        inner: list[str] = []
        built = self.object(v.obj, RowSource.revision(r, self.lens.public), inner, [])
        # ``inner`` holds the laterals of the revision's own value objects (its diff).
        select = (
            f"SELECT {_agg(built, f'{r}.version')} AS j{{ids}} FROM revisions {r} {' '.join(inner)} "
            f"WHERE {r}.fact_id = {src.text('id')} AND {self.lens.revisions_where(r, self.params)}"
        )
        return self._lateral(select, laterals, [], [], agg=True)

    # ---- connections ---------------------------------------------------------------------

    def _related(self, v: t.Related, src: Source, laterals: list[str], ids: list[str]) -> str:
        size, after = self._nested_bind(v.bind)
        try:
            after_id = pagination.after_id(after, as_of=self.lens.as_of, order=RELATED_ORDER)
        except NewsfactsError:
            raise t.Unplannable("a nested cursor of another time") from None
        ft = fact_type(v.kind)
        table = self._rel(v.kind)
        a = ft.alias
        where = [relation_where(v.kind, v.relation, src.text("id"))]
        bounded = list(where)
        if after_id is not None:
            bounded.append(f"{a}.id > {self.params.add(after_id)}::text")
        y = self._alias("t")
        order = relation_order(v.kind, v.relation)
        ranked = (
            f"SELECT {a}.*, row_number() OVER (ORDER BY {order}) AS rn FROM {table} {a} "
            f"WHERE {' AND '.join(bounded)} ORDER BY {order}"
        )
        rows, row_more = self._page_rows(ranked, int(size), y, asks=self._asks_more(v.connection))
        page = _Page(
            rows=rows,
            row=RowSource.fact(v.kind, y),
            cursor=lambda: self._cursor(RELATED_ORDER, f"{y}.id", f"{y}.id"),
            order=f"{y}.rn",
            more=self._more(table, a, bounded, size),
            row_more=row_more,
            previous="true" if after_id is not None else "false",
            count=lambda: f"(SELECT count(*) FROM {table} {a} WHERE {' AND '.join(where)})",
            facts=plan_aggregates.RowSet(v.kind, {}, tuple(where)),
        )
        select, has_ids = self._connection(v.connection, page)
        return self._lateral(select, laterals, ids, ["p.ids"] if has_ids else [], agg=True)

    def _page_rows(self, ranked: str, size: int, y: str, *, asks: bool) -> tuple[str, str | None]:
        """A page of ``ranked`` (rows numbered ``rn`` in the page's order) as the FROM item ``y``,
        and the column of its rows saying whether rows follow (None unless it ``asks``). A page
        that asks reads one row past its end and counts what it read: a separate probe ran the
        page's filter again (a bbox's exact test on every row in the box, a nested page's once
        per parent)."""
        if not asks:
            return f"({ranked} LIMIT {size}) {y}", None
        w = self._alias("w")
        rows = (
            f"(SELECT * FROM (SELECT {w}.*, count(*) OVER () AS page_rows FROM ({ranked} LIMIT {size + 1}) {w}) {w} "
            f"WHERE {w}.rn <= {size}) {y}"
        )
        return rows, f"{y}.page_rows > {size}"

    def _asks_more(self, conn: t.Connection, which: str = "next") -> bool:
        """Whether ``conn`` selects anything that says if rows follow it (``which`` "next":
        hasMore, nextCursor, pageInfo's hasNextPage) or precede it ("previous": hasPreviousPage)."""
        for f in self._selected(conn.fields):
            v = f.value
            if isinstance(v, t.PageFlag | t.PageCursor) and v.which == which:
                return True
            if isinstance(v, t.PageInfo):
                for pf in self._selected(v.fields):
                    if isinstance(pf.value, t.PageFlag) and pf.value.which == which:
                        return True
        return False

    @staticmethod
    def _more(table: str, alias: str, where: list[str], size: int) -> str:
        """Whether rows follow the page: an index-only probe of at most size + 1 rows."""
        return (
            f"((SELECT count(*) FROM (SELECT 1 FROM {table} {alias} WHERE {' AND '.join(where) or 'true'} "
            f"LIMIT {int(size) + 1}) q) > {int(size)})"
        )

    def _connection(self, conn: t.Connection, page: _Page, *, validators: bool = False) -> tuple[str, bool]:
        """SELECT … yielding the connection's JSON ``j`` over ``page``'s rows, with an ``{ids}``
        placeholder for the aggregate of the rows' ``p.ids`` — and whether rows have ids.
        ``validators``: with the rows' ``vu`` and ``vt`` (REST's, see ``Statement``)."""
        columns = [f"{page.order} AS o"]
        outer_distance, self._page_distance = self._page_distance, page.distance
        inner: list[str] = []
        row_ids: list[str] = []
        pairs: list[str] = []
        needs_cursor = False
        # Whether rows lie past the page's far end is read as a column ``m`` of the page's rows
        # when the page read one row past that end (``row_more``): the rows that follow it, or for
        # a page read backward the rows before it; an empty page has no row to say so, and nothing
        # lies there. Any page that asks hasMore, nextCursor or hasNextPage (hasPreviousPage,
        # backward) reads past its end; ``more`` and ``previous`` probe only for what it did not ask.
        fields = self._selected(conn.fields)
        more, previous = page.more, page.previous
        if page.row_more is not None:
            columns.append(f"{page.row_more} AS m")
            if page.row_previous:
                previous = "coalesce(bool_or(p.m), false)"
            else:
                more = "coalesce(bool_or(p.m), false)"
        for f in fields:
            v = f.value
            if isinstance(v, t.Nodes):
                col = self._alias("n")
                columns.append(f"{self.object(v.obj, page.row, inner, row_ids)} AS {col}")
                pairs.append(f"'{f.key}', {_agg(f'p.{col}', 'p.o')}")
            elif isinstance(v, t.Edges):
                col = self._alias("n")
                edge = []
                for ef in self._selected(v.fields):
                    if isinstance(ef.value, t.EdgeCursor):
                        edge.append(f"'{ef.key}', {page.cursor()}")
                    elif isinstance(ef.value, t.EdgeNode):
                        edge.append(f"'{ef.key}', {self.object(ef.value.obj, page.row, inner, row_ids)}")
                    elif isinstance(ef.value, t.EdgeDistance):
                        edge.append(f"'{ef.key}', {page.distance}")
                    else:
                        edge.append(f"'{ef.key}', {self.value(ef.value, page.row, inner, row_ids)}")
                columns.append(f"json_build_object({', '.join(edge)}) AS {col}")
                pairs.append(f"'{f.key}', {_agg(f'p.{col}', 'p.o')}")
            elif isinstance(v, t.PageInfo):
                info = []
                for pf in self._selected(v.fields):
                    pv = pf.value
                    if isinstance(pv, t.PageFlag):
                        info.append(f"'{pf.key}', {more if pv.which == 'next' else previous}")
                    elif isinstance(pv, t.PageCursor):
                        needs_cursor = True
                        direction = "" if pv.which == "start" else " DESC"
                        info.append(f"'{pf.key}', (array_agg(p.c ORDER BY p.o{direction}))[1]")
                    else:
                        info.append(f"'{pf.key}', {self.value(pv, page.row, inner, row_ids)}")
                pairs.append(f"'{f.key}', json_build_object({', '.join(info)})")
            elif isinstance(v, t.TotalCount):
                pairs.append(f"'{f.key}', {page.count()}")
            elif isinstance(v, t.PageFlag):
                pairs.append(f"'{f.key}', {more if v.which == 'next' else previous}")
            elif isinstance(v, t.PageCursor):
                needs_cursor = True  # nextCursor: the page's last cursor when rows follow it
                pairs.append(f"'{f.key}', CASE WHEN {more} THEN (array_agg(p.c ORDER BY p.o DESC))[1] END")
            elif isinstance(v, t.Aggregate):
                if page.facts is None:
                    raise t.Unplannable("an aggregate of a connection that lists no facts")
                pairs.append(f"'{f.key}', {self.aggregate(v, page.facts)}")
            else:
                pairs.append(f"'{f.key}', {self.value(v, page.row, inner, row_ids)}")
        if needs_cursor:
            columns.append(f"{page.cursor()} AS c")
        self._page_distance = outer_distance
        has_ids = self.collect_ids and bool(row_ids)
        if has_ids:
            columns.append(f"concat_ws(' ', {', '.join(row_ids)}) AS ids")
        extra = ""
        if validators:
            columns.append(f"{page.row.json('updatedAt')} AS vu, {_version_tag(page.row)} AS vt")
            extra = ", max(p.vu) AS vu, string_agg(p.vt, ' ' ORDER BY p.o) AS vt"
        select = (
            f"SELECT json_build_object({', '.join(pairs)}) AS j{extra}{{ids}} "
            f"FROM (SELECT {', '.join(columns)} FROM {page.rows} {' '.join(inner)}) p"
            # One row however many rows the page has, aggregates selected or not (totalCount alone).
            " GROUP BY ()"
        )
        return select, has_ids

    # ---- roots ---------------------------------------------------------------------------

    def root(self, root: t.Root) -> str:
        """A subquery yielding one row (``j`` and, when collected, ``ids``) or none. Root
        arguments are bound first: a NewsfactsError they raise refuses this root field alone."""
        if isinstance(root, t.Choice):
            return self.root(root.choose(self.variables))
        self.lens = self.base_lens.at(root.when(self.variables))
        try:
            return self._root(root)
        finally:
            self.lens = self.base_lens

    def _root(self, root: t.Root) -> str:
        if isinstance(root, t.Payload):
            y = self._alias("t")
            self.taken_params.append((len(self.params.values), root.bind))
            doc = f"(SELECT {self.params.add(root.bind(self.variables))}::jsonb AS v) {y}"
            return self._select_one(root.obj, DocSource(f"{y}.v"), doc, "")
        if isinstance(root, t.ById):
            fact_id = root.bind(self.variables)
            self.taken_params.append((len(self.params.values), root.bind))  # _one adds it first
            return self._one(root.kind, root.obj, fact_id)
        if isinstance(root, t.AnyNode):
            kind, fact_id = root.bind(self.variables)
            return self._one(kind, root.objs[kind], fact_id)
        if isinstance(root, t.ByUri):
            uri = root.bind(self.variables)
            return self._one("article", root.obj, uri, column="uri")
        if isinstance(root, t.AnyNodes):
            return self._nodes(root, root.bind(self.variables))
        if isinstance(root, t.RootList):
            filters, request = root.bind(self.variables)
            return self._list(root, filters, request)
        if isinstance(root, t.Corrections):
            return self._corrections(root, *root.bind(self.variables))
        if isinstance(root, t.RootAggregate):
            filters, related = root.bind(self.variables)
            facts = plan_aggregates.RowSet(root.kind, filters, related=related)
            return f"SELECT ({self.aggregate(root.aggregate, facts)})::text AS j{self._root_ids(None)}"
        assert isinstance(root, t.Search)
        return self._search(root, root.bind(self.variables))

    def _select_one(self, obj: t.Obj, src: Source, from_: str, where: str, *, validators: bool = False) -> str:
        laterals: list[str] = []
        ids: list[str] = []
        built = self.object(obj, src, laterals, ids)
        ids_col = self._root_ids(f"concat_ws(' ', {', '.join(ids)})" if ids else None)
        if validators:
            ids_col = f", {src.json('updatedAt')} AS vu, {_version_tag(src)} AS vt{ids_col}"
        return f"SELECT {built} AS j{ids_col} FROM {from_} {' '.join(laterals)} {where}"

    def _one(self, kind: str, obj: t.Obj, key: str, column: str = "id") -> str:
        y = self._alias("t")
        p = self.params.add(key)  # first: ``taken_params`` counts on it
        table = self._rel(kind)
        return self._select_one(
            obj, RowSource.fact(kind, y), f"{table} {y}", f"WHERE {y}.{column} = {p}::text", validators=self.validators
        )

    def _nodes(self, root: t.AnyNodes, wanted: list[tuple[str, str]]) -> str:
        u = self._alias("u")
        kinds = list(dict.fromkeys(kind for kind, _ in wanted))
        laterals: list[str] = []
        ids: list[str] = [f"{u}.id"] if self.collect_ids else []
        found = []
        for kind in kinds:
            y = self._alias("t")
            prefix = _literal(fact_type(kind).prefix + "_")
            select = self._select_one(
                root.objs[kind], RowSource.fact(kind, y), f"{self._rel(kind)} {y}",
                f"WHERE {y}.id = {u}.id AND left({u}.id, 4) = {prefix}",
            )  # fmt: skip
            k = self._alias("k")
            laterals.append(f"LEFT JOIN LATERAL ({select}) {k} ON true")
            found.append(f"{k}.j")
            if self.collect_ids:
                ids.append(f"{k}.ids")
        value = f"coalesce({', '.join(found)})" if len(found) > 1 else (found[0] if found else "NULL::json")
        ids_col = self._root_ids(f"string_agg(concat_ws(' ', {', '.join(ids)}), ' ')" if ids else None)
        array = self.params.add([i for _, i in wanted])
        return (
            f"SELECT {_agg(value, f'{u}.ord')} AS j{ids_col} "
            f"FROM unnest({array}::text[]) WITH ORDINALITY {u}(id, ord) {' '.join(laterals)}"
        )

    def _list(self, root: t.RootList, filters: dict[str, Any], request: PageRequest) -> str:
        ft = fact_type(root.kind)
        table = self._rel(root.kind)
        a = ft.alias
        bounded, order_by, key = page_clauses(ft, filters, request, self.params)
        size = int(request.limit)
        y = self._alias("t")
        distance = self._distance(ft, filters)
        ranked = (
            f"SELECT {a}.*, ({key})::text AS sort_key, row_number() OVER (ORDER BY {order_by}) AS rn"
            f"{distance} FROM {table} {a} {_where(bounded)} ORDER BY {order_by}"
        )
        has_more = self._more(table, a, bounded, size)
        cursor_given = "true" if request.cursor is not None else "false"
        # A page reads one row past its far end when it asks what lies there: rows that follow a
        # forward page, rows that precede a backward one (it walks away from its cursor).
        asks = self._asks_more(root.connection, "previous" if request.backward else "next")
        rows, row_more = self._page_rows(ranked, size, y, asks=asks)
        page = _Page(
            rows=rows,
            row=RowSource.fact(root.kind, y),
            cursor=lambda: self._cursor(request.order, f"{y}.sort_key", f"{y}.id"),
            # Walking backward fetched the rows nearest the cursor first; the page reads forward.
            order=f"-{y}.rn" if request.backward else f"{y}.rn",
            more=cursor_given if request.backward else has_more,
            row_more=row_more,
            row_previous=request.backward,
            previous=has_more if request.backward else cursor_given,
            # The count: the filters without the cursor, bound only when totalCount is selected.
            count=lambda: f"(SELECT count(*) FROM {table} {a} {_where(where_clauses(ft, filters, self.params))})",
            facts=plan_aggregates.RowSet(root.kind, filters),
            distance=f"{y}.distance_km" if distance else "NULL::float8",
        )
        select, has_ids = self._connection(root.connection, page, validators=self.validators)
        return select.replace("{ids}", self._root_ids("string_agg(p.ids, ' ')" if has_ids else None))

    def _corrections(
        self, root: t.Corrections, where: corrections.Filter, size: int, after: corrections.Position | None
    ) -> str:
        """The corrections feed: the clauses and order of db/corrections.py over ``revisions``."""
        clauses = corrections.where_clauses(where, self.params, "r")
        bounded = [*clauses, corrections.after_clause(after, self.params, "r")] if after is not None else clauses
        order_by = corrections.ORDER_BY.format(a="r")
        y = self._alias("t")
        ranked = f"SELECT r.*, row_number() OVER (ORDER BY {order_by}) AS rn FROM revisions r {_where(bounded)} ORDER BY {order_by}"
        rows, row_more = self._page_rows(ranked, int(size), y, asks=self._asks_more(root.connection))
        key, ident = corrections.CURSOR_KEY.format(a=y), corrections.CURSOR_ID.format(a=y)
        page = _Page(
            rows=rows,
            row=RowSource(corrections.columns(self.lens.public), y),
            cursor=lambda: f"nf_cursor({_literal(corrections.ORDER)}, {key}, {ident})",
            order=f"{y}.rn",
            more=self._more("revisions", "r", bounded, size),
            row_more=row_more,
            previous="true" if after is not None else "false",
            count=lambda: f"(SELECT count(*) FROM revisions r {_where(clauses)})",
        )
        select, has_ids = self._connection(root.connection, page)
        return select.replace("{ids}", self._root_ids("string_agg(p.ids, ' ')" if has_ids else None))

    def _distance(self, ft: FactType, filters: dict[str, Any]) -> str:
        """The ``distance_km`` column of a page of a kind with a map geometry under ``near``."""
        geometry = ft.analytics.geometry
        if geometry is None or "near" not in filters:
            return ""
        return f", {distance_sql(f'{ft.alias}.{geometry.column}', self.params.add(filters['near']))} AS distance_km"

    def aggregate(self, v: t.Aggregate, facts: plan_aggregates.RowSet) -> str:
        """The aggregate's JSON: its document, read through ``v.obj`` when it has one, in a scalar
        subquery of its own (it is one value per connection, not one per row)."""
        request = self._nested_bind(v.bind)
        if v.what == "facets":
            doc = plan_aggregates.facets(self, facts, request)
        elif v.what == "histogram":
            doc = plan_aggregates.histogram(self, facts, request)
        else:
            doc = plan_aggregates.sums(self, facts, request)
        if v.obj is None:
            return doc
        z = self._alias("z")
        inner: list[str] = []
        # The facts a selection links (a facet's speakers) are read through the lens; the cache
        # tags such an answer with their kind's list (schema/plan/), not with each id.
        built = self.object(v.obj, DocSource(f"{z}.v"), inner, [])
        return f"(SELECT {built} FROM (SELECT ({doc})::jsonb AS v) {z} {' '.join(inner)})"

    def _root_ids(self, expr: str | None) -> str:
        """The ``ids`` column every root yields while ids are collected (NULL when it read none)."""
        if not self.collect_ids:
            return ""
        return f", {expr or 'NULL::text'} AS ids"

    def _search(self, root: t.Search, request: SearchRequest) -> str:
        return plan_search.search(self, root, request)


class _Page:
    """The rows of one connection page and how to read them: the ``rows`` FROM item, the source of
    each row, its cursor and ordering expressions, the SQL of hasNext/hasPrevious/totalCount, the
    facts its aggregates summarise and each row's distance from a ``near`` centre.
    The cursor and the count are built only when selected: each may add bind parameters."""

    def __init__(
        self,
        *,
        rows: str,
        row: Source,
        cursor: Callable[[], str],
        order: str,
        more: str,
        previous: str,
        count: Callable[[], str],
        facts: plan_aggregates.RowSet | None = None,
        distance: str = "NULL::float8",
        row_more: str | None = None,
        row_previous: bool = False,
    ) -> None:
        self.rows = rows
        # Whether rows lie past the page's far end, as a column of each of the page's rows (read
        # with the page), or None: ``more`` and ``previous`` probe. Past the far end of a page
        # read backward (``row_previous``) lie the rows before it.
        self.row_more = row_more
        self.row_previous = row_previous
        self.facts = facts  # what the connection's aggregates summarise
        self.distance = distance
        self.row = row
        self.cursor = cursor
        self.order = order
        self.more = more
        self.previous = previous
        self.count = count


def _version_tag(row: Source) -> str:
    """``<id>.v<version>`` of the fact ``row`` reads: its ETag's text (api/rest/etags.py)."""
    return f"({row.text('id')} || '.v' || {row.json('version')})"


def _where(clauses: list[str]) -> str:
    return f"WHERE {' AND '.join(clauses)}" if clauses else ""


def statement(roots: list[str], *, collect_ids: bool) -> str:
    """The whole statement: one row, two columns per root (its JSON text and its ids)."""
    columns = []
    joins = []
    for i, sql in enumerate(roots):
        columns.append(f"r{i}.j::text AS j{i}")
        columns.append(f"r{i}.ids AS i{i}" if collect_ids else f"NULL::text AS i{i}")
        joins.append(f"LEFT JOIN LATERAL ({sql}) r{i} ON true")
    return f"SELECT {', '.join(columns)} FROM (SELECT 1) one {' '.join(joins)}"


# Aggregate statements by everything their text and parameters depend on: a dashboard asks the same
# few again and again, and building one costs more server CPU than the rest of its request.
_BUILT: OrderedDict[Any, tuple[str, list[Any]]] = OrderedDict()
_KEEP = 512


def aggregate_statement(
    kind: str, what: str, request: Any, filters: dict[str, Any], lens: Lens, *, related: tuple[str, str] | None = None
) -> tuple[str, list[Any]]:
    """The statement (and its parameters) of an aggregate of ``kind``'s facts passing ``filters``
    (or ``related``: (relation, parent id)) as the whole answer — REST's, and the GraphQL
    resolvers': one row, one column, the JSON text."""
    key = (kind, what, request, tuple((k, _frozen(v)) for k, v in filters.items()), lens, related)
    found = _BUILT.get(key)
    if found is not None:
        _BUILT.move_to_end(key)
        return found
    stmt = Statement(None, collect_ids=False, lens=lens)
    root = t.RootAggregate(
        kind, t.Aggregate(what, lambda _: request), lambda _: (filters, related), lambda _: lens.as_of
    )
    built = _BUILT[key] = (stmt.root(root), stmt.params.values)
    if len(_BUILT) > _KEEP:
        _BUILT.popitem(last=False)
    return built


def _frozen(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


__all__ = ["Statement", "aggregate_statement", "pagination", "statement"]
