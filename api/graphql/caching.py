"""HTTP caching of GraphQL GETs, as REST reads have it: an answer with data and no errors carries
a strong ETag (a hash of its bytes and media type), Cache-Control (``public`` while anonymous reads
are on, as REST's, with REST's lifetimes: a list's when it walked one, else an item's), ``Vary``,
and the CDN purge tags of every fact it read and every list it walked (``Surrogate-Key``,
``Cache-Tag``: api/cache/cdn.py), so an edge is emptied by the same events as the response cache.
``If-None-Match`` naming the ETag is a 304. An answer with errors is ``no-store``."""

from __future__ import annotations

import hashlib

import orjson
from starlette.types import Message, Scope, Send

from api.cache.cdn import bounded, tag_headers
from api.cache.graphql import CONTEXT_KEY
from api.cache.middleware import HIT_TAGS_KEY
from api.cache.tags import depends, ids_in
from api.exchange import Headers
from api.graphql.request import media_of
from api.held import holding_answer
from api.rest.etags import none_match
from api.rest.responses import ITEM_MAX_AGE, LIST_MAX_AGE, cache_control_for

HOLD_MAX_BYTES = 4_000_000
_REPRESENTATION = (b"content-type", b"content-length")


def caching(scope: Scope, send: Send, *, public: bool) -> Send:
    """``send`` for a GET of /graphql, with its caching headers (or its 304)."""

    async def answer(start: Message, body: bytes) -> tuple[int, Headers, bytes]:
        headers = list(start.get("headers", []))
        if _has_errors(body):
            return 200, [*headers, (b"cache-control", b"no-store")], body
        tags = bounded(_tags(scope, body))
        digest = hashlib.blake2b(body, digest_size=12)
        digest.update(media_of(scope).encode())
        etag = f'"g.{digest.hexdigest()}"'
        max_age = LIST_MAX_AGE if any(t.startswith("list:") for t in tags) else ITEM_MAX_AGE
        caching_headers = [
            (b"etag", etag.encode()),
            (b"cache-control", cache_control_for(public=public, max_age=max_age).encode()),
            (b"vary", b"Accept, Authorization"),
            *tag_headers(tags),
        ]
        if none_match(_if_none_match(scope), etag):
            kept = [(k, v) for k, v in headers if k.lower() not in _REPRESENTATION]
            return 304, [*kept, *caching_headers], b""
        return 200, [*headers, *caching_headers], body

    return holding_answer(send, _successful, answer, HOLD_MAX_BYTES)


def _successful(start: Message) -> bool:
    return bool(start["status"] == 200)


def _has_errors(body: bytes) -> bool:
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return True
    return not isinstance(parsed, dict) or bool(parsed.get("errors")) or "data" not in parsed


def _tags(scope: Scope, body: bytes) -> set[str]:
    """What the answer depends on: a cache hit's entry tags; else every id it shows and what the
    planner or the resolvers noted they read (ids not selected, the lists walked)."""
    known = scope.get(HIT_TAGS_KEY)
    if known is not None:
        return set(known)
    context = scope.get(CONTEXT_KEY)
    touched: set[str] = getattr(context, "touched", set())
    return depends(ids_in(body) | touched)


def _if_none_match(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"if-none-match":
            text: str = value.decode("latin-1")
            return text
    return None
