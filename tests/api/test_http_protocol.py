"""The server's HTTP protocol (api/http_protocol.py) sends each response in one TCP segment where
uvicorn's own httptools protocol sends two (headers, then body), and holds nothing back from a
stream; its keep-alive timeout closes idle connections as uvicorn's does, and never a busy one;
and what it sends, for responses of every shape and for pipelined requests, is byte for byte what
uvicorn's own sends. Segments are counted by the client's kernel (TCP_INFO's data_segs_in), over
real sockets."""

from __future__ import annotations

import re
import socket
import struct
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import uvicorn
from starlette.types import Receive, Scope, Send

from api.embedded import free_port
from api.http_protocol import HTTP_PROTOCOL
from tests.services import LiveServer, serving

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="TCP_INFO's layout is Linux's")

# struct tcp_info (linux/tcp.h): tcpi_data_segs_in, segments received that carried data (4.6+).
_DATA_SEGS_IN = 152
REQUESTS = 10


async def _two_messages(scope: Scope, receive: Receive, send: Send) -> None:
    """Answers every request as Starlette's Response does: a start message, then the body."""
    if scope["type"] != "http":
        return
    body = b'{"ok":true}'
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"11")]})
    await send({"type": "http.response.body", "body": body})


@contextmanager
def _serving(http: str, keep_alive: float = 5) -> Iterator[str]:
    port = free_port()
    config = uvicorn.Config(
        _two_messages, host="127.0.0.1", port=port, http=http, lifespan="off", log_level="warning",
        timeout_keep_alive=keep_alive,  # type: ignore[arg-type]  # uvicorn takes seconds as a float too
    )  # fmt: skip
    with serving(config, probe="/") as url:
        yield url.removeprefix("http://")


def _data_segments_for(address: str, path: str, requests: int = REQUESTS) -> int:
    """Data segments this client received for ``requests`` keep-alive GETs, one at a time: the
    fewest of three tries. A loaded machine can add a segment (the server's kernel sends one again,
    or a tail-loss probe, when the client's acknowledgment is late: 21 for uvicorn's 20 once, with
    make test's other worker beside it), never take one away."""
    return min(_data_segments_once(address, path, requests) for _ in range(3))


def _data_segments_once(address: str, path: str, requests: int) -> int:
    host, port = address.split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        before = _segments_in(sock)
        for _ in range(requests):
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {address}\r\n\r\n".encode())
            _read_response(sock)
            time.sleep(0.01)  # nothing of this response is still on its way when the count is read
        return _segments_in(sock) - before


def _segments_in(sock: socket.socket) -> int:
    info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 256)
    if len(info) < _DATA_SEGS_IN + 4:
        pytest.skip("this kernel's TCP_INFO has no data_segs_in")
    count: int = struct.unpack_from("I", info, _DATA_SEGS_IN)[0]
    return count


def _read_response(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        data += _recv(sock)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += _recv(sock)
    return body


def _recv(sock: socket.socket) -> bytes:
    chunk = sock.recv(65536)
    if not chunk:
        raise AssertionError("the server closed the connection")
    return chunk


def test_one_segment_per_response_where_uvicorn_sends_two() -> None:
    with _serving("httptools") as plain, _serving(HTTP_PROTOCOL) as ours:
        assert _data_segments_for(plain, "/") == 2 * REQUESTS  # the count sees the difference
        assert _data_segments_for(ours, "/") == REQUESTS


def test_the_app_answers_in_one_segment(server: LiveServer) -> None:
    address = server.url.removeprefix("http://")
    assert _data_segments_for(address, "/healthz") == REQUESTS


def test_a_streams_headers_and_first_bytes_are_not_held(server: LiveServer) -> None:
    """An event stream stays open: what it has written must reach the client at once."""
    address = server.url.removeprefix("http://")
    host, port = address.split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(f"GET /v1/events/stream HTTP/1.1\r\nHost: {address}\r\n\r\n".encode())
        data = b""
        while b": connected" not in data:
            data += _recv(sock)  # a 5 s timeout: held bytes would fail here
        assert data.startswith(b"HTTP/1.1 200 ")
        assert b"text/event-stream" in data


def _get(sock: socket.socket, address: str) -> None:
    sock.sendall(f"GET / HTTP/1.1\r\nHost: {address}\r\n\r\n".encode())
    _read_response(sock)


def _closed_by_server(sock: socket.socket, within: float) -> bool:
    sock.settimeout(within)
    try:
        return sock.recv(1) == b""
    except TimeoutError:
        return False


@pytest.mark.parametrize("http", ["httptools", HTTP_PROTOCOL])
def test_an_idle_connection_is_closed_after_the_keep_alive_timeout(http: str) -> None:
    with _serving(http, keep_alive=0.5) as address:
        host, port = address.split(":")
        with socket.create_connection((host, int(port)), timeout=5) as sock:
            _get(sock, address)
            assert not _closed_by_server(sock, within=0.2)
            assert _closed_by_server(sock, within=2)


def test_a_connection_in_use_outlives_its_keep_alive_timeout() -> None:
    """Requests 0.2 s apart for three timeouts' time: each idle spell starts the clock again."""
    with _serving(HTTP_PROTOCOL, keep_alive=0.5) as address:
        host, port = address.split(":")
        with socket.create_connection((host, int(port)), timeout=5) as sock:
            deadline = time.monotonic() + 1.5
            while time.monotonic() < deadline:
                _get(sock, address)
                time.sleep(0.2)
            _get(sock, address)
            assert _closed_by_server(sock, within=2)


async def _shapes(scope: Scope, receive: Receive, send: Send) -> None:
    """Responses of every shape the head of a response can take, by path."""
    if scope["type"] != "http":
        return
    path = scope["path"]
    headers: list[tuple[bytes, bytes]] = [(b"X-Mixed-Case", b"v\tw"), (b"content-type", b"text/plain")]
    body, status, more = b"hello", 200, [b""]
    if path == "/length":
        headers.append((b"content-length", b"5"))
    elif path == "/chunked":
        more = [b" there", b""]
    elif path == "/explicit-chunked":
        headers.append((b"Transfer-Encoding", b"chunked"))
    elif path == "/empty":
        status, body = 204, b""
    elif path == "/not-modified":
        status, body = 304, b""
    elif path == "/close":
        headers += [(b"content-length", b"5"), (b"Connection", b"keep-alive, Close")]
    elif path == "/bad-name":
        headers.append((b"bad name", b"x"))
    elif path == "/bad-value":
        headers.append((b"x-bad", b"a\r\nInjected: yes"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": len(more) > 1})
    for i, chunk in enumerate(more[:-1]):
        await send({"type": "http.response.body", "body": chunk, "more_body": i < len(more) - 2})


@contextmanager
def _serving_shapes(http: str) -> Iterator[str]:
    port = free_port()
    config = uvicorn.Config(
        _shapes, host="127.0.0.1", port=port, http=http, lifespan="off", log_level="critical",
        access_log=False,  # as newsfacts serve runs (the app logs access itself)
    )  # fmt: skip
    with serving(config, probe="/length") as url:
        yield url.removeprefix("http://")


def _wire(address: str, method: str, path: str) -> bytes:
    """Every byte the server sends for two requests sent at once on one connection, the first
    kept alive and the second not (a pipeline: uvicorn answers them in turn), Date blanked."""
    host, port = address.split(":")
    request = f"{method} {path} HTTP/1.1\r\nHost: {address}\r\n"
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(f"{request}\r\n{request}Connection: close\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return re.sub(rb"date: [^\r]*\r\n", b"date: -\r\n", data)


SHAPES = ["/length", "/chunked", "/explicit-chunked", "/empty", "/not-modified", "/close", "/bad-name", "/bad-value"]


def test_responses_are_the_bytes_uvicorn_writes() -> None:
    with _serving_shapes("httptools") as plain, _serving_shapes(HTTP_PROTOCOL) as ours:
        for method in ("GET", "HEAD"):
            for path in SHAPES:
                theirs = _wire(plain, method, path)
                assert _wire(ours, method, path) == theirs, (method, path, theirs)
        # The shapes differ where they should: both answers of a plain one, the second closing;
        # a bad head refused by closing, unanswered (as uvicorn does).
        both = _wire(ours, "GET", "/length")
        assert both.count(b"HTTP/1.1 200 OK") == 2 and both.count(b"connection: close\r\n") == 1
        assert b"x-mixed-case: v\tw\r\n" in both
        assert _wire(ours, "GET", "/bad-value") == b""


def test_a_long_header_value_with_a_control_character_is_refused_every_time_short_or_long() -> None:
    from uvicorn.protocols.http import httptools_impl

    from api.http_protocol import KeptHeaderValueCheck

    check = httptools_impl.HEADER_VALUE_RE
    assert isinstance(check, KeptHeaderValueCheck)  # what uvicorn's responses are checked with here
    uvicorns = re.compile(b"[\x00-\x08\x0a-\x1f\x7f]")
    tags = b" ".join(b"clm_%026d" % n for n in range(100))
    values = [tags, tags + b"\r\nx-injected: 1", tags[:10] + b"\n", b"ok", tags + b"\x7f", b"\t" + tags]
    for _ in range(3):  # kept answers are the pattern's answers, on every asking
        for value in values:
            assert (check.search(value) is None) == (uvicorns.search(value) is None)
            assert (check.search(bytes(bytearray(value))) is None) == (uvicorns.search(value) is None)
