"""The HTTP protocol ``newsfacts serve`` runs uvicorn with: uvicorn's httptools protocol, with the
bytes a response writes in one turn of the event loop sent to the socket in one write.

uvicorn writes a response's status line and headers when the app sends ``http.response.start``
and its body when the app sends the body, and uvloop hands each write to the kernel at once: two
``send`` calls and two TCP segments for every response, where one would do. Over loopback the
sender also pays for the receiving side of each segment, so the second write cost about 8 us of
server CPU per request (``{ __typename }``: 63 → 55 us, bench/bench_graphql.py's (a)). Writes are
held until the end of the current loop turn, never longer: a stream's headers still leave as soon
as its task yields, and each SSE event or WebSocket frame as soon as it is written."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

# What ``uvicorn.run(http=...)`` and ``uvicorn --http`` take to serve with it.
HTTP_PROTOCOL = "api.http_protocol:CoalescingHttpToolsProtocol"


class CoalescingTransport(asyncio.Transport):
    """Wraps a connection's transport: writes made in one loop turn leave as one. Everything that
    could overtake held bytes (closing, EOF, the buffer size flow control reads) sends them first."""

    __slots__ = ("_held", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self._transport = transport
        self._loop = loop
        self._held: list[bytes | bytearray | memoryview] | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        held = self._held
        if held is None:
            self._held = [data]
            self._loop.call_soon(self.flush)
        else:
            held.append(data)

    def writelines(self, list_of_data: Any) -> None:
        for data in list_of_data:
            self.write(data)

    def flush(self) -> None:
        held, self._held = self._held, None
        if not held or self._transport.is_closing():
            return
        self._transport.write(held[0] if len(held) == 1 else b"".join(held))

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def abort(self) -> None:
        self._held = None
        self._transport.abort()

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def can_write_eof(self) -> bool:
        return self._transport.can_write_eof()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._transport.get_extra_info(name, default)

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._transport.set_protocol(protocol)

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._transport.get_protocol()

    def is_reading(self) -> bool:
        return self._transport.is_reading()

    def pause_reading(self) -> None:
        self._transport.pause_reading()

    def resume_reading(self) -> None:
        self._transport.resume_reading()

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self._transport.set_write_buffer_limits(high, low)

    def get_write_buffer_size(self) -> int:
        self.flush()  # what flow control asks about must be in the real buffer
        return self._transport.get_write_buffer_size()

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return self._transport.get_write_buffer_limits()


class CoalescingHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, over a CoalescingTransport."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but have its methods.
        super().connection_made(CoalescingTransport(cast(asyncio.Transport, transport), self.loop))
