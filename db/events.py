"""The outbox: change events appended in the writer's transaction, and read back in sequence order,
in full or as a read-scope consumer may see them (the recall rules, 0013_event_recall.sql).

``append`` must be the last statement of a writing transaction: it takes the event_counter row
lock, which serialises commits so that sequence order is commit order (see 0001_core.sql)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from db.ids import new_id

# Re-exported: readers of the outbox import the event types from here.
from db.kinds import CHANGE_KINDS as CHANGE_KINDS
from db.kinds import EVENT_TYPES as EVENT_TYPES
from db.kinds import LOAD_ORDER
from db.kinds import change_kinds as change_kinds
from db.lens import Lens
from db.pool import Conn

NOTIFY_CHANNEL = "newsfacts_events"  # also spelled out in _APPEND
EVENT_KINDS = LOAD_ORDER  # every fact kind emits events; re-exported with the registry's types


@dataclass(frozen=True)
class PendingEvent:
    """An event to append: its type and the fact revision whose snapshot it carries."""

    type: str
    fact_id: str
    version: int


_APPEND = """
WITH seq AS (
    UPDATE event_counter SET last = last + cardinality($1::text[]) RETURNING last - cardinality($1::text[]) AS base
), ins AS (
    INSERT INTO events (sequence, id, type, object_type, object_id, object_version, data, created_at)
    SELECT seq.base + p.ord, p.event_id, p.type, r.fact_type, p.fact_id, p.version, r.snapshot, r.changed_at
    FROM seq,
         unnest($1::text[], $2::text[], $3::text[], $4::int[]) WITH ORDINALITY AS p(event_id, type, fact_id, version, ord)
         JOIN revisions r ON r.fact_id = p.fact_id AND r.version = p.version
    RETURNING sequence
)
SELECT max(sequence) AS last, count(*) AS n, pg_notify('newsfacts_events', max(sequence)::text) FROM ins
"""


async def append(conn: Conn, pending: Sequence[PendingEvent]) -> int:
    """Append events for committed-with-this-transaction revisions; returns the last sequence."""
    if not pending:
        return 0
    row = await conn.fetchrow(
        _APPEND,
        [new_id("event") for _ in pending],
        [p.type for p in pending],
        [p.fact_id for p in pending],
        [p.version for p in pending],
    )
    assert row is not None and row["n"] == len(pending), "every event must find its revision"
    return int(row["last"])


Event = dict[str, Any]


def event_doc(row: asyncpg.Record) -> Event:
    """The shape of an event on every surface (REST /v1/events, SSE, subscriptions), with its stored
    snapshot as ``data``: what write and admin consumers get (see ``Envelope`` for the others)."""
    return {
        "id": row["id"],
        "object": "event",
        "sequence": row["sequence"],
        "type": row["type"],
        "objectType": row["object_type"],
        "objectId": row["object_id"],
        "objectVersion": row["object_version"],
        "createdAt": row["created_at"].isoformat(),
        "data": row["data"],
    }


@dataclass(frozen=True, slots=True)
class Envelope:
    """One event in both scopes: ``full`` for write and admin consumers, ``public`` under the recall
    rules for read-scope and anonymous ones (event_public_data, 0013; the same dict when the two
    agree). ``recalled``: they differ — an article stub, or no data for a withdrawn fact.
    ``as_of``: the rules were applied with every event up to this sequence committed, so only a
    recall after it can make ``public`` stale (api/events/feed.py redacts such events again)."""

    full: Event
    public: Event
    recalled: bool
    as_of: int
    # Encodings of this event for the wire, by whoever sends it, keyed by form (api/rest/events.py
    # keeps each scope's SSE frame here): an event fanned out to many is encoded once per form.
    encoded: dict[Any, bytes] = field(default_factory=dict, compare=False, repr=False)

    @property
    def sequence(self) -> int:
        return int(self.full["sequence"])

    @property
    def object_id(self) -> str:
        return str(self.full["objectId"])

    def doc(self, lens: Lens) -> Event:
        return self.public if lens.public else self.full


# The head is read in the same statement (one snapshot), so every recall with a sequence up to it
# is visible to event_public_data. The public form is sent only when it differs.
_ENVELOPES = """
SELECT e.sequence, e.id, e.type, e.object_type, e.object_id, e.object_version, e.created_at, e.data,
       p.recalled, CASE WHEN p.recalled THEN p.data END AS public_data, (SELECT last FROM event_counter) AS as_of
FROM events e
CROSS JOIN LATERAL (SELECT d AS data, d IS DISTINCT FROM e.data AS recalled
                    FROM event_public_data(e.object_type, e.object_id, e.data) d) p
WHERE e.sequence > $1
  AND ($2::text[] IS NULL OR e.type = ANY($2::text[]))
  AND ($3::text IS NULL OR e.object_id = $3::text)
ORDER BY e.sequence LIMIT $4
"""


def _envelope(row: asyncpg.Record) -> Envelope:
    """An Envelope from a row of ``_ENVELOPES``."""
    full = event_doc(row)
    if not row["recalled"]:
        return Envelope(full, full, False, int(row["as_of"]))
    return Envelope(full, {**full, "data": row["public_data"]}, True, int(row["as_of"]))


async def envelopes_after(
    conn: Conn,
    after: int,
    *,
    limit: int = 100,
    types: Sequence[str] | None = None,
    object_id: str | None = None,
) -> list[Envelope]:
    """Events with sequence > ``after`` in sequence order, in both scopes, optionally filtered by
    type and object."""
    rows = await conn.fetch(_ENVELOPES, after, list(types) if types else None, object_id, limit)
    return [_envelope(r) for r in rows]


async def list_after(
    conn: Conn,
    after: int,
    *,
    lens: Lens,
    limit: int = 100,
    types: Sequence[str] | None = None,
    object_id: str | None = None,
) -> list[Event]:
    """Events with sequence > ``after`` as ``lens``'s consumer sees them now, in sequence order."""
    if lens.public:
        return [e.public for e in await envelopes_after(conn, after, limit=limit, types=types, object_id=object_id)]
    rows = await conn.fetch(
        """SELECT * FROM events
           WHERE sequence > $1
             AND ($2::text[] IS NULL OR type = ANY($2::text[]))
             AND ($3::text IS NULL OR object_id = $3::text)
           ORDER BY sequence LIMIT $4""",
        after,
        list(types) if types else None,
        object_id,
        limit,
    )
    return [event_doc(r) for r in rows]


async def last_sequence(conn: Conn) -> int:
    value = await conn.fetchval("SELECT last FROM event_counter")
    return int(value or 0)


async def oldest_sequence(conn: Conn) -> int | None:
    """The lowest retained sequence (None when no event is retained)."""
    value = await conn.fetchval("SELECT min(sequence) FROM events")
    return None if value is None else int(value)


async def prune(conn: Conn, *, retention_days: int, keep_after: int, statement_seconds: float | None = None) -> int:
    """Delete events older than the retention period, never one above ``keep_after`` (the relay's
    published sequence: an unpublished event is kept whatever its age). Returns how many went."""
    status = await conn.execute(
        "DELETE FROM events WHERE created_at < now() - make_interval(days => $1) AND sequence <= $2",
        retention_days,
        keep_after,
        timeout=statement_seconds,
    )
    return int(status.split()[-1])


async def published_sequence(conn: Conn) -> int:
    """How far the relay has published the outbox (see relay_state in 0002_events.sql)."""
    value = await conn.fetchval("SELECT published_sequence FROM relay_state")
    return int(value or 0)


async def record_published(conn: Conn, sequence: int) -> None:
    await conn.execute(
        "UPDATE relay_state SET published_sequence = greatest(published_sequence, $1), published_at = now()",
        sequence,
    )


async def record_leader(conn: Conn, leader: str) -> None:
    await conn.execute("UPDATE relay_state SET leader = $1, leader_since = now()", leader)


async def stream_key(conn: Conn) -> str:
    """The name of this database's Redis Stream (see relay_state.stream)."""
    value = await conn.fetchval("SELECT stream FROM relay_state")
    return str(value)
