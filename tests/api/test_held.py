"""A held response (api/held.py), over real HTTP: the layer's headers and body replace the held
ones once the body is complete, whatever number of chunks it came in; a body past the limit
streams as it came, without them; a response the layer does not hold, and what follows it on the
same connection, pass untouched."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from starlette.types import Message, Receive, Scope, Send

from api.embedded import free_port
from api.exchange import Headers
from api.held import holding
from tests.services import serving

LIMIT = 1_000


async def _app(scope: Scope, receive: Receive, send: Send) -> None:
    """``/<status>/<chunks>/<chunk size>``: a text body of that many chunks of ``x``."""
    if scope["type"] != "http":
        return
    _, status, chunks, size = scope["path"].split("/")

    async def finish(start: Message, body: bytes) -> tuple[Headers, bytes]:
        headers = [(k, v) for k, v in start["headers"] if k != b"content-length"]
        body = body.upper() + b"!"
        return [*headers, (b"x-held", str(len(body) - 1).encode()), (b"content-length", str(len(body)).encode())], body

    out = holding(send, lambda start: bool(start["status"] == 200), finish, LIMIT)
    await out({"type": "http.response.start", "status": int(status), "headers": [(b"content-type", b"text/plain")]})
    for n in range(int(chunks)):
        more = n < int(chunks) - 1
        await out({"type": "http.response.body", "body": b"x" * int(size), "more_body": more})


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    config = uvicorn.Config(_app, port=free_port(), log_level="warning", lifespan="off", access_log=False)
    with serving(config, probe="/404/1/0") as base:
        yield base


@pytest.mark.parametrize("chunks", [1, 3, 9])
def test_a_held_body_is_finished_whole(url: str, chunks: int) -> None:
    with httpx.Client(base_url=url) as client:
        response = client.get(f"/200/{chunks}/100")
    assert response.text == "X" * (100 * chunks) + "!"
    assert response.headers["x-held"] == str(100 * chunks)
    assert response.headers["content-length"] == str(100 * chunks + 1)


def test_a_body_past_the_limit_streams_unchanged(url: str) -> None:
    with httpx.Client(base_url=url) as client:
        response = client.get("/200/30/100")  # 3,000 bytes, three times the limit
        after = client.get("/200/2/10")  # the same connection goes on holding
    assert response.status_code == 200
    assert response.text == "x" * 3_000
    assert "x-held" not in response.headers
    assert after.text == "X" * 20 + "!"


def test_a_response_not_held_passes_untouched(url: str) -> None:
    with httpx.Client(base_url=url) as client:
        response = client.get("/404/4/10")
    assert response.status_code == 404
    assert response.text == "x" * 40
    assert "x-held" not in response.headers
