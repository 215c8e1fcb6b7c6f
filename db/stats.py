"""Operational figures for /metrics, in one round trip: outbox head, relay and webhook progress."""

from __future__ import annotations

from dataclasses import dataclass

from db.pool import Conn


@dataclass(frozen=True)
class Snapshot:
    last_sequence: int
    relay_published: int
    webhook_pending: int
    webhook_retrying: int


async def snapshot(conn: Conn) -> Snapshot:
    row = await conn.fetchrow(
        """SELECT (SELECT last FROM event_counter) AS last,
                  (SELECT published_sequence FROM relay_state) AS published,
                  (SELECT count(*) FROM webhook_deliveries WHERE status = 'pending') AS pending,
                  (SELECT count(*) FROM webhook_deliveries WHERE status = 'pending' AND attempt_count > 0) AS retrying"""
    )
    assert row is not None
    return Snapshot(int(row["last"] or 0), int(row["published"] or 0), int(row["pending"]), int(row["retrying"]))
