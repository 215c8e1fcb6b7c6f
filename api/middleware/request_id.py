"""The outermost layer of every request, in one pass: its metrics (count and latency by route
template), its request id (``X-Request-Id`` taken from the request if sane, else made up, echoed
on the response) and its JSON access line on the ``newsfacts.access`` log. One layer with one
``send`` wrapper instead of two: each ASGI layer costs a closure and a call per message, and
``{ __typename }`` is cheap enough that such layers were most of it."""

from __future__ import annotations

import itertools
import logging
import os
import re
import sys
import time
from typing import TextIO

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

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
    """Writes an access line. While the logger is as _configure left it (our one handler, no
    filters), the line goes straight to the handler's stream, under its lock: a LogRecord, the
    caller lookup and the formatter cost more than the whole rest of a cached hit. Any other
    configuration (a handler added, a level changed) gets the ordinary logging call."""

    def __init__(self) -> None:
        self.handler = _configure()

    def enabled(self) -> bool:
        return access_log.isEnabledFor(logging.INFO)

    def write(self, line: str) -> None:
        handler = self.handler
        if (
            handler is not None
            and len(access_log.handlers) == 1
            and access_log.handlers[0] is handler
            and not access_log.filters
            and not handler.filters
            and handler.level <= logging.INFO
        ):
            try:
                assert handler.lock is not None  # created with the handler
                with handler.lock:
                    handler.stream.write(line + "\n")
                    handler.stream.flush()
                return
            except Exception:  # the logging call below reports it the usual way
                pass
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
        started = time.perf_counter()
        status, size = 0, 0

        async def wrapped(message: Message) -> None:
            nonlocal status, size
            if message["type"] == "http.response.body":
                size += len(message.get("body", b""))
            elif message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), echoed]
            await send(message)

        try:
            await self.app(scope, receive, wrapped)
        finally:
            elapsed = time.perf_counter() - started
            if metrics is not None:
                label = route_label(scope)
                method = scope["method"]
                # A request that sent no response start failed inside: counted as the 500 it became.
                metrics.child(metrics.requests, label, method, str(status or 500)).inc()
                metrics.child(metrics.latency, label, method).observe(elapsed)
            if self.writer.enabled():
                principal = scope.get("newsfacts.principal")
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
