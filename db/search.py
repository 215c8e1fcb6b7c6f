"""Relevance-ranked full-text search over one or more fact kinds: matches of a web-search query,
most relevant first by ``ts_rank_cd`` over each table's weighted ``search`` tsvector (ties: id,
descending), in keyset pages over (rank, id), with ``ts_headline`` snippets. REST
(``sort=relevance``), the GraphQL resolvers and the read planner (db/plan/search.py) all take
their SQL from here, so every path ranks, pages and highlights alike."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from db import pagination
from db.errors import BadUserInput, FieldError
from db.facts import FactType
from db.lens import Lens
from db.params import Params
from db.pool import Conn
from db.queries import where_clauses
from db.registry import fact_type

# The cursor order of relevance pages (REST's ``sort=relevance``).
RELEVANCE = "relevance"
# Matches are delimited in ts_headline's output by two control characters stripped from the text
# first, so a snippet splits into plain-text parts unambiguously whatever the text holds.
_START, _STOP = "chr(2)", "chr(3)"
_OPTIONS = f"'StartSel=' || {_START} || ', StopSel=' || {_STOP} || ', MaxWords=35, MinWords=15'"
# What a rank's text may be: float4's own output of a ts_rank_cd value (never negative, NaN or
# infinite). Anything else in a cursor is refused before it could reach a ``::real`` cast.
_RANK_TEXT = re.compile(r"[0-9]+(\.[0-9]+)?(e-?[0-9]+)?")


@dataclass(frozen=True)
class SearchRequest:
    """``limit`` matches of ``query`` after the cursor ``after`` (decoded), in the kinds of
    ``filters`` (kind → filters parsed by ``db.queries.parse_filters``, ``query`` among them)."""

    query: str
    filters: Mapping[str, Mapping[str, Any]]
    limit: int = 20
    after: pagination.Cursor | None = None


@dataclass(frozen=True)
class Hit:
    kind: str
    doc: dict[str, Any]
    cursor: str
    rank: float
    # [{"text", "match"}]: the snippet as plain-text parts, the matched words flagged; None when
    # snippets were not asked for.
    snippet: list[dict[str, Any]] | None


@dataclass(frozen=True)
class Results:
    hits: list[Hit]
    has_more: bool


def decode_after(value: str | None, *, param: str) -> pagination.Cursor | None:
    """A relevance cursor given by a client, or BAD_USER_INPUT naming ``param``."""
    if value is None:
        return None
    cursor = pagination.decode(value, order=RELEVANCE, param=param)
    if not _RANK_TEXT.fullmatch(cursor.key) or not math.isfinite(float(cursor.key)) or float(cursor.key) > 1e30:
        raise BadUserInput(
            f"{param} is not a cursor returned by this API",
            errors=[FieldError((param,), "INVALID_CURSOR", "is not a cursor returned by this API")],
        )
    return cursor


def tsquery(p: str) -> str:
    """The query the ``query`` filter matches with (db/facts.py), over the bind parameter ``p``."""
    return f"websearch_to_tsquery('english', {p}::text)"


def rank(t: FactType, p: str) -> str:
    """Cover density rank in the alias ``t.alias``: weighted terms (A headline/name/statement …
    D) count more, terms close together more than far apart. Not length-normalised, so a long
    article naming a word often is not penalised for its length."""
    return f"ts_rank_cd({t.alias}.search, {tsquery(p)})"


def snippet(t: FactType, alias: str, p: str) -> str:
    """A JSON array of the snippet's parts, ``{"text", "match"}`` in order, cut by ts_headline from
    the text the ``search`` column indexes (``t.search_text`` of the row ``alias``). Parts are plain
    text, never markup: a consumer escapes them as any text and marks the matched ones as it likes."""
    text = t.search_text.format(a=alias)
    headline = f"ts_headline('english', translate(({text}), {_START} || {_STOP}, ''), {tsquery(p)}, {_OPTIONS})"
    return (
        "(SELECT coalesce(json_agg(json_build_object('text', x.part, 'match', x.n % 2 = 0) ORDER BY x.n), '[]'::json) "  # noqa: S608 - declarations only
        f"FROM regexp_split_to_table({headline}, '[' || {_START} || {_STOP} || ']') WITH ORDINALITY x(part, n) "
        "WHERE x.part <> '')"
    )


def hits_sql(request: SearchRequest, params: Params, lens: Lens) -> str:
    """A SELECT of ``kind``, ``id`` and ``rank`` (real) of the page's matches and one more (whether
    more follow), most relevant first. Each kind's matches come from its GIN index; only their
    ranks are sorted, and only ``limit + 1`` of each kind leave its subquery."""
    size = int(request.limit) + 1
    parts = []
    for kind, filters in request.filters.items():
        t = fact_type(kind)
        a = t.alias
        ranked = rank(t, params.add(request.query))
        where = where_clauses(t, filters, params)
        if request.after is not None:
            key, ident = params.add(request.after.key), params.add(request.after.id)
            where.append(f"(x.rank, {a}.id) < (({key}::text)::real, {ident}::text)")
        # The rank in a LATERAL subquery PostgreSQL cannot pull up (OFFSET 0): computed once per
        # match, not once for the cursor's bound and again for the sort (a deep page cost twice).
        parts.append(
            f"(SELECT '{t.kind}'::text AS kind, {a}.id, x.rank FROM {lens.relation(kind, params)} {a} "  # noqa: S608 - declarations only
            f"CROSS JOIN LATERAL (SELECT {ranked} AS rank OFFSET 0) x "
            f"WHERE {' AND '.join(where)} ORDER BY 3 DESC, 2 DESC LIMIT {size})"
        )
    return f"SELECT kind, id, rank FROM ({' UNION ALL '.join(parts)}) h ORDER BY rank DESC, id DESC LIMIT {size}"  # noqa: S608


def count_sql(request: SearchRequest, params: Params, lens: Lens) -> str:
    """An expression: how many facts match, across kinds and pages."""
    counts = []
    for kind, filters in request.filters.items():
        t = fact_type(kind)
        where = where_clauses(t, filters, params)
        source = lens.relation(kind, params)
        counts.append(f"(SELECT count(*) FROM {source} {t.alias} WHERE {' AND '.join(where)})")  # noqa: S608
    return " + ".join(counts) or "0"


async def page(conn: Conn, request: SearchRequest, lens: Lens, *, snippets: bool) -> Results:
    """One page of matches with their documents (and snippets, when asked for), read through ``lens``."""
    params = Params()
    hits = hits_sql(request, params, lens)
    joins, docs, cut = [], [], []
    q = params.add(request.query) if snippets else ""
    for n, kind in enumerate(request.filters):
        t = fact_type(kind)
        a = t.alias
        extra = f", {snippet(t, a, q)} AS snippet" if snippets else ""
        joins.append(
            f"LEFT JOIN LATERAL (SELECT {t.doc_function}({a}) AS doc{extra} FROM {lens.relation(kind, params)} {a} "  # noqa: S608
            f"WHERE h.kind = '{t.kind}' AND {a}.id = h.id) k{n} ON true"
        )
        docs.append(f"k{n}.doc")
        cut.append(f"k{n}.snippet")
    sql = (
        f"SELECT h.kind, h.id, h.rank::text AS key, h.rank::float8 AS score, coalesce({', '.join(docs)}) AS doc, "  # noqa: S608
        f"{'coalesce(' + ', '.join(cut) + ')' if snippets else 'NULL::json'} AS snippet "
        f"FROM ({hits}) h {' '.join(joins)} ORDER BY h.rank DESC, h.id DESC"
    )
    rows = await conn.fetch(sql, *params.values)
    limit = int(request.limit)
    found = [
        Hit(
            r["kind"],
            r["doc"],
            pagination.encode(pagination.Cursor(RELEVANCE, r["key"], r["id"], lens.as_of)),
            r["score"],
            r["snippet"],
        )
        for r in rows[:limit]
    ]
    return Results(found, len(rows) > limit)


async def count(conn: Conn, request: SearchRequest, lens: Lens) -> int:
    params = Params()
    return int(await conn.fetchval(f"SELECT {count_sql(request, params, lens)}", *params.values))
