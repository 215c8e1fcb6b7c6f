"""The outermost layer of every request, in one pass: its metrics (count and latency by route
template), its request id (``X-Request-Id`` taken from the request if sane, else made up, echoed
on the response) and its JSON access line on the ``newsfacts.access`` log; and its Exchange, where
inner layers leave the headers they add (api/exchange.py). The one ``send`` wrapper of
the stack: each costs a closure and a call per message, and ``{ __typename }`` is cheap enough
that such wrappers were a large part of it."""

from __future__ import annotations

import asyncio
import atexit
import itertools
import logging
import os
import re
import sys
import time
from typing import TextIO

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.auth import SCOPE_KEY as PRINCIPAL_KEY
from api.exchange import SCOPE_KEY as EXCHANGE_KEY
from api.exchange import Exchange, response_headers
from api.metrics import route_label
from api.state import state_of

SCOPE_KEY = "newsfacts.request_id"
_SANE = re.compile(r"[A-Za-z0-9._:\-]{1,128}")

access_log = logging.getLogger("newsfacts.access")


class _Ids:
    """Request ids unique across processes and restarts: a random prefix per process and a
    counter (a uuid4 per request cost more than the rest of the access line)."""

    def __init__(self) -> None:
        self.prefix = os.urandom(8).hex()
        self.counter = itertools.count(1)

    def new(self) -> str:
        return f"{self.prefix}{next(self.counter):016x}"


class _Clock:
    """The access line's second-resolution timestamp, formatted once per second."""

    def __init__(self) -> None:
        self.second = -1
        self.text = ""

    def now(self) -> str:
        second = int(time.time())
        if second != self.second:
            self.second, self.text = second, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(second))
        return self.text


def _configure() -> logging.StreamHandler[TextIO] | None:
    """Access lines are JSON already: give them a handler that writes the bare message. Returns
    that handler (None when someone configured the logger before us)."""
    if access_log.handlers:
        return None
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    access_log.addHandler(handler)
    access_log.setLevel(logging.INFO)
    access_log.propagate = False
    return handler


class _AccessWriter:
    """Writes access lines. While the logger is as _configure left it (our one handler, no
    filters), lines skip logging's machinery (a LogRecord, the caller lookup and the formatter
    cost more than a cached hit) and wait in a buffer that leaves in one write every
    FLUSH_SECONDS, at BUFFER_BYTES, or when the process exits: a write and a flush per request
    were about a tenth of ``{ __typename }``'s server CPU. As with nginx's ``access_log ...
    buffer= flush=``, a process killed outright loses at most its last FLUSH_SECONDS of lines.
    Any other configuration (a handler added, a level changed) gets the ordinary logging call."""

    FLUSH_SECONDS = 0.1
    BUFFER_BYTES = 64 * 1024

    def __init__(self) -> None:
        self.handler = _configure()
        self.pending: list[str] = []
        self.pending_bytes = 0
        self.timer: asyncio.TimerHandle | None = None
        if self.handler is not None:
            atexit.register(self.flush)

    def enabled(self) -> bool:
        return access_log.isEnabledFor(logging.INFO)

    def _direct(self) -> bool:
        handler = self.handler
        return (
            handler is not None
            and len(access_log.handlers) == 1
            and access_log.handlers[0] is handler
            and not access_log.filters
            and not handler.filters
            and handler.level <= logging.INFO
        )

    def write(self, line: str) -> None:
        if not self._direct():
            self.flush()  # what waited goes first: lines stay in order
            access_log.info(line)
            return
        self.pending.append(line)
        self.pending_bytes += len(line) + 1
        if self.pending_bytes >= self.BUFFER_BYTES:
            self.flush()
        elif self.timer is None:
            try:
                self.timer = asyncio.get_running_loop().call_later(self.FLUSH_SECONDS, self.flush)
            except RuntimeError:  # no loop to flush later on
                self.flush()

    def flush(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        lines, self.pending, self.pending_bytes = self.pending, [], 0
        if not lines:
            return
        handler = self.handler
        try:
            assert handler is not None and handler.lock is not None  # lines wait only for our handler
            with handler.lock:
                handler.stream.write("\n".join(lines) + "\n")
                handler.stream.flush()
        except Exception:  # the logging calls report it the usual way
            for line in lines:
                access_log.info(line)


class RequestIdMiddleware:
    """Metrics, request id and access line (named for the request id, which every line carries)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.ids = _Ids()
        self.clock = _Clock()
        self.writer = _AccessWriter()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind != "http" and kind != "websocket":
            await self.app(scope, receive, send)
            return
        given = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                given = value.decode("latin-1")
                break
        request_id = given if given and _SANE.fullmatch(given) else self.ids.new()
        scope[SCOPE_KEY] = request_id
        echoed = (b"x-request-id", request_id.encode())
        metrics = state_of(scope).metrics if kind == "http" else None
        exchange = scope[EXCHANGE_KEY] = Exchange()
        started = time.perf_counter()
        status, size = 0, 0

        async def wrapped(message: Message) -> None:
            nonlocal status, size
            if message["type"] == "http.response.body":
                size += len(message.get("body", b""))
            elif message["type"] == "http.response.start":
                status = exchange.status = message["status"]
                message["headers"] = [*message.get("headers", []), echoed, *response_headers(exchange)]
            await send(message)

        try:
            await self.app(scope, receive, wrapped)
        finally:
            elapsed = time.perf_counter() - started
            if metrics is not None:
                # A request that sent no response start failed inside: counted as the 500 it became.
                metrics.request(route_label(scope), scope["method"], status or 500, elapsed)
            if self.writer.enabled():
                principal = scope.get(PRINCIPAL_KEY)
                client = scope.get("client")
                line = {
                    "ts": self.clock.now(),
                    "type": "access",
                    "requestId": request_id,
                    "method": scope.get("method", "WS"),
                    "path": scope.get("path"),
                    "query": _redacted(scope.get("query_string", b"").decode("latin-1")) or None,
                    "status": status or (101 if kind == "websocket" else 0),
                    "bytes": size,
                    "durationMs": round(elapsed * 1000, 2),
                    "client": client[0] if client else None,
                    "keyId": getattr(principal, "key_id", None),
                }
                self.writer.write(orjson.dumps(line).decode())


_TOKEN_RE = re.compile(r"(^|&)token=[^&]*")


def _redacted(query: str) -> str:
    """The query string without a stream token's value (EventSource carries it in the URL)."""
    return _TOKEN_RE.sub(r"\1token=REDACTED", query) if "token=" in query else query
