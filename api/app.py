"""create_app(settings) → the Starlette app: routes from each surface, middleware, error handlers,
and the lifespan that opens the pool and Redis. A request's path starts here."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.routing import BaseRoute

from api import cache, docs, events, explore, graphql, health, metrics, middleware, problems, rest
from api.events import graphql_ws
from api.lifespan import make_lifespan
from api.rest import events as rest_events
from api.rest import keys as rest_keys
from api.rest import webhook_endpoints as rest_webhooks
from api.rest import writes as rest_writes
from api.settings import Settings


def create_app(settings: Settings) -> Starlette:
    """The whole ASGI app for ``settings`` (whose database_url and redis_url must be resolved)."""
    routes: list[BaseRoute] = [
        *health.routes,
        *metrics.routes,
        *rest_events.routes,
        *rest_keys.routes,
        *rest.routes(rest_writes.operations()),
        *rest_webhooks.routes(),
        *docs.routes(),
        *explore.routes,
        *graphql_ws.routes(settings),
        *graphql.routes(settings),
    ]
    return Starlette(
        routes=routes,
        middleware=middleware.stack(settings),
        exception_handlers=problems.exception_handlers(settings),
        lifespan=make_lifespan(
            settings, on_start=[metrics.start, events.start, cache.start], on_stop=[cache.stop, events.stop]
        ),
    )
