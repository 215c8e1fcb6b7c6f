"""Caches successful REST GETs of facts (pure ASGI, in front of the routes): the key is the
normalised request (path, sorted query, representation headers) plus the caller's scope; a hit is
answered here — 304 when the client's ETag still matches — without touching the app."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from urllib.parse import parse_qsl, urlencode

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.auth import authenticate_scope, require
from api.cache.store import Entry, ResponseCache
from api.cache.tags import depends, ids_in, list_tag
from api.reads.context import current
from api.state import State, state_of
from db.errors import NewsfactsError
from db.kinds import COLLECTIONS

_PLURALS = COLLECTIONS  # "claims" → "claim"
# Per-request or per-caller headers never stored with an entry.
_VOLATILE = {
    b"x-request-id", b"ratelimit", b"ratelimit-policy", b"retry-after", b"date", b"set-cookie", b"x-cache",
    b"read-source", b"read-lag-ms", b"consistency-token",
}  # fmt: skip
_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# The aggregate reads of a collection (api/rest/aggregates.py): no fact id is one of these words.
_SUMMARIES = frozenset({"facets", "histogram", "aggregate"})
MAX_ENTRY_BYTES = 1_000_000
# A hit's entry tags, or a miss's just computed, for the CDN tag headers (api/cache/cdn.py): the
# same set, no second scan.
HIT_TAGS_KEY = "newsfacts.cache.tags"
WAIT_FOR_LEADER_SECONDS = 5.0


def cache_key(scope: Scope, caller: str) -> str:
    headers = dict(scope["headers"])
    query = urlencode(sorted(parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)))
    parts = [
        scope["method"], scope["path"], query, caller,
        headers.get(b"accept", b"").decode("latin-1"), headers.get(b"accept-encoding", b"").decode("latin-1"),
    ]  # fmt: skip
    return "rest:" + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def path_tags(path: str) -> set[str]:
    """List families a path shows: ``/v1/claims``, ``/v1/actors/{id}/claims`` and the aggregates
    ``/v1/claims/facets`` (histogram, aggregate) show claim lists."""
    segments = [s for s in path.split("/") if s]
    if len(segments) >= 2 and segments[0] == "v1":
        if len(segments) == 2 and segments[1] in _PLURALS:
            return {list_tag(_PLURALS[segments[1]])}
        if len(segments) == 3 and segments[1] in _PLURALS and segments[2] in _SUMMARIES:
            return {list_tag(_PLURALS[segments[1]])}  # an aggregate of the whole list
        if len(segments) == 4 and segments[3] in _PLURALS:
            return {list_tag(_PLURALS[segments[3]])}
    return set()


async def reader_scope(scope: Scope, state: State) -> str | None:
    """The caller's scope as part of a cache key, or None when the caller may not read (checked on
    hits too: entries outlive a restart with ANONYMOUS_READS switched off)."""
    try:
        principal = await authenticate_scope(scope)
        require(principal, "read", anonymous_reads=state.settings.anonymous_reads)
    except NewsfactsError:
        return None
    return principal.scope or "anonymous"


def fact_read(scope: Scope) -> bool:
    """A GET of facts under /v1 that is not an NDJSON stream (streams are exported, not cached)."""
    if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
        return False
    segments = scope["path"].split("/")
    if len(segments) < 3 or segments[1] != "v1" or segments[2] not in _PLURALS:
        return False
    # The last Accept header, as dict(headers) would keep it, without building the dict.
    accept = b""
    for name, value in scope["headers"]:
        if name == b"accept":
            accept = value
    return b"x-ndjson" not in accept


def cacheable(scope: Scope) -> bool:
    return fact_read(scope) and b"no-cache" not in dict(scope["headers"]).get(b"cache-control", b"")


class CacheMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not cacheable(scope):
            if scope["type"] == "http" and scope["method"] in _WRITES:
                await self.app(scope, receive, _after_catch_up(scope, send))
            else:
                await self.app(scope, receive, send)
            return
        state = state_of(scope)
        cache = state.cache
        if cache is None or not cache.enabled:
            await self.app(scope, receive, send)
            return
        caller = await reader_scope(scope, state)
        if caller is None:
            await self.app(scope, receive, send)  # the app renders the authentication error
            return
        key = cache_key(scope, caller)
        entry, tier = await cache.lookup(key, wait=WAIT_FOR_LEADER_SECONDS, min_seq=reader_min_seq())
        metrics = state.metrics
        if metrics is not None:
            metrics.child(metrics.cache, "rest", tier if entry is not None else "miss").inc()
        if entry is not None:
            scope["newsfacts.cache"] = "hit"
            scope[HIT_TAGS_KEY] = entry.tags
            await _send_entry(scope, send, entry, tier)
            return
        await self._compute(scope, receive, send, cache, key, leader=tier == "miss")

    async def _compute(
        self, scope: Scope, receive: Receive, send: Send, cache: ResponseCache, key: str, *, leader: bool
    ) -> None:
        seq = cache.applied_seq  # before reading: anything committed later will have bumped a tag past it
        start: Message | None = None
        chunks: list[bytes] = []
        size = 0
        storable = True
        tags: frozenset[str] | None = None

        async def capture(message: Message) -> None:
            nonlocal start, size, storable, tags
            if message["type"] == "http.response.start":
                start = message
                storable = message["status"] == 200
                message = {**message, "headers": [*message.get("headers", []), (b"x-cache", b"miss")]}
            elif message["type"] == "http.response.body" and storable:
                body = message.get("body", b"")
                size += len(body)
                if size > MAX_ENTRY_BYTES:
                    storable = False
                    chunks.clear()
                else:
                    chunks.append(body)
                    if not message.get("more_body", False):
                        # Before the body goes on: the CDN tags outside (api/cache/cdn.py) are
                        # these same tags of these same bytes, and need not scan them again.
                        tags = scope[HIT_TAGS_KEY] = _entry_tags(scope, b"".join(chunks))
            await send(message)

        entry: Entry | None = None
        try:
            await self.app(scope, receive, capture)
            seq = computed_seq(seq)
            if start is not None and storable:
                body = b"".join(chunks)
                headers = tuple(
                    (k.decode("latin-1"), v.decode("latin-1"))
                    for k, v in start.get("headers", [])
                    if k.lower() not in _VOLATILE
                )
                entry = Entry(200, headers, body, _entry_tags(scope, body) if tags is None else tags, seq)
                await cache.put(key, entry)
        finally:
            if leader:
                cache.finish_flight(key, entry)


def _entry_tags(scope: Scope, body: bytes) -> frozenset[str]:
    """What an entry of ``body`` for this request depends on (api/cache/tags.py)."""
    return frozenset(depends(ids_in(body) | path_tags(scope["path"])))


def _after_catch_up(scope: Scope, send: Send) -> Send:
    """Holds a successful write's response until this process' cache has applied its event, so a
    client reading back through the same process never gets what its write replaced."""

    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start" and message["status"] < 400:
            await catch_up(scope)
        await send(message)

    return wrapped


async def catch_up(scope: Scope) -> None:
    """Apply every committed event to this process' cache now (bounded: a slow database only
    delays the response by up to two seconds, and never fails it)."""
    invalidator = state_of(scope).cache_invalidator
    if invalidator is not None:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(2):
                await invalidator.catch_up()


async def _send_entry(scope: Scope, send: Send, entry: Entry, tier: str) -> None:
    headers = [*entry.raw_headers, (b"x-cache", f"hit; tier={tier}".encode())]
    etag = next((v for k, v in entry.headers if k.lower() == "etag"), None)
    if_none_match = dict(scope["headers"]).get(b"if-none-match", b"").decode("latin-1")
    if etag is not None and if_none_match and _etag_matches(if_none_match, etag):
        kept = [
            (k, v) for k, v in headers if k.lower() not in (b"content-length", b"content-type", b"content-encoding")
        ]
        await send({"type": "http.response.start", "status": 304, "headers": kept})
        await send({"type": "http.response.body", "body": b""})
        return
    await send({"type": "http.response.start", "status": entry.status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else entry.body})


def _etag_matches(if_none_match: str, etag: str) -> bool:
    if if_none_match.strip() == "*":
        return True
    wanted = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return etag.removeprefix("W/") in wanted


def reader_min_seq() -> int:
    """The event sequence a reader's consistency token asks entries to include (0: no token)."""
    token = current().token
    return token.seq if token is not None else 0


def computed_seq(started: int) -> int:
    """The sequence an entry computed from ``started`` is valid from: lowered to what the replica it
    was read from had replayed, so a write the replica had not yet applied still invalidates it."""
    visible = current().visible_seq
    return started if visible is None else min(started, visible)
