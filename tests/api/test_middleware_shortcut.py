"""POST /graphql skips Starlette's router and exception layer (api/middleware/shortcut.py): an
answer, and an error raised before answering, are what the ordinary route would give."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import problems
from api.exchange import SCOPE_KEY as EXCHANGE_KEY
from api.exchange import Exchange
from api.middleware.shortcut import RestShortcut, RouteShortcut
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
        if body.get("body") == b"late":  # fails after answering: no handler may answer again
            await send({"type": "http.response.start", "status": 200, "headers": []})
            raise NotFound("gone meanwhile", id="x")
        await JSONResponse({"route": scope["route"].path, "params": scope["path_params"]})(scope, receive, send)


class _Outermost:
    """What the app's outermost layer promises inner ones (api/exchange.py): an Exchange on the
    scope whose status is set as the response starts."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        exchange = scope[EXCHANGE_KEY] = Exchange()

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                exchange.status = message["status"]
            await send(message)

        await self.app(scope, receive, sending)


def _app(shortcut: bool) -> Starlette:
    handlers: dict[Any, Any] = problems.exception_handlers(Settings(environment="test"))
    route = Route("/graphql", _Endpoint(), methods=["GET", "POST"])
    middleware = [Middleware(_Outermost)]
    if shortcut:
        middleware.append(Middleware(RouteShortcut, route=route, handlers=handlers))
    return Starlette(routes=[route], middleware=middleware, exception_handlers=handlers)


async def _answers(app: Starlette) -> list[tuple[int, str, Any]]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        out = []
        for method, body in (("POST", b"ok"), ("POST", b"fail"), ("POST", b"crash"), ("POST", b"late"), ("PUT", b"ok")):
            r = await client.request(method, "/graphql", content=body)
            out.append((r.status_code, r.headers.get("content-type", ""), r.text))
        return out


async def test_the_shortcut_answers_and_fails_as_the_router_does() -> None:
    through_router = await _answers(_app(shortcut=False))
    shortcut = await _answers(_app(shortcut=True))
    assert shortcut == through_router
    assert [status for status, _, _ in shortcut] == [200, 404, 500, 200, 405]
    assert '"route":"/graphql"' in shortcut[0][2]


async def _fact_read(request: Request) -> JSONResponse:
    """A REST read as the routes are: a function endpoint, refusing with the app's errors."""
    fact_id = request.path_params.get("id", "")
    if fact_id == "missing":
        raise NotFound("no such fact", id=fact_id)
    if fact_id == "crash":
        raise RuntimeError("boom")
    return JSONResponse({"route": request.scope["route"].path, "params": request.path_params})


def _rest_app(shortcut: bool) -> tuple[Starlette, list[Any]]:
    handlers: dict[Any, Any] = problems.exception_handlers(Settings(environment="test"))
    seen: list[Any] = []

    async def other(request: Request) -> JSONResponse:
        return JSONResponse({"route": request.scope["route"].path, "params": request.path_params})

    routes: list[BaseRoute] = [
        Route("/v1/claims/facets", other, methods=["GET"]),
        Route("/v1/claims", _fact_read, methods=["GET", "POST"]),
        Route("/v1/claims/{id}", _fact_read, methods=["GET", "PATCH"]),
        Route("/v1/claims/{id}/revisions", other, methods=["GET"]),
    ]
    middleware = [Middleware(_Outermost)]
    if shortcut:
        middleware.append(Middleware(RestShortcut, routes=routes, handlers=handlers, collections=["claims", "actors"]))

    class _Router:
        """Counts the requests that reached the router (the shortcut's fall-throughs)."""

        def __init__(self, app: ASGIApp) -> None:
            self.app = app

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            seen.append(scope["path"])
            await self.app(scope, receive, send)

    app = Starlette(routes=routes, middleware=middleware, exception_handlers=handlers)
    app.router.middleware_stack = _Router(app.router.middleware_stack)
    return app, seen


REST_REQUESTS = [
    ("GET", "/v1/claims"), ("HEAD", "/v1/claims"), ("GET", "/v1/claims/clm_1"), ("GET", "/v1/claims/missing"),
    ("GET", "/v1/claims/crash"), ("GET", "/v1/claims/facets"), ("GET", "/v1/claims/clm_1/revisions"),
    ("POST", "/v1/claims"), ("PUT", "/v1/claims/clm_1"), ("GET", "/v1/claims/"), ("GET", "/v1/actors"),
    ("GET", "/v1/actors/act_1"),
]  # fmt: skip


async def _rest_answers(app: Starlette) -> list[tuple[int, str, str]]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        out = []
        for method, path in REST_REQUESTS:
            r = await client.request(method, path)
            out.append((r.status_code, r.headers.get("content-type", ""), r.text))
        return out


async def test_rest_fact_reads_skip_the_router_and_answer_as_it_does() -> None:
    through_router, all_seen = _rest_app(shortcut=False)
    shortcut, seen = _rest_app(shortcut=True)
    expected = await _rest_answers(through_router)
    assert await _rest_answers(shortcut) == expected
    assert [status for status, _, _ in expected] == [200, 200, 200, 404, 500, 200, 200, 200, 405, 307, 404, 404]
    assert expected[3][1] == "application/problem+json"
    assert len(all_seen) == len(REST_REQUESTS)
    # Only the GETs and HEADs of the list, the items and the aggregate read skipped the router.
    assert seen == [
        "/v1/claims/clm_1/revisions", "/v1/claims", "/v1/claims/clm_1", "/v1/claims/", "/v1/actors",
        "/v1/actors/act_1",
    ]  # fmt: skip
