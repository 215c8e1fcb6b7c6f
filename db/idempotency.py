"""Stored Idempotency-Key responses (table idempotency_keys): claim a key inside the writing
transaction, store the response before commit, replay it for 24 hours."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from db.pool import Conn

TTL_HOURS = 24


@dataclass(frozen=True)
class Stored:
    """A response stored for a key, and the fingerprint of the request that produced it."""

    fingerprint: bytes
    status: int
    headers: dict[str, str]
    body: bytes


_CLAIM = """
INSERT INTO idempotency_keys (principal, key, fingerprint) VALUES ($1, $2, $3)
ON CONFLICT (principal, key) DO UPDATE
    SET fingerprint = EXCLUDED.fingerprint, status = NULL, headers = NULL, body = NULL, created_at = now()
    WHERE idempotency_keys.created_at < now() - make_interval(hours => $4)
RETURNING true
"""


async def claim(conn: Conn, principal: str, key: str, fingerprint: bytes) -> Stored | None:
    """Claim ``key`` for this transaction (None), or return what an earlier request stored.

    Must run inside the transaction that performs the write. A concurrent request holding the
    same key makes this wait until it commits (then its stored response is returned) or rolls
    back (then this one claims the key): retries never run a write twice."""
    claimed = await conn.fetchval(_CLAIM, principal, key, fingerprint, TTL_HOURS)
    if claimed:
        return None
    row = await conn.fetchrow(
        "SELECT fingerprint, status, headers, body FROM idempotency_keys WHERE principal = $1 AND key = $2",
        principal,
        key,
    )
    assert row is not None and row["status"] is not None, "a committed key always has its response"
    headers: dict[str, Any] = row["headers"] or {}
    return Stored(bytes(row["fingerprint"]), row["status"], {k: str(v) for k, v in headers.items()}, bytes(row["body"]))


async def store(conn: Conn, principal: str, key: str, status: int, headers: dict[str, str], body: bytes) -> None:
    """Record the response for a key claimed in this same transaction."""
    await conn.execute(
        "UPDATE idempotency_keys SET status = $3, headers = $4, body = $5 WHERE principal = $1 AND key = $2",
        principal,
        key,
        status,
        headers,
        body,
    )


async def prune(conn: Conn, *, statement_seconds: float | None = None) -> int:
    """Forget keys older than their 24 hours; returns how many."""
    status = await conn.execute(
        "DELETE FROM idempotency_keys WHERE created_at < now() - make_interval(hours => $1)",
        TTL_HOURS,
        timeout=statement_seconds,
    )
    return int(status.split()[-1])
