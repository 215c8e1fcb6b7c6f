"""The corrections feed: every version that is not a plain creation or update — corrections,
retractions, recalls (withheld, canceled, released) and sourcing changes — newest first, with who,
when, why and the field-level diff, keyset-paged over 0007's partial index."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from db import pagination
from db.errors import BadUserInput, FieldError
from db.kinds import CORRECTION_KINDS
from db.pool import Conn
from db.relations import REVISION_COLUMNS

ORDER = "corrections"  # the one order of the feed, named in its cursors
# A correction's document: a revision's keys but the snapshot (the diff says what changed; the
# fact itself is one read away, or in the event of the same version).
_KEYS = ("factId", "factType", "version", "changeKind", "reason", "changedBy", "changedAt", "diff")
_SELECT = ", ".join(f'{REVISION_COLUMNS[k].format(a="r")} AS "{k}"' for k in _KEYS)
# The predicate is spelled as 0007's revisions_corrections_idx spells it, so the planner proves the
# partial index applies; the order is the index's (changed_at DESC, fact_id, version), so a page
# is one index range scan however long the history.
_WHERE = """r.change_kind NOT IN ('created', 'updated')
  AND ($1::text[] IS NULL OR r.fact_type = ANY($1::text[]))
  AND ($2::text[] IS NULL OR r.change_kind = ANY($2::text[]))
  AND ($3::text IS NULL OR r.changed_at >= ($3::text)::timestamptz)
  AND ($4::text IS NULL OR r.fact_id = $4::text)"""
_PAGE = f"""SELECT {_SELECT} FROM revisions r
WHERE {_WHERE}
  AND ($5::text IS NULL OR r.changed_at < ($5::text)::timestamptz
       OR (r.changed_at = ($5::text)::timestamptz AND (r.fact_id, r.version) > ($6::text, $7::int)))
ORDER BY r.changed_at DESC, r.fact_id, r.version
LIMIT $8"""  # noqa: S608 - constant columns
_COUNT = f"SELECT count(*) FROM revisions r WHERE {_WHERE}"  # noqa: S608 - constant


@dataclass(frozen=True)
class Filter:
    """Which corrections: of some kinds of fact, some change kinds, since a time, of one fact."""

    kinds: tuple[str, ...] = ()
    change_kinds: tuple[str, ...] = ()
    since: str | None = None
    fact_id: str | None = None

    def args(self) -> tuple[Any, ...]:
        return (list(self.kinds) or None, list(self.change_kinds) or None, self.since, self.fact_id)


def check_change_kinds(values: Sequence[str], param: str = "changeKind") -> tuple[str, ...]:
    """The change kinds asked for, each one the feed carries."""
    errors = [
        FieldError((param, i), "INVALID_VALUE", f"must be one of {', '.join(CORRECTION_KINDS)}")
        for i, v in enumerate(values)
        if v not in CORRECTION_KINDS
    ]
    if errors:
        raise BadUserInput(f"{param}: not a change kind of the corrections feed", errors=errors)
    return tuple(dict.fromkeys(values))


def cursor_of(doc: dict[str, Any]) -> str:
    return pagination.encode(pagination.Cursor(ORDER, doc["changedAt"], f"{doc['factId']}/{doc['version']}"))


def _after(cursor: str | None, param: str) -> tuple[str | None, str | None, int | None]:
    if cursor is None:
        return None, None, None
    c = pagination.decode(cursor, order=ORDER, param=param)
    fact_id, _, version = c.id.rpartition("/")
    if not fact_id or not version.isdigit():
        raise BadUserInput(
            f"{param} is not a cursor returned by this API",
            errors=[FieldError((param,), "INVALID_CURSOR", "is not a cursor returned by this API")],
        )
    return c.key, fact_id, int(version)


async def page(
    conn: Conn, where: Filter, *, limit: int, after: str | None = None, param: str = "cursor"
) -> tuple[list[dict[str, Any]], list[str], bool]:
    """Up to ``limit`` corrections after the cursor, newest first: (documents, cursors, more follow)."""
    at, fact_id, version = _after(after, param)
    rows = await conn.fetch(_PAGE, *where.args(), at, fact_id, version, limit + 1)
    docs = [{"object": "correction", **dict(r)} for r in rows[:limit]]
    return docs, [cursor_of(d) for d in docs], len(rows) > limit


async def count(conn: Conn, where: Filter) -> int:
    return int(await conn.fetchval(_COUNT, *where.args()))
