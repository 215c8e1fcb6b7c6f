"""Webhook deliveries: the fan-out from the outbox into the delivery queue, claiming due deliveries
with leases, recording attempts and outcomes, replay, and the delivery log. Design notes in
0003_webhooks.sql; endpoints are db/webhooks/endpoints.py."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg

from db.pool import Conn
from db.secrets import SecretBox, SecretKeyError
from db.webhooks.endpoints import signing_secrets

WAKE_CHANNEL = "newsfacts_webhooks"  # NOTIFYed when deliveries become due, so idle workers wake

# The worker's own transactions (fan-out, leases, attempt records) skip waiting for the WAL flush:
# a server crash can only lose their last few hundred milliseconds, and each loss is safe — a lost
# fan-out loses its cursor move with it (the events are fanned out again), a lost lease or record
# makes the delivery due again (sent twice, which at-least-once receivers deduplicate on webhook-id).
# It saves a disk flush per delivery, the largest cost of a delivery on a busy server.
_NO_FLUSH = "SET LOCAL synchronous_commit = off"


def attempt_doc(row: asyncpg.Record | dict[str, Any]) -> dict[str, Any]:
    return {
        "object": "webhook_attempt",
        "attemptedAt": _iso(row["attempted_at"]) if isinstance(row["attempted_at"], datetime) else row["attempted_at"],
        "outcome": row["outcome"],
        "responseStatus": row["response_status"],
        "durationMs": row["duration_ms"],
        "responseBody": row["response_body"],
        "error": row["error"],
        # The scope this attempt's body was shaped in (null for a ping).
        "payloadScope": row["payload_scope"],
    }


def delivery_doc(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": row["id"],
        "object": "webhook_delivery",
        "endpoint": row["endpoint_id"],
        "event": row["event_id"],
        "sequence": row["sequence"],
        "type": row["type"],
        "reason": row["reason"],
        "status": row["status"],
        "attemptCount": row["attempt_count"],
        "nextAttemptAt": _iso(row["next_attempt_at"]) if row["status"] == "pending" else None,
        "lastStatusCode": row["last_status_code"],
        "lastError": row["last_error"],
        "deliveredAt": _iso(row["delivered_at"]),
        "createdAt": _iso(row["created_at"]),
        "attempts": [attempt_doc(a) for a in (row["attempts"] or [])],
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


# --- fan-out ---------------------------------------------------------------------------------


async def dispatch(conn: Conn, *, batch: int = 1000) -> int | None:
    """Fan out up to ``batch`` events after the cursor; returns how many events were consumed,
    or None when another worker holds the cursor (it is doing this very job)."""
    async with conn.transaction():
        await conn.execute(_NO_FLUSH)
        last = await conn.fetchval("SELECT last_sequence FROM webhook_cursor FOR UPDATE SKIP LOCKED")
        if last is None:
            return None
        row = await conn.fetchrow(
            """WITH ev AS (
                   SELECT sequence, id, type, object_id FROM events WHERE sequence > $1 ORDER BY sequence LIMIT $2
               ), ins AS (
                   -- Due times a microsecond apart in (sequence, endpoint) order: the due index then
                   -- interleaves endpoints, so a claim's first candidates are not all one endpoint's
                   -- (which its per-endpoint cap would cut down to a few).
                   INSERT INTO webhook_deliveries (id, endpoint_id, event_id, sequence, object_id, type, next_attempt_at)
                   SELECT newsfacts_new_id('whd'), w.id, ev.id, ev.sequence, ev.object_id, ev.type,
                          now() + make_interval(secs => (row_number() OVER (ORDER BY ev.sequence, w.id)) / 1e6)
                   FROM ev JOIN webhook_endpoints w
                     ON w.status = 'enabled' AND ev.sequence > w.created_sequence
                    AND w.enabled_events && ARRAY['*', ev.type]
                   RETURNING 1
               )
               SELECT (SELECT count(*) FROM ev) AS events, (SELECT max(sequence) FROM ev) AS last,
                      (SELECT count(*) FROM ins) AS deliveries""",
            last,
            batch,
        )
        assert row is not None
        if row["events"]:
            await conn.execute("UPDATE webhook_cursor SET last_sequence = $1, updated_at = now()", row["last"])
        if row["deliveries"]:
            await conn.execute("SELECT pg_notify($1, 'dispatch')", WAKE_CHANNEL)
        return int(row["events"])


# --- delivery queue --------------------------------------------------------------------------


@dataclass(frozen=True)
class Claimed:
    """A leased delivery with what sending it needs."""

    id: str
    endpoint_id: str
    url: str
    secrets: list[str]
    event_id: str | None
    type: str
    payload: dict[str, Any] | None
    attempt_count: int
    event: dict[str, Any] | None  # its data in the endpoint's payload scope, as of this claim
    object_id: str | None = None
    sequence: int | None = None
    payload_scope: str | None = None  # the endpoint's, for an event (None for a ping)


# One statement, one round trip (the claim loop is serial, so its latency caps a worker's rate):
# lock due candidates (SKIP LOCKED), keep at most ``cap`` in flight per endpoint counting this
# worker's current ones, lease those, and return them with their events. Unpicked candidates are
# unlocked when the statement ends. Ordered by next_attempt_at alone so the partial due index
# serves the ORDER BY and the LIMIT stops the scan early; the head-of-object test is a correlated
# min() over the object index, whatever the (often stale) statistics of this churning table say.
# set_config(..., true) skips the WAL flush wait for this transaction only (see _NO_FLUSH).
# The event's data is shaped here, at each attempt, for the endpoint's payload scope: a 'public'
# endpoint gets what a read-scope reader may see now (event_public_data, 0013), so a retry or a
# replay after a recall never carries what the recall took down.
_CLAIM = """
WITH cfg AS (SELECT set_config('synchronous_commit', 'off', true) AS v),
locked AS (
    SELECT d.id, d.endpoint_id, d.next_attempt_at FROM webhook_deliveries d
    JOIN webhook_endpoints w ON w.id = d.endpoint_id
    WHERE d.status = 'pending' AND d.next_attempt_at <= now()
      AND (d.locked_until IS NULL OR d.locked_until <= now())
      AND w.status = 'enabled'
      AND NOT (d.endpoint_id = ANY($2::text[]))
      AND (d.object_id IS NULL OR d.sequence = (
          SELECT min(p.sequence) FROM webhook_deliveries p
          WHERE p.endpoint_id = d.endpoint_id AND p.object_id = d.object_id AND p.status = 'pending'))
    ORDER BY d.next_attempt_at
    LIMIT $1
    FOR UPDATE OF d SKIP LOCKED
), ranked AS (
    SELECT l.id, l.next_attempt_at,
           row_number() OVER (PARTITION BY l.endpoint_id ORDER BY l.next_attempt_at) + coalesce(f.n, 0) AS slot
    FROM locked l LEFT JOIN unnest($3::text[], $4::int[]) AS f(endpoint_id, n) ON f.endpoint_id = l.endpoint_id
), picked AS (
    SELECT id FROM ranked WHERE slot <= $5 ORDER BY next_attempt_at LIMIT $6
), upd AS (
    UPDATE webhook_deliveries d SET locked_until = now() + make_interval(secs => $7), locked_by = $8
    FROM picked, webhook_endpoints w
    WHERE d.id = picked.id AND w.id = d.endpoint_id
    RETURNING d.id, d.endpoint_id, d.event_id, d.type, d.payload, d.attempt_count, d.sequence, d.object_id,
              w.url, w.secret, w.previous_secrets, w.payload_scope
)
SELECT upd.*, e.sequence AS e_sequence, e.type AS e_type, e.object_type AS e_object_type,
       e.object_id AS e_object_id, e.created_at AS e_created_at, (SELECT v FROM cfg) AS cfg,
       CASE WHEN upd.payload_scope = 'full' THEN e.data
            ELSE event_public_data(e.object_type, e.object_id, e.data) END AS e_data
FROM upd LEFT JOIN events e ON e.id = upd.event_id
ORDER BY upd.sequence NULLS LAST
"""


async def claim(
    conn: Conn,
    box: SecretBox,
    *,
    worker: str,
    limit: int,
    lease_seconds: float,
    in_flight: dict[str, int],
    per_endpoint: int,
) -> list[Claimed]:
    """Lease up to ``limit`` due deliveries, at most ``per_endpoint`` in flight per endpoint counting
    ``in_flight`` (this worker's current ones), so one slow endpoint cannot take every slot."""
    busy = [e for e, n in in_flight.items() if n >= per_endpoint]
    rows = await conn.fetch(
        _CLAIM,
        limit * 4,
        busy,
        list(in_flight),
        list(in_flight.values()),
        per_endpoint,
        limit,
        lease_seconds,
        worker,
    )
    now = datetime.now(UTC)
    return [
        Claimed(
            id=r["id"],
            endpoint_id=r["endpoint_id"],
            url=r["url"],
            secrets=_secrets(r, now, box),
            event_id=r["event_id"],
            type=r["type"],
            payload=r["payload"],
            attempt_count=r["attempt_count"],
            event=_event(r),
            object_id=r["object_id"],
            sequence=r["sequence"],
            payload_scope=r["payload_scope"] if r["event_id"] is not None else None,
        )
        for r in rows
    ]


def _secrets(row: asyncpg.Record, now: datetime, box: SecretBox) -> list[str]:
    """The delivery's signing secrets; none when they do not open (a key missing from
    WEBHOOK_SECRET_KEYS): the attempt then fails and is retried, it is never sent unsigned."""
    try:
        return signing_secrets(row, now, box, row["endpoint_id"])
    except SecretKeyError:
        return []


def _event(row: asyncpg.Record) -> dict[str, Any] | None:
    if row["event_id"] is None or row["e_sequence"] is None:
        return None  # a ping, or an event gone from the log
    return {
        "id": row["event_id"],
        "sequence": row["e_sequence"],
        "type": row["e_type"],
        "object_type": row["e_object_type"],
        "object_id": row["e_object_id"],
        "data": row["e_data"],
        "created_at": row["e_created_at"],
    }


@dataclass(frozen=True)
class Outcome:
    """One finished attempt and what it means for the delivery and the endpoint."""

    succeeded: bool
    response_status: int | None
    duration_ms: int
    response_body: str | None
    error: str | None
    retry_in_seconds: float | None  # None: no more attempts (delivered, or given up)
    disable_reason: str | None = None  # set: disable the endpoint now (e.g. 410 Gone)


async def record(
    conn: Conn, claimed: Claimed, outcome: Outcome, *, worker: str, disable_after_seconds: float
) -> tuple[bool, str | None]:
    """Store the attempt and move the delivery on; returns (lease still ours, endpoint disabled reason)."""
    if outcome.succeeded:
        status = "delivered"
    elif outcome.retry_in_seconds is None:
        status = "failed"
    else:
        status = "pending"
    async with conn.transaction():
        await conn.execute(_NO_FLUSH)
        # The endpoint row first, as DELETE of an endpoint does (then its deliveries): the same lock
        # order, so a concurrent delete waits instead of deadlocking. KEY SHARE does not block other workers.
        alive = await conn.fetchval(
            "SELECT true FROM webhook_endpoints WHERE id = $1 FOR KEY SHARE", claimed.endpoint_id
        )
        if not alive:
            return False, None  # deleted meanwhile, with its deliveries: nothing left to record
        await conn.execute(
            """INSERT INTO webhook_attempts (delivery_id, endpoint_id, outcome, response_status, duration_ms,
                                             response_body, error, worker, payload_scope)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)""",
            claimed.id,
            claimed.endpoint_id,
            "succeeded" if outcome.succeeded else "failed",
            outcome.response_status,
            outcome.duration_ms,
            outcome.response_body,
            outcome.error,
            worker,
            claimed.payload_scope,
        )
        # Only the lease holder moves the delivery on: a worker whose lease lapsed must not undo
        # what the next holder did.
        ours = await conn.fetchval(
            """UPDATE webhook_deliveries SET
                   status = $3, attempt_count = attempt_count + 1,
                   next_attempt_at = now() + make_interval(secs => coalesce($4, 0)),
                   locked_until = NULL, locked_by = NULL,
                   last_status_code = $5, last_error = $6,
                   delivered_at = CASE WHEN $3 = 'delivered' THEN now() ELSE delivered_at END
               WHERE id = $1 AND locked_by = $2 RETURNING true""",
            claimed.id,
            worker,
            status,
            outcome.retry_in_seconds,
            outcome.response_status,
            outcome.error,
        )
        if status == "pending" and claimed.object_id is not None:
            # The object's later events wait for this one anyway: move them out of the due range
            # until its retry, so claim scans do not wade through blocked rows during an outage.
            await conn.execute(
                """UPDATE webhook_deliveries SET next_attempt_at = now() + make_interval(secs => $4)
                   WHERE endpoint_id = $1 AND object_id = $2 AND status = 'pending' AND sequence > $3
                     AND next_attempt_at < now() + make_interval(secs => $4)""",
                claimed.endpoint_id,
                claimed.object_id,
                claimed.sequence,
                outcome.retry_in_seconds,
            )
        if outcome.succeeded:
            # Skipped while the row is fresh: every success writing it would serialise an endpoint's
            # deliveries on its row lock.
            await conn.execute(
                """UPDATE webhook_endpoints SET failing_since = NULL, last_success_at = now()
                   WHERE id = $1 AND (failing_since IS NOT NULL OR last_success_at IS NULL
                                      OR last_success_at < now() - interval '1 second')""",
                claimed.endpoint_id,
            )
            return bool(ours), None
        reason = await conn.fetchval(
            """UPDATE webhook_endpoints SET
                   failing_since = coalesce(failing_since, now()), last_failure_at = now(),
                   status = CASE WHEN new.disable THEN 'disabled' ELSE status END,
                   disabled_reason = CASE WHEN new.disable THEN new.reason ELSE disabled_reason END,
                   disabled_at = CASE WHEN new.disable THEN now() ELSE disabled_at END
               FROM (SELECT status = 'enabled' AND ($2::text IS NOT NULL
                              OR failing_since < now() - make_interval(secs => $3)) AS disable,
                            coalesce($2, 'no successful delivery since '
                                     || to_char(failing_since, 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
                                     || '; last error: ' || coalesce($4, 'unknown')) AS reason
                     FROM webhook_endpoints WHERE id = $1) new
               WHERE id = $1 RETURNING CASE WHEN new.disable THEN new.reason END""",
            claimed.endpoint_id,
            outcome.disable_reason,
            disable_after_seconds,
            outcome.error,
        )
        return bool(ours), reason


async def release(conn: Conn, delivery_ids: Sequence[str], worker: str) -> None:
    """Give leases back (on shutdown) so other workers need not wait for them to lapse."""
    await conn.execute(
        """UPDATE webhook_deliveries SET locked_until = NULL, locked_by = NULL
           WHERE id = ANY($1::text[]) AND locked_by = $2""",
        list(delivery_ids),
        worker,
    )


async def seconds_until_due(conn: Conn) -> float | None:
    """How long until the next pending delivery is due (≤ 0: now), None when nothing is pending."""
    value = await conn.fetchval(
        """SELECT extract(epoch FROM min(greatest(d.next_attempt_at, coalesce(d.locked_until, d.next_attempt_at))) - now())
           FROM webhook_deliveries d JOIN webhook_endpoints w ON w.id = d.endpoint_id AND w.status = 'enabled'
           WHERE d.status = 'pending'"""
    )
    return float(value) if value is not None else None


# --- recovery and the delivery log -----------------------------------------------------------


async def ping(conn: Conn, endpoint_id: str, payload: dict[str, Any]) -> asyncpg.Record:
    row = await conn.fetchrow(
        """INSERT INTO webhook_deliveries (id, endpoint_id, type, payload, reason)
           VALUES (newsfacts_new_id('whd'), $1, $2, $3, 'ping') RETURNING *, NULL::jsonb AS attempts""",
        endpoint_id,
        payload["type"],
        payload,
    )
    await conn.execute("SELECT pg_notify($1, 'ping')", WAKE_CHANNEL)
    assert row is not None
    created: asyncpg.Record = row
    return created


async def replay(conn: Conn, endpoint_id: str, *, after_sequence: int | None, since: datetime | None) -> int:
    """Queue every event the endpoint subscribes to after a sequence or since a time; returns how many.
    Events not yet fanned out are left to the dispatcher, so nothing is queued twice by this call."""
    async with conn.transaction():
        head = await conn.fetchval("SELECT last_sequence FROM webhook_cursor FOR UPDATE")
        count = await conn.fetchval(
            """WITH ins AS (
                   INSERT INTO webhook_deliveries (id, endpoint_id, event_id, sequence, object_id, type, reason)
                   SELECT newsfacts_new_id('whd'), w.id, e.id, e.sequence, e.object_id, e.type, 'replay'
                   FROM webhook_endpoints w JOIN events e
                     ON e.sequence <= greatest($2::bigint, w.created_sequence)
                    AND w.enabled_events && ARRAY['*', e.type]
                   WHERE w.id = $1
                     AND ($3::bigint IS NULL OR e.sequence > $3)
                     AND ($4::timestamptz IS NULL OR e.created_at >= $4)
                   ORDER BY e.sequence
                   RETURNING 1)
               SELECT count(*) FROM ins""",
            endpoint_id,
            head,
            after_sequence,
            since,
        )
        await conn.execute("SELECT pg_notify($1, 'replay')", WAKE_CHANNEL)
    return int(count)


_DELIVERY_SELECT = """
SELECT d.*, (SELECT jsonb_agg(jsonb_build_object(
                 'attempted_at', a.attempted_at, 'outcome', a.outcome, 'response_status', a.response_status,
                 'duration_ms', a.duration_ms, 'response_body', a.response_body, 'error', a.error,
                 'payload_scope', a.payload_scope) ORDER BY a.id)
             FROM webhook_attempts a WHERE a.delivery_id = d.id) AS attempts
FROM webhook_deliveries d
"""


async def get_delivery(conn: Conn, delivery_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(_DELIVERY_SELECT + " WHERE d.id = $1", delivery_id)


async def list_deliveries(
    conn: Conn,
    *,
    endpoint_id: str | None,
    event_id: str | None,
    status: str | None,
    limit: int,
    before: str | None,
) -> tuple[list[asyncpg.Record], bool]:
    """Newest first, keyset on id."""
    rows = await conn.fetch(
        _DELIVERY_SELECT
        + """ WHERE ($1::text IS NULL OR d.endpoint_id = $1) AND ($2::text IS NULL OR d.event_id = $2)
              AND ($3::text IS NULL OR d.status = $3) AND ($4::text IS NULL OR d.id < $4)
              ORDER BY d.id DESC LIMIT $5""",
        endpoint_id,
        event_id,
        status,
        before,
        limit + 1,
    )
    return list(rows[:limit]), len(rows) > limit


async def retry_delivery(conn: Conn, delivery_id: str) -> asyncpg.Record | None:
    """Make a delivery due now with a fresh retry schedule (its attempts stay in the log)."""
    row = await conn.fetchrow(
        """UPDATE webhook_deliveries SET status = 'pending', attempt_count = 0, next_attempt_at = now(),
               locked_until = NULL, locked_by = NULL
           WHERE id = $1 AND (locked_until IS NULL OR locked_until <= now()) RETURNING id""",
        delivery_id,
    )
    if row is None:
        return None
    # Later events of the same object were parked until this one's next retry: bring them back too.
    await conn.execute(
        """UPDATE webhook_deliveries l SET next_attempt_at = now()
           FROM webhook_deliveries h
           WHERE h.id = $1 AND l.endpoint_id = h.endpoint_id AND l.object_id = h.object_id
             AND l.status = 'pending' AND l.sequence > h.sequence AND l.next_attempt_at > now()""",
        delivery_id,
    )
    await conn.execute("SELECT pg_notify($1, 'retry')", WAKE_CHANNEL)
    return await get_delivery(conn, delivery_id)
