"""API keys: random secrets shown once, stored only as SHA-256 hashes (the secrets carry 192 bits of
entropy, so a fast hash is enough: there is nothing to brute-force)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from db.ids import new_id
from db.pool import Conn

SCOPES = ("read", "write", "admin")
# Each scope includes the ones before it.
SCOPE_RANK = {scope: rank for rank, scope in enumerate(SCOPES)}


@dataclass(frozen=True)
class ApiKey:
    id: str
    name: str
    scope: str

    def allows(self, needed: str) -> bool:
        return SCOPE_RANK[self.scope] >= SCOPE_RANK[needed]


def hash_secret(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


async def create(conn: Conn, *, name: str, scope: str) -> tuple[ApiKey, str]:
    """A new key and its secret; the secret is not stored and cannot be shown again."""
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {SCOPES}")
    secret = "nfk_" + secrets.token_urlsafe(24)
    key = ApiKey(new_id("key"), name, scope)
    await conn.execute(
        "INSERT INTO api_keys (id, name, scope, key_hash) VALUES ($1, $2, $3, $4)",
        key.id,
        name,
        scope,
        hash_secret(secret),
    )
    return key, secret


async def authenticate(conn: Conn, secret: str) -> ApiKey | None:
    """The live key whose secret this is, or None."""
    row = await conn.fetchrow(
        "SELECT id, name, scope FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL", hash_secret(secret)
    )
    return ApiKey(row["id"], row["name"], row["scope"]) if row else None


async def revoke(conn: Conn, key_id: str) -> bool:
    result = await conn.execute("UPDATE api_keys SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL", key_id)
    return result.endswith(" 1")
