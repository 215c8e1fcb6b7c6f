"""The HTTP protocol ``newsfacts serve`` runs uvicorn with: uvicorn's httptools protocol, with the
bytes a response writes in one turn of the event loop sent to the socket in one write, and one
keep-alive timer per idle spell of a connection rather than one per response.

uvicorn writes a response's status line and headers when the app sends ``http.response.start``
and its body when the app sends the body, and uvloop hands each write to the kernel at once: two
``send`` calls and two TCP segments for every response, where one would do. Over loopback the
sender also pays for the receiving side of each segment, so the second write cost about 8 us of
server CPU per request (``{ __typename }``: 63 → 55 us, bench/bench_graphql.py's (a)). Writes are
held until the end of the current loop turn, never longer: a stream's headers still leave as soon
as its task yields, and each SSE event or WebSocket frame as soon as it is written.

An exception that escapes the app after its response was complete leaves the connection open
(uvicorn closed it, resetting a request the client may already have sent on it, though nothing
had said ``Connection: close``); before the response started, uvicorn's own 500 says
``Connection: close``, and a response cut mid-way is closed, as uvicorn does."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable, MutableMapping
from typing import Any, cast

from uvicorn._types import ASGI3Application
from uvicorn.protocols.http import httptools_impl
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

# What ``uvicorn.run(http=...)`` and ``uvicorn --http`` take to serve with it.
HTTP_PROTOCOL = "api.http_protocol:CoalescingHttpToolsProtocol"
# The scope key under which a request finds its connection's protocol (RawStream below).
SCOPE_KEY = "newsfacts.http_protocol"


class KeptHeaderValueCheck:
    """uvicorn's check that a response header value holds no control character (its
    ``HEADER_VALUE_RE.search``), with the answer kept for long values found valid: a REST read's
    CDN tag headers run to kilobytes, the same bytes from response to response (api/cache/cdn.py
    keeps them), and scanning them was 3% of a page read's server CPU. Short values are scanned as
    before; a value that fails is never kept, so it fails every time."""

    LONG = 256
    KEEP = 4_096

    def __init__(self, pattern: Any) -> None:
        self.pattern = pattern
        self.valid: set[bytes] = set()

    def search(self, value: bytes) -> Any:
        if len(value) < self.LONG:
            return self.pattern.search(value)
        if value in self.valid:  # the same object again: its hash is kept, and identity compares first
            return None
        found = self.pattern.search(value)
        if found is None:
            if len(self.valid) >= self.KEEP:
                self.valid.clear()
            self.valid.add(value)
        return found


# uvicorn reads the pattern from its module on every header; only this process's servers use it.
# A uvicorn without that module-level pattern keeps its own check (only this cut is lost).
_pattern = getattr(httptools_impl, "HEADER_VALUE_RE", None)
if _pattern is not None and not isinstance(_pattern, KeptHeaderValueCheck):
    httptools_impl.HEADER_VALUE_RE = KeptHeaderValueCheck(_pattern)  # type: ignore[assignment]


class CoalescingTransport(asyncio.Transport):
    """Wraps a connection's transport: writes made in one loop turn leave as one. Everything that
    could overtake held bytes (closing, EOF, the buffer size flow control reads) sends them first.

    ``held`` (what this turn's writes left here, or None) and ``inner`` (the wrapped transport) are
    read by a WebSocket fan-out (api/ws_protocol.py RawWebSocket): it writes one frame to each of
    thousands of connections in a turn, nothing to coalesce, and holding each would cost a loop
    callback per connection; it writes to ``inner`` directly whenever nothing is held."""

    __slots__ = ("_loop", "held", "inner")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self.inner = transport
        self._loop = loop
        self.held: list[bytes | bytearray | memoryview] | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        held = self.held
        if held is None:
            self.held = [data]
            self._loop.call_soon(self.flush)
        else:
            held.append(data)

    def writelines(self, list_of_data: Any) -> None:
        for data in list_of_data:
            self.write(data)

    def flush(self) -> None:
        held, self.held = self.held, None
        if not held or self.inner.is_closing():
            return
        self.inner.write(held[0] if len(held) == 1 else b"".join(held))

    def close(self) -> None:
        self.flush()
        self.inner.close()

    def abort(self) -> None:
        self.held = None
        self.inner.abort()

    def write_eof(self) -> None:
        self.flush()
        self.inner.write_eof()

    def can_write_eof(self) -> bool:
        return self.inner.can_write_eof()

    def is_closing(self) -> bool:
        return self.inner.is_closing()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self.inner.get_extra_info(name, default)

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self.inner.set_protocol(protocol)

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self.inner.get_protocol()

    def is_reading(self) -> bool:
        return self.inner.is_reading()

    def pause_reading(self) -> None:
        self.inner.pause_reading()

    def resume_reading(self) -> None:
        self.inner.resume_reading()

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self.inner.set_write_buffer_limits(high, low)

    def get_write_buffer_size(self) -> int:
        self.flush()  # what flow control asks about must be in the real buffer
        return self.inner.get_write_buffer_size()

    def pending_size(self) -> int:
        """Bytes held or buffered, without flushing (get_write_buffer_size flushes): a fan-out
        asks this of each connection it writes to, and a flush there would undo the coalescing."""
        held = self.held
        return self.inner.get_write_buffer_size() + (sum(len(d) for d in held) if held else 0)

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return self.inner.get_write_buffer_limits()


class CoalescingHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, over a CoalescingTransport, with one keep-alive timer per
    idle spell instead of one per response: uvicorn arms a timer when a response completes and
    cancels it when the next request arrives, about 1.7 us of uvloop's per request. Here a
    connection notes when it went idle; the timer, armed once, closes it if it is still idle
    ``timeout_keep_alive`` seconds after that, and otherwise waits out what is left."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.on_lost: Callable[[], None] | None = None  # a RawStream's, told when the client goes
        self._idle_since: float | None = None  # loop time the last response completed; None: busy
        self._idle_timer: asyncio.TimerHandle | None = None
        # uvloop's transports are not asyncio.Transport subclasses, but have its methods.
        super().connection_made(CoalescingTransport(cast(asyncio.Transport, transport), self.loop))

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        on_lost, self.on_lost = self.on_lost, None
        if on_lost is not None:
            on_lost()
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None

    def _unset_keepalive_if_required(self) -> None:
        # Called by uvicorn whenever data arrives (and as a response completes): busy.
        self._idle_since = None

    def on_response_complete(self) -> None:
        # uvicorn's, but noting the idle spell instead of arming a new timer.
        self.on_lost = None
        self.server_state.total_requests += 1
        if self.transport.is_closing():
            return
        self.flow.resume_reading()
        if self.pipeline:
            cycle, app = self.pipeline.pop()
            self._start_asgi_task(cycle, app)
            return
        self._idle_since = self.loop.time()
        if self._idle_timer is None:
            self._idle_timer = self.loop.call_later(self.timeout_keep_alive, self._idle_check)

    def _idle_check(self) -> None:
        self._idle_timer = None
        since = self._idle_since
        if since is None:
            return  # busy: the request's response arms the timer again
        left = since + self.timeout_keep_alive - self.loop.time()
        if left > 0:
            self._idle_timer = self.loop.call_later(left, self._idle_check)
        else:
            self.timeout_keep_alive_handler()

    def _start_asgi_task(self, cycle: RequestResponseCycle, app: ASGI3Application) -> None:
        # uvicorn's, running _run_asgi in place of the cycle's own run_asgi.
        cycle.scope[SCOPE_KEY] = self  # type: ignore[literal-required]
        if getattr(self.config, "reset_contextvars", False):
            task = self.loop.create_task(_run_asgi(cycle, app), context=contextvars.Context())
        else:
            task = self.loop.create_task(_run_asgi(cycle, app))
        task.add_done_callback(self.tasks.discard)
        self.tasks.add(task)


class RawStream:
    """A streamed response's body written straight to its connection (SSE, api/rest/events.py):
    bytes encoded once for every stream of an event, in HTTP/1.1 chunks, with no ASGI message and
    no ``send`` per stream. The app sends ``http.response.start`` and the final empty body as
    usual; in between, ``write`` when ``ready``, else the ASGI ``send`` (which waits for a slow
    reader, keeping the app's own bound on what it queues for it). ``on_lost`` is called when the
    client goes, so an idle stream needs no task listening for the disconnect."""

    __slots__ = ("_cycle", "_protocol")

    def __init__(self, protocol: CoalescingHttpToolsProtocol, cycle: RequestResponseCycle) -> None:
        self._protocol = protocol
        self._cycle = cycle

    @staticmethod
    def of(scope: MutableMapping[str, Any]) -> RawStream | None:
        """The request's RawStream under ``newsfacts serve``; None under another protocol."""
        protocol = scope.get(SCOPE_KEY)
        return RawStream(protocol, protocol.cycle) if protocol is not None else None

    def on_lost(self, callback: Callable[[], None] | None) -> None:
        self._protocol.on_lost = callback

    @property
    def ready(self) -> bool:
        """Started, chunked, not done, the client there and taking what is written."""
        cycle = self._cycle
        return (
            cycle.response_started
            and cycle.chunked_encoding is True
            and not cycle.response_complete
            and not cycle.disconnected
            and not cycle.flow.write_paused
        )

    @property
    def gone(self) -> bool:
        return bool(self._cycle.disconnected)

    def write(self, chunk: bytes) -> None:
        """``chunk``: whole HTTP/1.1 chunks (``chunk()``), written as they are."""
        self._cycle.transport.write(chunk)


def chunk(data: bytes) -> bytes:
    """``data`` as one HTTP/1.1 chunk of a chunked body."""
    return b"%x\r\n%s\r\n" % (len(data), data)


async def _run_asgi(cycle: RequestResponseCycle, app: ASGI3Application) -> None:
    """uvicorn's RequestResponseCycle.run_asgi, except that an exception raised once the response
    is complete is only logged: the response was framed and whole, so the connection is as clean
    as after any other, and closing it would cut what the client pipelined or sent next."""
    try:
        result = await app(cycle.scope, cycle.receive, cycle.send)  # type: ignore[func-returns-value]
    except BaseException as exc:
        if cycle.response_complete:
            cycle.logger.error("Exception in ASGI application after its response completed\n", exc_info=exc)
            return
        cycle.logger.error("Exception in ASGI application\n", exc_info=exc)
        if not cycle.response_started:
            await cycle.send_500_response()  # with Connection: close
        else:
            cycle.transport.close()  # a cut response: only closing says so
    else:
        if result is not None:
            cycle.logger.error("ASGI callable should return None, but returned '%s'.", result)
            cycle.transport.close()
        elif not cycle.response_started and not cycle.disconnected:
            cycle.logger.error("ASGI callable returned without starting response.")
            await cycle.send_500_response()
        elif not cycle.response_complete and not cycle.disconnected:
            cycle.logger.error("ASGI callable returned without completing response.")
            cycle.transport.close()
    finally:
        cycle.on_response = lambda: None
