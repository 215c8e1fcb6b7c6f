"""POST /graphql straight to its app, past Starlette's exception layer and router: for a request
as cheap as ``{ __typename }`` those two (a Request object, three closures, a regex match) were a
tenth of its cost, and /graphql carries most of a frontend's traffic. It sets what the router
would (``route``, ``endpoint``, ``path_params``: metrics label by the route), and an exception the
app raises before answering goes through the app's exception handlers as Starlette's layer would
send it (whether it answered, the request's Exchange says: no ``send`` wrapper of its own); every
other request takes the ordinary way. The /graphql WebSocket goes straight to its endpoint too: its
task lives as long as the connection, and the router's and exception layer's frames in it were a
sixth of an idle subscriber's memory."""

from __future__ import annotations

import inspect
from typing import Any

from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.requests import Request
from starlette.routing import BaseRoute, Match, Route, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket

from api.exchange import exchange_of
from api.problems import answer


class RouteShortcut:
    def __init__(
        self, app: ASGIApp, route: Route, handlers: dict[Any, Any], websocket: WebSocketRoute | None = None
    ) -> None:
        self.app = app
        self.route = route
        self.websocket = websocket
        self.path = route.path
        self.methods = route.methods or set()
        # Starlette's own layer, built only for its handler tables (defaults for HTTPException
        # included, the 500 handler left to ServerErrorMiddleware as Starlette does).
        tables = ExceptionMiddleware(app, handlers={k: v for k, v in handlers.items() if k not in (500, Exception)})
        self.tables = (tables._exception_handlers, tables._status_handlers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        ws = self.websocket
        if scope["type"] == "websocket" and ws is not None and scope["path"] == ws.path and not scope.get("root_path"):
            scope["route"] = ws
            scope["endpoint"] = ws.endpoint
            scope["path_params"] = {}
            await ws.endpoint(WebSocket(scope, receive, send))
            return
        if (
            scope["type"] != "http"
            or scope["path"] != self.path
            or scope["method"] not in self.methods
            or scope.get("root_path")
        ):
            await self.app(scope, receive, send)
            return
        route = self.route
        scope["route"] = route
        scope["endpoint"] = route.endpoint
        scope["path_params"] = {}
        exchange = exchange_of(scope)  # its status says whether the response started
        try:
            await route.app(scope, receive, send)
        except Exception as exc:
            if exchange.status:
                raise
            # Starlette's handling, reached only on this rare path: same handler, same response.
            scope["starlette.exception_handlers"] = self.tables
            await answer(exc, scope, receive, send)


class RestShortcut:
    """GETs (and HEADs) of ``/v1/<collection>``, ``/v1/<collection>/<id>`` and a collection's
    aggregate reads (``/v1/<collection>/facets``) straight to their routes: the router tried up to twenty-odd patterns before reaching a fact read, and
    Starlette's exception layer wrapped it once more (with the profile's other router work, about
    a tenth of a page read's CPU). Innermost, so every layer (access log, metrics, CORS, rate
    limits, read routing, CDN tags, the response cache) sees the request as before. Each
    shortcut is the route the router itself picks for such a path, found when the app is built
    (``routes``: the app's, in order); the exception tables go on the scope as Starlette's layer
    puts them, so the route's own exception handling answers a refusal as problem+json exactly as
    before. Any other path or method takes the ordinary way."""

    def __init__(self, app: ASGIApp, routes: list[BaseRoute], handlers: dict[Any, Any], collections: list[str]) -> None:
        self.app = app
        tables = ExceptionMiddleware(app, handlers={k: v for k, v in handlers.items() if k not in (500, Exception)})
        self.tables = (tables._exception_handlers, tables._status_handlers)
        # Paths a route names exactly (``/v1/claims/facets``): never an id, left to the router.
        self.exact = {r.path for r in routes if isinstance(r, Route) and "{" not in r.path}
        self.lists: dict[str, Route] = {}
        self.items: dict[str, Route] = {}  # "/v1/claims" → the route of "/v1/claims/{id}"
        for collection in collections:
            base = f"/v1/{collection}"
            if (route := _picked(routes, base)) is not None and route.path == base:
                self.lists[base] = route
            if (route := _picked(routes, base + "/" + _PROBE)) is not None and route.path == base + "/{id}":
                self.items[base] = route
            # A collection's aggregate reads (``/v1/claims/facets``): named paths whose endpoint is
            # a plain request handler, as the router would pick them.
            for path in self.exact:
                head, _, word = path.rpartition("/")
                route = _picked(routes, path) if head == base and word else None
                if route is not None and route.path == path and inspect.isfunction(route.endpoint):
                    self.lists[path] = route

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD") or scope.get("root_path"):
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        route = self.lists.get(path)
        params: dict[str, str] = {}
        if route is None:
            head, _, tail = path.rpartition("/")
            route = self.items.get(head)
            if route is None or not tail or path in self.exact:
                await self.app(scope, receive, send)
                return
            params = {"id": tail}
        scope["router"] = scope["app"].router
        scope["starlette.exception_handlers"] = self.tables
        scope["route"] = route
        scope["endpoint"] = route.endpoint
        scope["path_params"] = params
        # What the route's app (Starlette's request_response) does, without its per-request
        # closures and ``send`` wrapper: the endpoint's response, sent. A refusal the endpoint
        # raises goes through Starlette's own handling, as on the ordinary way.
        request = Request(scope, receive, send)
        try:
            response = await route.endpoint(request)
        except Exception as exc:
            await answer(exc, scope, receive, send)
            return
        await response(scope, receive, send)


_PROBE = "x0"  # a segment no exact route names


def _picked(routes: list[BaseRoute], path: str) -> Route | None:
    """The route Starlette's router hands a plain GET of ``path`` to (None: not a fully matching Route)."""
    probe: Scope = {"type": "http", "method": "GET", "path": path, "root_path": "", "path_params": {}}
    for route in routes:
        match, _ = route.matches(probe)
        if match is Match.FULL:  # a partial match (another method) yields to a later full one
            return route if isinstance(route, Route) else None
    return None
