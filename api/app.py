"""create_app(settings) → the Starlette app: routes from each surface, middleware, error handlers,
and the lifespan that opens the pool and Redis. A request's path starts here."""

from __future__ import annotations

from starlette.routing import BaseRoute, Route, WebSocketRoute

from api import cache, docs, events, explore, health, metrics, middleware, problems, rest
from api.graphql.mount import routes as graphql_routes
from api.lifespan import make_lifespan
from api.rest import events as rest_events
from api.rest import keys as rest_keys
from api.rest import suggestions as rest_suggestions
from api.rest import webhook_endpoints as rest_webhooks
from api.rest import writes as rest_writes
from api.settings import Settings
from api.state import App
from api.webhooks import keyring


def create_app(settings: Settings) -> App:
    """The whole ASGI app for ``settings`` (whose database_url and redis_url must be resolved)."""
    # GraphQL first: Starlette matches routes in order, and /graphql carries most of the traffic
    # of a frontend (matching past forty REST routes cost it ~20 us a request).
    routes: list[BaseRoute] = [
        *graphql_routes(settings),
        *health.routes,
        *metrics.routes,
        *rest_events.routes,
        *rest_keys.routes,
        *rest.routes([*rest_writes.operations(), *rest_suggestions.operations()]),
        *rest_webhooks.routes(),
        *docs.routes(),
        *explore.routes,
    ]
    handlers = problems.exception_handlers(settings)
    graphql_route, graphql_ws = routes[0], routes[1]
    assert isinstance(graphql_route, Route) and graphql_route.path == "/graphql"
    assert isinstance(graphql_ws, WebSocketRoute) and graphql_ws.path == "/graphql"
    return App(
        routes=routes,
        middleware=middleware.stack(settings, handlers, shortcut=graphql_route, websocket=graphql_ws, routes=routes),
        exception_handlers=handlers,
        lifespan=make_lifespan(
            settings,
            on_start=[keyring.start, metrics.start, events.start, cache.start],
            on_stop=[cache.stop, events.stop],
        ),
    )
