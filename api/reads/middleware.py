"""Read routing per request (pure ASGI, just outside the response cache): takes the reader's
``Consistency-Token``, says where its reads ran and how stale they may be (``Read-Source``,
``Read-Lag-Ms``), hands every successful write its token (REST: the header; GraphQL mutations:
``extensions.consistencyToken`` too), and re-runs a GET on the primary when the replica it was
reading from went away mid-request — so a replica outage never becomes a 5xx."""

from __future__ import annotations

import contextlib
import logging

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.cache.graphql import OPERATION_KEY
from api.exchange import Headers, exchange_of
from api.held import holding
from api.reads.context import TOKEN_HEADER, ReadContext, Token, enter, leave
from api.state import state_of

log = logging.getLogger("newsfacts.reads")

_TOKEN_HEADER = TOKEN_HEADER.lower().encode()
_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
MAX_MUTATION_BODY = 4_000_000


def _request_token(scope: Scope) -> Token | None:
    for name, value in scope["headers"]:
        if name == _TOKEN_HEADER:
            return Token.parse(value.decode("latin-1"))
    return None


def _read_headers(ctx: ReadContext) -> list[tuple[bytes, bytes]]:
    source = ctx.source
    if source is None:
        return []  # nothing read from PostgreSQL (a cache hit, a refused request)
    return [(b"read-source", source.encode()), (b"read-lag-ms", str(round(ctx.lag_ms)).encode())]


class ReadRoutingMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = _request_token(scope)
        method = scope["method"]
        if method in _WRITES and scope["path"] != "/graphql":
            # GraphQL's endpoint adds it itself (api/graphql/endpoint.py), where a mutation is
            # told from a query: most POSTs there are reads, which need no wrapper.
            send = with_write_token(scope, send)
        ctx = ReadContext(token=token)
        reset = enter(ctx)
        try:
            if not (method in ("GET", "HEAD") and state_of(scope).reads.replicas):
                # Nothing to retry on the primary: only the read headers to add, when it starts.
                exchange_of(scope).late_headers.append(lambda: _read_headers(ctx))
                await self.app(scope, receive, send)
                return
            if not await self._attempt(scope, receive, send, ctx, retry=True):
                return
        finally:
            leave(reset)
        # The replica failed under this read before anything was sent: once more, on the primary.
        log.info("read of %s retried on the primary after its replica failed", scope["path"])
        again = ReadContext(token=token, force_primary=True)
        reset = enter(again)
        try:
            await self._attempt(scope, receive, send, again, retry=False)
        finally:
            leave(reset)

    async def _attempt(self, scope: Scope, receive: Receive, send: Send, ctx: ReadContext, *, retry: bool) -> bool:
        """Runs the app once; True when its answer was dropped for a retry on the primary."""
        dropped = started = False

        async def wrapped(message: Message) -> None:
            nonlocal dropped, started
            if message["type"] == "http.response.start":
                if retry and ctx.replica_failed and message["status"] >= 500:
                    dropped = True
                    return
                started = True
                message = {**message, "headers": [*message.get("headers", []), *_read_headers(ctx)]}
            elif dropped:
                return
            await send(message)

        try:
            await self.app(scope, receive, wrapped)
        except Exception:
            if not (retry and ctx.replica_failed and not started):
                raise
            dropped = True
        return dropped


def with_write_token(scope: Scope, send: Send) -> Send:
    """``send``, adding the consistency token to a successful write's response (read on the
    primary after the commit, so it is at or past the write's own position); on /graphql only
    to a mutation's, in its headers and its body's ``extensions``."""

    async def token() -> Token | None:
        with contextlib.suppress(Exception):  # a token is a courtesy: never fail the write's answer
            return await state_of(scope).reads.write_token()
        return None

    if scope["path"] == "/graphql":

        def mutation(start: Message) -> bool:
            return bool(start["status"] < 400 and scope.get(OPERATION_KEY) == "mutation")

        async def in_body(start: Message, body: bytes) -> tuple[Headers, bytes]:
            headers = list(start.get("headers", []))
            found = await token()
            if found is None:
                return headers, body
            body = _with_token(body, str(found))
            headers = [(k, v) for k, v in headers if k.lower() != b"content-length"]
            headers += [(_TOKEN_HEADER, str(found).encode()), (b"content-length", str(len(body)).encode())]
            return headers, body

        # The token goes into the body's extensions too: the headers wait for the whole body.
        return holding(send, mutation, in_body, MAX_MUTATION_BODY)

    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start" and message["status"] < 400:
            found = await token()
            if found is not None:
                message = {**message, "headers": [*message.get("headers", []), (_TOKEN_HEADER, str(found).encode())]}
        await send(message)

    return wrapped


def _with_token(body: bytes, token: str) -> bytes:
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body
    if not isinstance(payload, dict):
        return body
    extensions = payload.get("extensions")
    payload["extensions"] = {**(extensions if isinstance(extensions, dict) else {}), "consistencyToken": token}
    return orjson.dumps(payload)
