"""An exception nothing handles, over real HTTP through the whole app: the outermost layer
(api/middleware/request_id.py, in place of Starlette's ServerErrorMiddleware) answers it with the
app's 500 problem — carrying the request id, counted and logged as the 500 it is — and nothing
escapes the app, so the keep-alive connection stays usable for the next request; an exception
after the answer started changes nothing that was sent, and one after it was complete
(api/http_protocol.py) leaves the connection open too."""

from __future__ import annotations

import dataclasses
import socket
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import uvicorn
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from api.app import create_app
from api.embedded import free_port
from api.http_protocol import HTTP_PROTOCOL
from api.settings import Settings
from tests.services import serving


async def _boom(request: Request) -> Response:
    raise RuntimeError("boom")


async def _late(request: Request) -> Response:
    async def body() -> AsyncIterator[bytes]:
        yield b"partial"
        raise RuntimeError("after the answer started")

    return StreamingResponse(body())


def _raising_after_the_answer(app: ASGIApp) -> ASGIApp:
    """``app``, but /after-answer raises once its whole response is sent (outside every layer of
    ours, where only the server's protocol sees it)."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/after-answer":
            await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
            await send({"type": "http.response.body", "body": b"ok"})
            raise RuntimeError("after the whole answer")
        await app(scope, receive, send)

    return wrapped


@pytest.fixture(scope="module")
def url(settings: Settings) -> Iterator[str]:
    # The response cache on: its GraphQL layer is where deep variables used to fail (issue 23).
    app = create_app(dataclasses.replace(settings, cache_enabled=True))
    app.add_route("/v1/test-boom", _boom)
    app.add_route("/v1/test-late", _late)
    config = uvicorn.Config(
        _raising_after_the_answer(app), host="127.0.0.1", port=free_port(), http=HTTP_PROTOCOL, log_level="critical"
    )
    with serving(config) as running:
        yield running


def test_an_unhandled_error_is_a_500_problem_with_the_request_id(url: str) -> None:
    answer = httpx.get(url + "/v1/test-boom", headers={"X-Request-Id": "boom-1"}, timeout=10)
    assert answer.status_code == 500
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["code"] == "INTERNAL" and answer.json()["status"] == 500
    assert answer.headers["x-request-id"] == "boom-1"
    assert "ratelimit" in answer.headers  # the inner layers' headers are on it too
    metrics = httpx.get(url + "/metrics", timeout=10).text
    assert 'newsfacts_http_requests_total{method="GET",route="/v1/test-boom",status="500"} 1.0' in metrics


def test_an_error_after_the_answer_started_sends_nothing_more(url: str) -> None:
    with pytest.raises(httpx.HTTPError):  # the stream is cut: no second response inside it
        httpx.get(url + "/v1/test-late", timeout=10)
    assert httpx.get(url + "/healthz", timeout=10).status_code == 200


def _exchange(sock: socket.socket, *requests: str) -> list[tuple[int, bytes]]:
    """``requests`` (a path to GET, or ``POST path content-type body``) sent together on one
    keep-alive connection (pipelined when several), and each answer's status and body, read by
    its Content-Length."""
    ip, port = sock.getpeername()[:2]
    host = f"{ip}:{port}"
    raw = b""
    for request in requests:
        if request.startswith("POST "):
            _, path, content_type, body = request.split(" ", 3)
            head = f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: {content_type}\r\n"
            raw += f"{head}Content-Length: {len(body)}\r\n\r\n{body}".encode()
        else:
            raw += f"GET {request} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
    sock.sendall(raw)
    answers, buffer = [], b""
    for _ in requests:
        while b"\r\n\r\n" not in buffer:
            chunk = sock.recv(65536)
            assert chunk, f"the server closed the connection after {len(answers)} answers"
            buffer += chunk
        head, _, buffer = buffer.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = dict(line.lower().split(": ", 1) for line in lines[1:])
        assert "close" not in headers.get("connection", ""), head
        length = int(headers["content-length"])
        while len(buffer) < length:
            chunk = sock.recv(65536)
            assert chunk, "the server closed the connection mid-answer"
            buffer += chunk
        answers.append((int(lines[0].split()[1]), buffer[:length]))
        buffer = buffer[length:]
    return answers


@pytest.mark.parametrize(
    "failing",
    [
        "/v1/test-boom",  # an exception nothing handled: the 500 problem
        "/after-answer",  # an exception once the answer was whole: past every layer of ours
        # Issue 23's reproductions (500s before, the first two escaping the app): an answer, and
        # the connection after it.
        "POST /graphql application/jsonx null",
        'POST /graphql application/json {"query":"query($v: JSON) { __typename }","variables":{"v":'
        + "[" * 600
        + "]" * 600
        + "}}",
        "/v1/claims/clm_01K8B1E4EJJ4YDVT3E4602WPWC?asOf=9999-12-31T23:59:59-14:00",
    ],
    ids=["unhandled", "after-the-answer", "graphql-jsonx", "graphql-deep-variables", "as-of-out-of-range"],
)
def test_the_connection_answers_the_next_request_after_a_failed_one(url: str, failing: str) -> None:
    address = url.removeprefix("http://").split(":")
    with socket.create_connection((address[0], int(address[1])), timeout=10) as sock:
        (first,) = _exchange(sock, failing)
        assert first[0] in (200, 400, 415, 500)
        assert _exchange(sock, "/healthz") == [(200, b'{"status":"ok"}')]
        # And pipelined: the request already sent behind the failing one is answered too.
        assert [status for status, _ in _exchange(sock, failing, "/healthz")] == [first[0], 200]
