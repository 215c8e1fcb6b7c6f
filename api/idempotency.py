"""Idempotency-Key for REST writes (Stripe semantics): the first response to a key is stored for
24 hours and replayed for the same key and request; the same key with a different request is
refused (422 IDEMPOTENCY_KEY_REUSED).

Keys live in PostgreSQL (db/idempotency.py), claimed inside the write's own transaction: the fact
and the stored response commit together or not at all, and a concurrent retry with the same key
blocks on the row until the first finishes, then replays its response. With Redis, a crash between
the write's commit and storing the response would let a retry write twice. A write that fails
(4xx) rolls back its key too, so a corrected retry with the same key runs."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from db import idempotency
from db.errors import BadUserInput, FieldError, IdempotencyKeyReused
from db.pool import Conn

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
# Response headers worth replaying (the others are per-response: date, server, rate limits).
REPLAYED_HEADERS = ("content-type", "location", "etag")

Write = Callable[[Conn], Awaitable[Response]]


def key_of(request: Request) -> str | None:
    """The request's Idempotency-Key, checked (printable ASCII, 1-255 characters), or None."""
    key = request.headers.get(HEADER)
    if key is None:
        return None
    if not 0 < len(key) <= MAX_KEY_LENGTH or not key.isprintable() or not key.isascii():
        raise BadUserInput(
            f"{HEADER} must be 1-{MAX_KEY_LENGTH} printable ASCII characters",
            errors=[
                FieldError(("header", HEADER), "INVALID_IDEMPOTENCY_KEY", "must be 1-255 printable ASCII characters")
            ],
        )
    return key


def fingerprint(request: Request, body: bytes) -> bytes:
    """What makes two requests "the same": method, path, query, preconditions and body bytes."""
    h = hashlib.sha256()
    for part in (request.method, request.url.path, request.url.query, request.headers.get("if-match", "")):
        h.update(part.encode())
        h.update(b"\x00")
    h.update(body)
    return h.digest()


async def run_once(
    conn: Conn,
    request: Request,
    *,
    principal: str,
    body: bytes,
    write: Write,
) -> Response:
    """Run ``write`` (which must write through ``conn``) at most once per Idempotency-Key."""
    key = key_of(request)
    if key is None:
        return await write(conn)
    digest = fingerprint(request, body)
    async with conn.transaction():
        stored = await idempotency.claim(conn, principal, key, digest)
        if stored is not None:
            if stored.fingerprint != digest:
                raise IdempotencyKeyReused(
                    f"this {HEADER} was first used for a different request; use a new key for a new request"
                )
            headers = {**stored.headers, "Idempotent-Replayed": "true"}
            return Response(stored.body, status_code=stored.status, headers=headers)
        # The write service's own transaction becomes a savepoint inside this one.
        response = await write(conn)
        kept = {k: v for k, v in response.headers.items() if k.lower() in REPLAYED_HEADERS}
        await idempotency.store(conn, principal, key, response.status_code, kept, bytes(response.body))
    return response
