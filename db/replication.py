"""What read routing asks PostgreSQL: the primary's WAL position and event sequence after a write
(the consistency token), and how far a streaming replica has replayed."""

from __future__ import annotations

from db.pool import Conn


async def primary_position(conn: Conn) -> tuple[int, int]:
    """(WAL insert position, last event sequence) on the primary, read after a write committed.

    Both only grow, so a value read after the commit is at or past the commit's own: a replica that
    has replayed this far, and a cache entry computed from this sequence on, include the write.
    The insert position (not the flush position) stays correct under synchronous_commit = off."""
    row = await conn.fetchrow("SELECT pg_current_wal_insert_lsn() AS lsn, (SELECT last FROM event_counter) AS seq")
    assert row is not None
    return int(row["lsn"]), int(row["seq"] or 0)


async def replica_position(conn: Conn) -> tuple[int, int]:
    """(WAL replay position, last event sequence visible) on a replica.

    Two statements, position first: the counter is then read from a snapshot taken after that
    position was replayed, so it is at least every event up to it — and, as replay only moves
    forward, every later statement on this replica sees at least that much."""
    row = await conn.fetchrow(
        "SELECT coalesce(pg_last_wal_replay_lsn(), '0/0'::pg_lsn) AS lsn, pg_is_in_recovery() AS standby"
    )
    assert row is not None
    if not row["standby"]:
        # A promoted (or misconfigured) "replica" is a primary of its own: never route reads there.
        raise RuntimeError("not a standby: pg_is_in_recovery() is false")
    seq = await conn.fetchval("SELECT last FROM event_counter")
    return int(row["lsn"]), int(seq or 0)
