"""The corrections feed: every version that is not a plain creation or update — corrections,
retractions, recalls (withheld, canceled, released) and sourcing changes — newest first, with who,
when, why and the field-level diff, keyset-paged over 0007's partial index."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from db import pagination
from db.errors import BadUserInput, FieldError
from db.kinds import CORRECTION_KINDS as CORRECTION_KINDS  # the change kinds the feed carries
from db.params import Params
from db.pool import Conn
from db.relations import PUBLIC_REVISION_COLUMNS, REVISION_COLUMNS

ORDER = "corrections"  # the one order of the feed, named in its cursors
# A correction's document: a revision's keys but the snapshot (the diff says what changed; the
# fact itself is one read away, or in the event of the same version). Also the read planner's row
# mapping (db/plan/sources.RowSource), so both GraphQL paths print the same values.
COLUMNS: dict[str, str] = {
    "object": "'correction'",
    **{
        k: REVISION_COLUMNS[k]
        for k in ("factId", "factType", "version", "changeKind", "reason", "changedBy", "changedAt", "diff")
    },
}
# What a read-scope or anonymous caller gets (db/lens.py's recall rules): every entry, so a recall
# reaches the partner who must take the content down, but no diff of a fact withdrawn now — its
# values are what the recall took down — and, for the others, the diff without the references into
# articles whose text is hidden now (0016).
PUBLIC_COLUMNS: dict[str, str] = {
    **COLUMNS,
    "diff": f"CASE WHEN nf_withdrawn({{a}}.fact_id) THEN '[]'::jsonb ELSE {PUBLIC_REVISION_COLUMNS['diff']} END",
}


def columns(public: bool) -> dict[str, str]:
    """The row mapping of a correction for a caller (public: under the recall rules)."""
    return PUBLIC_COLUMNS if public else COLUMNS


def _select(public: bool) -> str:
    return ", ".join(f'{sql.format(a="r")} AS "{k}"' for k, sql in columns(public).items())


# The order of 0007's revisions_corrections_idx (changed_at DESC, fact_id, version): a page is one
# index range scan however long the history.
ORDER_BY = "{a}.changed_at DESC, {a}.fact_id, {a}.version"
CURSOR_KEY = REVISION_COLUMNS["changedAt"]  # the cursor carries changedAt as documents print it
CURSOR_ID = "{a}.fact_id || '/' || {a}.version"
Position = tuple[str, str, int]  # (changedAt, fact id, version) of the last row seen


@dataclass(frozen=True)
class Filter:
    """Which corrections: of some kinds of fact, some change kinds, since a time, of one fact."""

    kinds: tuple[str, ...] = ()
    change_kinds: tuple[str, ...] = ()
    since: str | None = None
    fact_id: str | None = None


def where_clauses(where: Filter, params: Params, alias: str = "r") -> list[str]:
    """The feed's conditions in ``alias``. The first is spelled as the partial index's predicate, so
    PostgreSQL proves the index applies; the filters are bound only when given."""
    a = alias
    clauses = [f"{a}.change_kind NOT IN ('created', 'updated')"]
    if where.kinds:
        clauses.append(f"{a}.fact_type = ANY({params.add(list(where.kinds))}::text[])")
    if where.change_kinds:
        clauses.append(f"{a}.change_kind = ANY({params.add(list(where.change_kinds))}::text[])")
    if where.since is not None:
        clauses.append(f"{a}.changed_at >= ({params.add(where.since)}::text)::timestamptz")
    if where.fact_id is not None:
        clauses.append(f"{a}.fact_id = {params.add(where.fact_id)}::text")
    return clauses


def after_clause(after: Position, params: Params, alias: str = "r") -> str:
    """Rows after a cursor's position in the feed's order (newer first, then fact id, version)."""
    at, fact_id, version = (params.add(v) for v in after)
    a = alias
    return (
        f"({a}.changed_at < ({at}::text)::timestamptz OR ({a}.changed_at = ({at}::text)::timestamptz"
        f" AND ({a}.fact_id, {a}.version) > ({fact_id}::text, {version}::int)))"
    )


def cursor_of(doc: dict[str, Any]) -> str:
    return pagination.encode(pagination.Cursor(ORDER, doc["changedAt"], f"{doc['factId']}/{doc['version']}"))


def decode(cursor: str | None, param: str) -> Position | None:
    """The position a cursor of this feed names (BadUserInput naming ``param`` when it is not one)."""
    if cursor is None:
        return None
    c = pagination.decode(cursor, order=ORDER, param=param)
    fact_id, _, version = c.id.rpartition("/")
    if not fact_id or not version.isascii() or not version.isdigit() or len(version) > 9:
        raise BadUserInput(
            f"{param} is not a cursor returned by this API",
            errors=[FieldError((param,), "INVALID_CURSOR", "is not a cursor returned by this API")],
        )
    return c.key, fact_id, int(version)


async def page(
    conn: Conn, where: Filter, *, limit: int, after: Position | None = None, public: bool = False
) -> tuple[list[dict[str, Any]], list[str], bool]:
    """Up to ``limit`` corrections after a position, newest first: (documents, cursors, more follow)."""
    params = Params()
    clauses = where_clauses(where, params)
    if after is not None:
        clauses.append(after_clause(after, params))
    sql = f"""SELECT {_select(public)} FROM revisions r WHERE {" AND ".join(clauses)}
              ORDER BY {ORDER_BY.format(a="r")} LIMIT {int(limit) + 1}"""  # noqa: S608 - constant columns
    rows = await conn.fetch(sql, *params.values)
    docs = [dict(r) for r in rows[:limit]]
    return docs, [cursor_of(d) for d in docs], len(rows) > limit


async def count(conn: Conn, where: Filter) -> int:
    params = Params()
    sql = f"SELECT count(*) FROM revisions r WHERE {' AND '.join(where_clauses(where, params))}"  # noqa: S608
    return int(await conn.fetchval(sql, *params.values))
