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
from collections.abc import Awaitable, Callable
from typing import TextIO

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.auth import SCOPE_KEY as PRINCIPAL_KEY
from api.exchange import SCOPE_KEY as EXCHANGE_KEY
from api.exchange import Exchange, response_headers
from api.metrics import route_label
from api.state import state_of

SCOPE_KEY = "newsfacts.request_id"
_SANE = re.compile(r"[A-Za-z0-9._:\-]{1,128}")

access_log = logging.getLogger("newsfacts.access")
errors_log = logging.getLogger("newsfacts.errors")

# The app's handler for Exception (api/problems.py): a 500 problem+json.
ErrorHandler = Callable[[Request, Exception], Awaitable[Response]]


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


# What an access line says, in this order, as the request leaves: formatted into JSON later.
# ts, requestId, method, path, query string, status, bytes, seconds, client, keyId
Entry = tuple[str, str, str, str | None, bytes, int, int, float, str | None, str | None]


def _line(entry: Entry) -> str:
    ts, request_id, method, path, query, status, size, seconds, client, key_id = entry
    line = {
        "ts": ts, "type": "access", "requestId": request_id, "method": method, "path": path,
        "query": _redacted(query.decode("latin-1")) or None, "status": status, "bytes": size,
        "durationMs": round(seconds * 1000, 2), "client": client, "keyId": key_id,
    }  # fmt: skip
    return orjson.dumps(line).decode()


class _AccessWriter:
    """Writes access lines. While the logger is as _configure left it (our one handler, no
    filters), lines skip logging's machinery (a LogRecord, the caller lookup and the formatter
    cost more than a cached hit) and wait, as the bare facts of each request, in a buffer that is
    formatted and written in one go every FLUSH_SECONDS, at MAX_PENDING lines, or when the process
    exits. A write and a flush per request were about a tenth of ``{ __typename }``'s server CPU,
    and formatting each line as its request left cost twice what formatting them together does.
    As with nginx's ``access_log ... buffer= flush=``, a process killed outright loses at most its
    last FLUSH_SECONDS of lines. Any other configuration (a handler added, a level changed) gets
    the ordinary logging call, at once."""

    FLUSH_SECONDS = 0.1
    MAX_PENDING = 1_000

    def __init__(self) -> None:
        self.handler = _configure()
        self.pending: list[Entry] = []
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

    def write(self, entry: Entry) -> None:
        if not self._direct():
            self.flush()  # what waited goes first: lines stay in order
            access_log.info(_line(entry))
            return
        pending = self.pending
        pending.append(entry)
        if len(pending) >= self.MAX_PENDING:
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
        entries, self.pending = self.pending, []
        if not entries:
            return
        lines = [_line(entry) for entry in entries]
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

    def __init__(self, app: ASGIApp, error_handler: ErrorHandler | None = None) -> None:
        self.app = app
        self.error_handler = error_handler
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
        except Exception as exc:
            # What Starlette's ServerErrorMiddleware did, one layer in, without re-raising: an
            # exception that left the app made uvicorn close the connection after the whole 500
            # had gone out with keep-alive, resetting a request the client had already sent on it.
            # Answered, the connection is as clean as after any response (the handler logged it);
            # one that failed mid-answer is logged here, and uvicorn closes the cut response.
            if kind != "http" or (not status and self.error_handler is None):
                raise  # a WebSocket's server closes it with 1011, as it should
            if not status:
                assert self.error_handler is not None
                response = await self.error_handler(Request(scope), exc)
                await response(scope, receive, wrapped)
            else:
                errors_log.error("unhandled error on %s %s after its answer started", scope.get("method", "WS"),
                                 scope.get("path"), exc_info=exc)  # fmt: skip
        finally:
            elapsed = time.perf_counter() - started
            if metrics is not None:
                # A request that sent no response start failed inside: counted as the 500 it became.
                metrics.request(route_label(scope), scope["method"], status or 500, elapsed)
            if self.writer.enabled():
                client = scope.get("client")
                entry: Entry = (
                    self.clock.now(), request_id, scope.get("method", "WS"), scope.get("path"),
                    scope.get("query_string", b""), status or (101 if kind == "websocket" else 0), size,
                    elapsed, client[0] if client else None, getattr(scope.get(PRINCIPAL_KEY), "key_id", None),
                )  # fmt: skip
                self.writer.write(entry)


_TOKEN_RE = re.compile(r"(^|&)token=[^&]*")


def _redacted(query: str) -> str:
    """The query string without a stream token's value (EventSource carries it in the URL)."""
    return _TOKEN_RE.sub(r"\1token=REDACTED", query) if "token=" in query else query
