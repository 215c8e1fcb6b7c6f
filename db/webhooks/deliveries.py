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
                      (SELECT count(*) FROM ins) AS deliveries,
                      (SELECT reltuples FROM pg_class WHERE oid = 'webhook_deliveries'::regclass) AS known""",
            last,
            batch,
        )
        assert row is not None
        if row["events"]:
            await conn.execute("UPDATE webhook_cursor SET last_sequence = $1, updated_at = now()", row["last"])
        if row["deliveries"]:
            await conn.execute("SELECT pg_notify($1, 'dispatch')", WAKE_CHANNEL)
    if row["deliveries"] >= ANALYZE_AFTER and row["deliveries"] > 0.1 * max(0.0, row["known"]):
        await _analyze(conn)
    return int(row["events"])


# A burst that grows the queue by more than a tenth (and by this many rows) is analyzed at once.
# The claim's plan depends on the queue's statistics: with those of a small queue, PostgreSQL
# walks every pending row of every endpoint for each claim (90 ms a claim at 15,000 pending)
# instead of the due index in due order (3 ms). Autovacuum gets there only after its nap (a
# minute by default), when a breaking story's backlog has been drained the slow way.
ANALYZE_AFTER = 1000


async def _analyze(conn: Conn) -> None:
    try:
        async with conn.transaction():
            # Never queue behind a long lock holder (autovacuum yields to us; anything else, skip).
            await conn.execute("SET LOCAL lock_timeout = '1s'")
            await conn.execute("ANALYZE webhook_deliveries")
    except (asyncpg.LockNotAvailableError, asyncpg.QueryCanceledError):
        pass  # autovacuum gets there later; the fan-out itself is committed


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
# read due candidates, keep at most ``cap`` in flight per endpoint counting this worker's current
# ones, then lock just those (SKIP LOCKED: another worker's claim of the same rows wins, and this
# one takes fewer), lease them, and return them with their events. Locking only the picked rows
# writes a row lock on a batch, not on every candidate. Candidates are ordered by next_attempt_at
# alone so the partial due index serves the ORDER BY and the LIMIT stops the scan early; the
# head-of-object test is a correlated min() over the object index, whatever the (often stale)
# statistics of this churning table say. The endpoint's status is a scalar subquery, not a join:
# joined, the statistics of a new endpoint table (one row) made PostgreSQL drive the scan from the
# endpoints through every pending row of each (114 ms a claim at 15,000 pending, not 4 ms).
# Both tests are written as boolean subqueries, which the planner counts as true for half the rows
# whatever the statistics say. Written as comparisons (status = 'enabled', sequence = min(...)),
# they were estimated to pass one row in 200 and one in as many as there are sequences, so the
# planner expected a single candidate from all 15,000 due rows: the LIMIT no longer cut the walk's
# cost, the due-index walk and a sequential scan plus sort cost the same to within 1%, and once a
# backlog lay in the table out of due order (as new rows do in the space vacuum frees after a queue
# is drained and deleted), the sort won: 80-160 ms a claim, four times the database's CPU per
# delivery. Counted at half each, the walk stopped by the LIMIT costs about 1/15 of the scan.
# The lock re-checks that the row is still pending and unleased on its newest version, so two
# workers never lease one delivery.
# set_config(..., true) skips the WAL flush wait for this transaction only (see _NO_FLUSH).
# The event's data is shaped here, at each attempt, for the endpoint's payload scope: a 'public'
# endpoint gets what a read-scope reader may see now (event_public_data, 0013), so a retry or a
# replay after a recall never carries what the recall took down.
_CLAIM = """
WITH cfg AS (SELECT set_config('synchronous_commit', 'off', true) AS v),
candidates AS (
    SELECT d.id, d.endpoint_id, d.next_attempt_at FROM webhook_deliveries d
    WHERE d.status = 'pending' AND d.next_attempt_at <= now()
      AND (d.locked_until IS NULL OR d.locked_until <= now())
      AND NOT (d.endpoint_id = ANY($2::text[]))
      AND (SELECT w.status = 'enabled' FROM webhook_endpoints w WHERE w.id = d.endpoint_id)
      AND (d.object_id IS NULL OR (
          SELECT min(p.sequence) = d.sequence FROM webhook_deliveries p
          WHERE p.endpoint_id = d.endpoint_id AND p.object_id = d.object_id AND p.status = 'pending'))
    ORDER BY d.next_attempt_at
    LIMIT $1
), ranked AS (
    -- The worker's own in flight per endpoint, a jsonb object looked up per candidate: joined as an
    -- unnest, each candidate scanned the whole list.
    SELECT c.id, c.next_attempt_at,
           row_number() OVER (PARTITION BY c.endpoint_id ORDER BY c.next_attempt_at)
               + coalesce(($3::jsonb ->> c.endpoint_id)::int, 0) AS slot
    FROM candidates c
), picked AS (
    SELECT id FROM ranked WHERE slot <= $4 ORDER BY next_attempt_at LIMIT $5
), locked AS (
    SELECT d.id FROM webhook_deliveries d
    WHERE d.id = ANY(ARRAY(SELECT id FROM picked)) AND d.status = 'pending'
      AND (d.locked_until IS NULL OR d.locked_until <= now())
    FOR UPDATE OF d SKIP LOCKED
), upd AS (
    UPDATE webhook_deliveries d SET locked_until = now() + make_interval(secs => $6), locked_by = $7
    FROM locked, webhook_endpoints w
    WHERE d.id = locked.id AND w.id = d.endpoint_id
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
        in_flight,
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
    unreachable: bool = False  # no connection could be opened: the endpoint's other deliveries wait a moment


_RECORD = """
WITH cfg AS (SELECT set_config('synchronous_commit', 'off', true) AS v),
i AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::int[], $6::int[], $7::text[],
                         $8::text[], $9::text[], $10::float8[], $11::text[], $12::bigint[], $13::text[])
           WITH ORDINALITY AS i(id, endpoint_id, ok, status, response_status, duration_ms, response_body,
                                error, payload_scope, retry_in, object_id, sequence, disable_reason, n)
),
-- The endpoint rows first, as DELETE of an endpoint does (then its deliveries), in id order: a
-- concurrent delete waits instead of deadlocking. KEY SHARE does not block other workers.
alive AS MATERIALIZED (
    SELECT w.id FROM webhook_endpoints w WHERE w.id IN (SELECT endpoint_id FROM i) ORDER BY w.id FOR KEY SHARE
),
ins AS (
    INSERT INTO webhook_attempts (delivery_id, endpoint_id, outcome, response_status, duration_ms,
                                  response_body, error, worker, payload_scope)
    SELECT i.id, i.endpoint_id, CASE WHEN i.ok = 1 THEN 'succeeded' ELSE 'failed' END, i.response_status,
           i.duration_ms, i.response_body, i.error, $14, i.payload_scope
    FROM i JOIN alive ON alive.id = i.endpoint_id ORDER BY i.n
),
-- Only the lease holder moves a delivery on: a worker whose lease lapsed must not undo what the
-- next holder did.
moved AS (
    UPDATE webhook_deliveries d SET
        status = i.status, attempt_count = d.attempt_count + 1,
        next_attempt_at = now() + make_interval(secs => coalesce(i.retry_in, 0)),
        locked_until = NULL, locked_by = NULL,
        last_status_code = i.response_status, last_error = i.error,
        delivered_at = CASE WHEN i.status = 'delivered' THEN now() ELSE d.delivered_at END
    FROM i JOIN alive ON alive.id = i.endpoint_id
    -- d.id = ANY($1): a primary-key lookup whatever the statistics say, never a scan of the queue.
    WHERE d.id = ANY($1::text[]) AND d.id = i.id AND d.locked_by = $14
    RETURNING d.id
),
-- An object's later events wait for a retried one anyway: move them out of the due range until its
-- retry, so claim scans do not wade through blocked rows during an outage. (They are never in the
-- same batch: a later event is claimed only once the earlier one is no longer pending.)
parked AS (
    UPDATE webhook_deliveries l SET next_attempt_at = now() + make_interval(secs => i.retry_in)
    FROM i JOIN alive ON alive.id = i.endpoint_id
    WHERE i.status = 'pending' AND i.object_id IS NOT NULL
      AND l.endpoint_id = i.endpoint_id AND l.object_id = i.object_id AND l.status = 'pending'
      AND l.sequence > i.sequence AND l.next_attempt_at < now() + make_interval(secs => i.retry_in)
    RETURNING 1
),
-- Per endpoint, what the batch says in the order its attempts finished: the last outcome decides
-- whether it is failing; any 410 (or the first failure past the limit) disables it.
agg AS (
    SELECT endpoint_id, bool_or(ok = 1) AS any_ok, bool_or(ok = 0) AS any_failed,
           (array_agg(ok ORDER BY n DESC))[1] = 1 AS last_ok,
           (array_agg(disable_reason ORDER BY n) FILTER (WHERE disable_reason IS NOT NULL))[1] AS disable_reason,
           (array_agg(error ORDER BY n DESC) FILTER (WHERE ok = 0))[1] AS last_error
    FROM i GROUP BY endpoint_id
),
judged AS MATERIALIZED (
    SELECT w.id, a.any_ok, a.any_failed, a.last_ok,
           w.status = 'enabled' AND a.any_failed AND (a.disable_reason IS NOT NULL
               OR w.failing_since < now() - make_interval(secs => $15)) AS disable,
           coalesce(a.disable_reason, 'no successful delivery since '
                    || to_char(w.failing_since, 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
                    || '; last error: ' || coalesce(a.last_error, 'unknown')) AS reason
    FROM agg a JOIN webhook_endpoints w ON w.id = a.endpoint_id
    -- A success alone skips a fresh row: every success writing it would serialise an endpoint's
    -- deliveries on its row lock.
    WHERE a.any_failed OR w.failing_since IS NOT NULL OR w.last_success_at IS NULL
       OR w.last_success_at < now() - interval '1 second'
    ORDER BY w.id FOR NO KEY UPDATE OF w
),
endpoints AS (
    UPDATE webhook_endpoints w SET
        failing_since = CASE WHEN j.last_ok THEN NULL ELSE coalesce(w.failing_since, now()) END,
        last_success_at = CASE WHEN j.any_ok THEN now() ELSE w.last_success_at END,
        last_failure_at = CASE WHEN j.any_failed THEN now() ELSE w.last_failure_at END,
        status = CASE WHEN j.disable THEN 'disabled' ELSE w.status END,
        disabled_reason = CASE WHEN j.disable THEN j.reason ELSE w.disabled_reason END,
        disabled_at = CASE WHEN j.disable THEN now() ELSE w.disabled_at END
    FROM judged j WHERE w.id = j.id
    RETURNING w.id, CASE WHEN j.disable THEN j.reason END AS disabled
)
SELECT (SELECT v FROM cfg) AS cfg,
       (SELECT coalesce(array_agg(id), '{}') FROM moved) AS ours,
       (SELECT coalesce(array_agg(id), '{}') FROM alive) AS alive,
       (SELECT coalesce(array_agg(id), '{}') FROM endpoints WHERE disabled IS NOT NULL) AS disabled_ids,
       (SELECT coalesce(array_agg(disabled), '{}') FROM endpoints WHERE disabled IS NOT NULL) AS disabled_reasons,
       (SELECT count(*) FROM parked) AS parked
"""


@dataclass(frozen=True)
class Recorded:
    """What one flush of outcomes did."""

    ours: set[str]  # deliveries moved on (the lease was still this worker's)
    gone: set[str]  # deliveries whose endpoint was deleted meanwhile, with them: nothing recorded
    disabled: dict[str, str]  # endpoint id -> why it was disabled by these outcomes


def _status(outcome: Outcome) -> str:
    if outcome.succeeded:
        return "delivered"
    return "failed" if outcome.retry_in_seconds is None else "pending"


async def record_many(
    conn: Conn, done: Sequence[tuple[Claimed, Outcome]], *, worker: str, disable_after_seconds: float
) -> Recorded:
    """Store a batch of finished attempts and move their deliveries on, in one statement (one round
    trip and one commit however many attempts finished): the attempts in the log, each delivery's
    next state, the parking of an object's later events behind a retry, and each endpoint's health
    (failing since, disabled). ``done`` is in the order the attempts finished."""
    row = await conn.fetchrow(
        _RECORD,
        [c.id for c, _ in done],
        [c.endpoint_id for c, _ in done],
        [1 if o.succeeded else 0 for _, o in done],
        [_status(o) for _, o in done],
        [o.response_status for _, o in done],
        [o.duration_ms for _, o in done],
        [o.response_body for _, o in done],
        [o.error for _, o in done],
        [c.payload_scope for c, _ in done],
        [o.retry_in_seconds for _, o in done],
        [c.object_id for c, _ in done],
        [c.sequence for c, _ in done],
        [o.disable_reason for _, o in done],
        worker,
        disable_after_seconds,
    )
    assert row is not None
    alive = set(row["alive"])
    return Recorded(
        ours=set(row["ours"]),
        gone={c.id for c, _ in done if c.endpoint_id not in alive},
        disabled=dict(zip(row["disabled_ids"], row["disabled_reasons"], strict=True)),
    )


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
