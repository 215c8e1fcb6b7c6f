"""Webhook endpoints: their SQL (create, read, update, delete, rotate the secret), their public
document, and their signing secrets, which are stored sealed (db/secrets.py, migration 0005)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from db.ids import new_id
from db.pool import Conn
from db.secrets import SecretBox


def endpoint_doc(row: asyncpg.Record) -> dict[str, Any]:
    """The public shape of an endpoint; never includes a secret."""
    return {
        "id": row["id"],
        "object": "webhook_endpoint",
        "url": row["url"],
        "description": row["description"],
        "enabledEvents": list(row["enabled_events"]),
        "payloadScope": row["payload_scope"],
        "status": row["status"],
        "disabledReason": row["disabled_reason"],
        "disabledAt": _iso(row["disabled_at"]),
        "failingSince": _iso(row["failing_since"]),
        "lastSuccessAt": _iso(row["last_success_at"]),
        "lastFailureAt": _iso(row["last_failure_at"]),
        "createdSequence": row["created_sequence"],
        "createdAt": _iso(row["created_at"]),
        "updatedAt": _iso(row["updated_at"]),
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


# --- endpoints -------------------------------------------------------------------------------


async def create_endpoint(
    conn: Conn,
    box: SecretBox | None,
    *,
    url: str,
    description: str | None,
    enabled_events: Sequence[str],
    secret: str,
    created_by: str | None,
    payload_scope: str = "public",
) -> asyncpg.Record:
    """A new endpoint whose ``secret`` is stored sealed by ``box``. ``box=None`` stores it as given,
    for callers not yet handed the box (GraphQL until its Context carries one): such rows are sealed
    by ``seal_unsealed`` at the next server start or worker pass. TODO(#12): always pass the box."""
    endpoint_id = new_id("webhook_endpoint")
    stored = box.seal(secret, context=endpoint_id) if box is not None else secret
    row = await conn.fetchrow(
        """INSERT INTO webhook_endpoints
               (id, url, description, enabled_events, secret, secret_key_id, created_sequence, created_by,
                payload_scope)
           SELECT $1, $2, $3, $4, $5, $6, last, $7, $8 FROM event_counter RETURNING *""",
        endpoint_id,
        url,
        description,
        list(enabled_events),
        stored,
        box.current if box is not None else None,
        created_by,
        payload_scope,
    )
    assert row is not None
    created: asyncpg.Record = row
    return created


async def get_endpoint(conn: Conn, endpoint_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM webhook_endpoints WHERE id = $1", endpoint_id)


async def list_endpoints(conn: Conn, *, limit: int, after: str | None) -> tuple[list[asyncpg.Record], bool]:
    rows = await conn.fetch(
        "SELECT * FROM webhook_endpoints WHERE ($1::text IS NULL OR id > $1) ORDER BY id LIMIT $2", after, limit + 1
    )
    return list(rows[:limit]), len(rows) > limit


async def update_endpoint(
    conn: Conn,
    endpoint_id: str,
    *,
    url: str | None = None,
    description: str | None = None,
    set_description: bool = False,
    enabled_events: Sequence[str] | None = None,
    status: str | None = None,
    payload_scope: str | None = None,
) -> asyncpg.Record | None:
    """Change the given fields; re-enabling clears the disable reason and the failure clock."""
    return await conn.fetchrow(
        """UPDATE webhook_endpoints SET
               url = coalesce($2, url),
               description = CASE WHEN $3 THEN $4 ELSE description END,
               enabled_events = coalesce($5, enabled_events),
               status = coalesce($6, status),
               disabled_reason = CASE WHEN $6 = 'enabled' THEN NULL
                                      WHEN $6 = 'disabled' AND status = 'enabled' THEN 'disabled by an administrator'
                                      ELSE disabled_reason END,
               disabled_at = CASE WHEN $6 = 'enabled' THEN NULL
                                  WHEN $6 = 'disabled' AND status = 'enabled' THEN now() ELSE disabled_at END,
               failing_since = CASE WHEN $6 = 'enabled' THEN NULL ELSE failing_since END,
               payload_scope = coalesce($7, payload_scope),
               updated_at = now()
           WHERE id = $1 RETURNING *""",
        endpoint_id,
        url,
        set_description,
        description,
        list(enabled_events) if enabled_events is not None else None,
        status,
        payload_scope,
    )


async def delete_endpoint(conn: Conn, endpoint_id: str) -> bool:
    result = await conn.execute("DELETE FROM webhook_endpoints WHERE id = $1", endpoint_id)
    return result.endswith(" 1")


async def rotate_secret(
    conn: Conn, box: SecretBox | None, endpoint_id: str, new_secret: str, grace_seconds: int
) -> asyncpg.Record | None:
    """Make ``new_secret`` current; the old one keeps signing for ``grace_seconds`` (expired ones drop).
    Every secret of the row is (re)sealed under the box's current key in the same update."""
    async with conn.transaction():
        row = await conn.fetchrow(
            "SELECT secret, previous_secrets, now() AS now FROM webhook_endpoints WHERE id = $1 FOR UPDATE",
            endpoint_id,
        )
        if row is None:
            return None
        now: datetime = row["now"]
        kept = [old for old in row["previous_secrets"] or [] if datetime.fromisoformat(old["expiresAt"]) > now]
        if grace_seconds > 0:
            kept.append({"secret": row["secret"], "expiresAt": (now + timedelta(seconds=grace_seconds)).isoformat()})
        return await _store_secrets(conn, box, endpoint_id, new_secret, kept, opened=False)


async def _store_secrets(
    conn: Conn,
    box: SecretBox | None,
    endpoint_id: str,
    current: str,
    previous: list[dict[str, Any]],
    *,
    opened: bool,
) -> asyncpg.Record | None:
    """Write the row's secrets sealed under ``box``'s current key (as given when ``box`` is None).
    ``current`` is plain text; ``previous`` entries are as stored unless ``opened``."""

    def stored(secret: str, *, plain: bool) -> str:
        if box is None:
            return secret
        return box.seal(secret if plain else box.open(secret, context=endpoint_id), context=endpoint_id)

    sealed_previous = [{**old, "secret": stored(old["secret"], plain=opened)} for old in previous]
    return await conn.fetchrow(
        """UPDATE webhook_endpoints SET secret = $2, previous_secrets = $3, secret_key_id = $4, updated_at = now()
           WHERE id = $1 RETURNING *""",
        endpoint_id,
        stored(current, plain=True),
        sealed_previous,
        box.current if box is not None else None,
    )


def signing_secrets(row: asyncpg.Record | dict[str, Any], now: datetime, box: SecretBox, endpoint_id: str) -> list[str]:
    """The current secret then every previous one not yet expired, opened (SecretKeyError if one does not)."""
    found = [box.open(row["secret"], context=endpoint_id)]
    for old in row["previous_secrets"] or []:
        if datetime.fromisoformat(old["expiresAt"]) > now:
            found.append(box.open(old["secret"], context=endpoint_id))
    return found


async def reseal(conn: Conn, box: SecretBox, *, only_unsealed: bool, batch: int = 500) -> int:
    """Seal under ``box``'s current key every endpoint not sealed with it yet (``only_unsealed``:
    just the rows still in plain text); returns how many rows changed. Rows are taken in batches
    with SKIP LOCKED, so a server, a worker and the rotation command may run it at once."""
    changed = 0
    while True:
        async with conn.transaction():
            rows = await conn.fetch(
                """SELECT id, secret, previous_secrets FROM webhook_endpoints
                   WHERE secret_key_id IS NULL OR (NOT $1 AND secret_key_id <> $2)
                   ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED""",
                only_unsealed,
                box.current,
                batch,
            )
            for row in rows:
                previous = [
                    {**old, "secret": box.open(old["secret"], context=row["id"])}
                    for old in row["previous_secrets"] or []
                ]
                current = box.open(row["secret"], context=row["id"])
                await _store_secrets(conn, box, row["id"], current, previous, opened=True)
        changed += len(rows)
        if len(rows) < batch:
            return changed
