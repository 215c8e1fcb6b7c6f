"""create_app(settings) → the Starlette app: routes from each surface, middleware, error handlers,
and the lifespan that opens the pool and Redis. A request's path starts here."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.routing import BaseRoute

from api import health, problems
from api.lifespan import make_lifespan
from api.settings import Settings


def create_app(settings: Settings) -> Starlette:
    """The whole ASGI app for ``settings`` (whose database_url and redis_url must be resolved)."""
    routes: list[BaseRoute] = [*health.routes]
    return Starlette(
        routes=routes,
        exception_handlers=problems.exception_handlers(settings),
        lifespan=make_lifespan(settings),
    )
