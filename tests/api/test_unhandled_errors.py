"""An exception nothing handles, over real HTTP through the whole app: the outermost layer
(api/middleware/request_id.py, in place of Starlette's ServerErrorMiddleware) answers it with the
app's 500 problem — carrying the request id, counted and logged as the 500 it is — and re-raises
it for the server's log; an exception after the answer started changes nothing that was sent."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import uvicorn
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

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


@pytest.fixture(scope="module")
def url(settings: Settings) -> Iterator[str]:
    app = create_app(settings)
    app.add_route("/v1/test-boom", _boom)
    app.add_route("/v1/test-late", _late)
    config = uvicorn.Config(app, host="127.0.0.1", port=free_port(), http=HTTP_PROTOCOL, log_level="critical")
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
