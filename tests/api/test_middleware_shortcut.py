"""POST /graphql skips Starlette's router and exception layer (api/middleware/shortcut.py): an
answer, and an error raised before answering, are what the ordinary route would give."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from api import problems
from api.middleware.shortcut import RouteShortcut
from api.settings import Settings
from db.errors import NotFound

pytestmark = pytest.mark.anyio


class _Endpoint:
    """An ASGI app as the /graphql route's endpoint is (not a request → response function)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = await receive()
        if body.get("body") == b"fail":
            raise NotFound("nothing here", id="x")
        if body.get("body") == b"crash":
            raise RuntimeError("boom")
        await JSONResponse({"route": scope["route"].path, "params": scope["path_params"]})(scope, receive, send)


def _app(shortcut: bool) -> Starlette:
    handlers: dict[Any, Any] = problems.exception_handlers(Settings(environment="test"))
    route = Route("/graphql", _Endpoint(), methods=["GET", "POST"])
    middleware = [Middleware(RouteShortcut, route=route, handlers=handlers)] if shortcut else []
    return Starlette(routes=[route], middleware=middleware, exception_handlers=handlers)


async def _answers(app: Starlette) -> list[tuple[int, str, Any]]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        out = []
        for method, body in (("POST", b"ok"), ("POST", b"fail"), ("POST", b"crash"), ("PUT", b"ok")):
            r = await client.request(method, "/graphql", content=body)
            out.append((r.status_code, r.headers.get("content-type", ""), r.text))
        return out


async def test_the_shortcut_answers_and_fails_as_the_router_does() -> None:
    through_router = await _answers(_app(shortcut=False))
    shortcut = await _answers(_app(shortcut=True))
    assert shortcut == through_router
    assert [status for status, _, _ in shortcut] == [200, 404, 500, 405]
    assert '"route":"/graphql"' in shortcut[0][2]
