"""Apollo automatic persisted queries: a client sends ``extensions.persistedQuery.sha256Hash``
alone; an unknown hash answers PERSISTED_QUERY_NOT_FOUND, the client resends hash + document, and
the document is kept in Redis. In allow-list mode only documents registered with ``register`` run
(by hash or in full) and nothing new is stored."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from db.errors import BadUserInput, FieldError, PersistedQueryNotAllowed, PersistedQueryNotFound, ServiceUnavailable

APQ_PREFIX = "newsfacts:apq:"
ALLOW_PREFIX = "newsfacts:gql-allow:"
APQ_TTL_SECONDS = 7 * 24 * 3600
MAX_DOCUMENT_BYTES = 100_000
_HASH = re.compile(r"^[0-9a-f]{64}$")


def document_hash(document: str) -> str:
    return hashlib.sha256(document.encode()).hexdigest()


def _hash_of(extensions: dict[str, Any]) -> str:
    pq = extensions["persistedQuery"]
    value = pq.get("sha256Hash") if isinstance(pq, dict) else None
    if not isinstance(pq, dict) or pq.get("version") != 1 or not isinstance(value, str) or not _HASH.match(value):
        raise BadUserInput(
            "extensions.persistedQuery needs version 1 and a lowercase hex sha256Hash",
            errors=[FieldError(("extensions", "persistedQuery"), "INVALID_VALUE", "{version: 1, sha256Hash: <hex>}")],
        )
    return value


async def resolve(
    redis: aioredis.Redis, query: str | None, extensions: dict[str, Any] | None, *, allow_list_only: bool
) -> str | None:
    """The document to run for a request (its own ``query`` or the persisted one)."""
    try:
        if not extensions or "persistedQuery" not in extensions:
            if allow_list_only and query is not None and not await redis.exists(ALLOW_PREFIX + document_hash(query)):
                raise PersistedQueryNotAllowed("only registered documents may run here")
            return query
        wanted = _hash_of(extensions)
        if query is None:
            stored = await redis.get((ALLOW_PREFIX if allow_list_only else APQ_PREFIX) + wanted)
            if stored is None:
                if allow_list_only:
                    raise PersistedQueryNotAllowed("no registered document has this hash")
                raise PersistedQueryNotFound("PersistedQueryNotFound")
            return stored.decode() if isinstance(stored, bytes) else str(stored)
        if document_hash(query) != wanted:
            raise BadUserInput(
                "provided sha256Hash does not match the query",
                errors=[FieldError(("extensions", "persistedQuery", "sha256Hash"), "HASH_MISMATCH", "not the query's")],
            )
        if allow_list_only:
            if not await redis.exists(ALLOW_PREFIX + wanted):
                raise PersistedQueryNotAllowed("only registered documents may run here")
        elif len(query) <= MAX_DOCUMENT_BYTES:
            await redis.set(APQ_PREFIX + wanted, query, ex=APQ_TTL_SECONDS)
        return query
    except RedisError:
        raise ServiceUnavailable("the persisted query store is unavailable") from None


async def register(redis: aioredis.Redis, document: str) -> str:
    """Add a document to the allow-list; returns its hash (what clients send)."""
    digest = document_hash(document)
    await redis.set(ALLOW_PREFIX + digest, document)
    return digest
