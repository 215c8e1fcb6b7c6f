"""Request ids and the access log: ``X-Request-Id`` is taken from the request (if sane) or made up,
echoed on the response, and written with one JSON line per request to the ``newsfacts.access`` log."""

from __future__ import annotations

import itertools
import logging
import os
import re
import sys
import time

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

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


def _configure() -> None:
    """Access lines are JSON already: give them a handler that writes the bare message."""
    if not access_log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        access_log.addHandler(handler)
        access_log.setLevel(logging.INFO)
        access_log.propagate = False


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.ids = _Ids()
        self.clock = _Clock()
        _configure()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        given = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"x-request-id"), None)
        request_id = given if given and _SANE.fullmatch(given) else self.ids.new()
        scope[SCOPE_KEY] = request_id
        started = time.perf_counter()
        status, size = 0, 0

        async def send_with_id(message: Message) -> None:
            nonlocal status, size
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            elif message["type"] == "http.response.body":
                size += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if access_log.isEnabledFor(logging.INFO):
                principal = scope.get("newsfacts.principal")
                client = scope.get("client")
                line = {
                    "ts": self.clock.now(),
                    "type": "access",
                    "requestId": request_id,
                    "method": scope.get("method", "WS"),
                    "path": scope.get("path"),
                    "query": _redacted(scope.get("query_string", b"").decode("latin-1")) or None,
                    "status": status or (101 if scope["type"] == "websocket" else 0),
                    "bytes": size,
                    "durationMs": round((time.perf_counter() - started) * 1000, 2),
                    "client": client[0] if client else None,
                    "keyId": getattr(principal, "key_id", None),
                }
                access_log.info(orjson.dumps(line).decode())


_TOKEN_RE = re.compile(r"(^|&)token=[^&]*")


def _redacted(query: str) -> str:
    """The query string without a stream token's value (EventSource carries it in the URL)."""
    return _TOKEN_RE.sub(r"\1token=REDACTED", query) if "token=" in query else query
