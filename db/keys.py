"""API keys: random secrets shown once, stored only as SHA-256 hashes (the secrets carry 192 bits of
entropy, so a fast hash is enough: there is nothing to brute-force)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from db.errors import FieldError, ValidationFailed
from db.ids import new_id
from db.pool import Conn

SCOPES = ("read", "write", "admin")
# Each scope includes the ones before it.
SCOPE_RANK = {scope: rank for rank, scope in enumerate(SCOPES)}
NAME_MAX = 200


@dataclass(frozen=True)
class ApiKey:
    id: str
    name: str
    scope: str

    def allows(self, needed: str) -> bool:
        return SCOPE_RANK[self.scope] >= SCOPE_RANK[needed]


def check_new(name: object, scope: object) -> tuple[str, str]:
    """A new key's name (default "api") and scope, or ValidationFailed naming each bad field."""
    errors: list[FieldError] = []
    if scope not in SCOPES:
        errors.append(FieldError(("scope",), "INVALID_ENUM", f"must be one of {', '.join(SCOPES)}"))
    if name is None:
        name = "api"
    if not isinstance(name, str) or not name.strip() or len(name) > NAME_MAX:
        message = f"must be a non-empty string of at most {NAME_MAX} characters"
        errors.append(FieldError(("name",), "INVALID_TYPE", message))
    if errors:
        raise ValidationFailed("invalid API key: " + ", ".join(str(e.path[0]) for e in errors), errors=errors)
    return str(name).strip(), str(scope)


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


async def live_hash(conn: Conn, key_id: str) -> tuple[ApiKey, bytes] | None:
    """A live key by id with its stored hash (stream tokens are signed with it), or None."""
    row = await conn.fetchrow(
        "SELECT id, name, scope, key_hash FROM api_keys WHERE id = $1 AND revoked_at IS NULL", key_id
    )
    return (ApiKey(row["id"], row["name"], row["scope"]), bytes(row["key_hash"])) if row else None


async def revoke(conn: Conn, key_id: str) -> bool:
    result = await conn.execute("UPDATE api_keys SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL", key_id)
    return result.endswith(" 1")


# The document a key is shown as over the API: never its secret, nor its hash.
_SELECT = """SELECT jsonb_build_object('id', id, 'object', 'apiKey', 'name', name, 'scope', scope,
                                       'createdAt', created_at, 'revokedAt', revoked_at) AS doc
             FROM api_keys"""


async def document(conn: Conn, key_id: str) -> dict[str, Any] | None:
    """The key as the API shows it, or None when there is no such key."""
    doc: dict[str, Any] | None = await conn.fetchval(_SELECT + " WHERE id = $1", key_id)
    return doc


async def list_documents(conn: Conn, *, include_revoked: bool = False) -> list[dict[str, Any]]:
    """Every key (live ones unless ``include_revoked``), newest first; there are few: no pagination."""
    rows = await conn.fetch(_SELECT + " WHERE $1 OR revoked_at IS NULL ORDER BY id DESC", include_revoked)
    return [row["doc"] for row in rows]


async def revoke_document(conn: Conn, key_id: str) -> dict[str, Any] | None:
    """Revokes the key (again is a no-op) and returns it; None when there is no such key."""
    await revoke(conn, key_id)
    return await document(conn, key_id)
