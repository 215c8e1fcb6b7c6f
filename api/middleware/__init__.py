"""The app-wide middleware stack, outermost first: metrics, request ids and the access log (one
layer, api/middleware/request_id.py, which also answers what nothing else handled), CORS, rate
limits, gzip (which skips NDJSON and event streams), read routing (api/reads/); then /graphql
leaves for its route, past Starlette's router (api/middleware/shortcut.py); REST goes on through
CDN tags and the response cache — so it stores uncompressed bodies without per-request headers and
a hit still counts against limits — and a fact read then reaches its route past the router too."""

from __future__ import annotations

from typing import Any

from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.gzip import DEFAULT_EXCLUDED_CONTENT_TYPES, GZipMiddleware
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.types import Receive, Scope, Send

from api.cache.cdn import SurrogateKeyMiddleware
from api.cache.middleware import CacheMiddleware
from api.middleware.request_id import RequestIdMiddleware
from api.middleware.shortcut import RestShortcut, RouteShortcut
from api.ratelimit import RateLimitMiddleware
from api.reads.middleware import ReadRoutingMiddleware
from api.settings import Settings
from db.kinds import COLLECTIONS

EXPOSED_HEADERS = [
    "ETag", "Last-Modified", "Link", "RateLimit", "RateLimit-Policy", "Retry-After", "X-Request-Id", "Location",
    "Consistency-Token", "Read-Source", "Read-Lag-Ms", "Surrogate-Key", "Cache-Tag",
]  # fmt: skip
ALLOWED_HEADERS = [
    "Authorization", "Content-Type", "If-Match", "If-None-Match", "Idempotency-Key", "X-Request-Id", "Last-Event-ID",
    "Consistency-Token",
]  # fmt: skip
GZIP_MIN_BYTES = 1_024
# Pages on a local dev server (any port) in development: CORS_LOCAL_ORIGINS.
LOCAL_ORIGINS = r"https?://(localhost|127\.0\.0\.1|\[::1\])(:[0-9]{1,5})?"


class LeanGZipMiddleware(GZipMiddleware):
    """Starlette's gzip, bypassed outright for clients that do not accept gzip: its identity path
    still inspects every response's headers, a tenth of a cached hit's time."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for name, value in scope["headers"]:
                if name == b"accept-encoding" and b"gzip" in value:
                    await super().__call__(scope, receive, send)
                    return
        await self.app(scope, receive, send)


def stack(
    settings: Settings,
    handlers: dict[Any, Any],
    shortcut: Route | None = None,
    websocket: WebSocketRoute | None = None,
    routes: list[BaseRoute] | None = None,
) -> list[Middleware]:
    """The layers for the app's exception ``handlers``; ``shortcut``: the /graphql route, to skip
    the router for (``websocket``: its WebSocket route, likewise); ``routes``: the app's, for REST
    fact reads to skip it too."""
    # Outermost (api/state.App drops Starlette's ServerErrorMiddleware): it answers what nothing
    # else handled with the app's handler for Exception.
    middleware = [Middleware(RequestIdMiddleware, error_handler=handlers.get(Exception))]
    if settings.cors_origins or settings.cors_local_origins_enabled:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=list(settings.cors_origins),
                allow_origin_regex=LOCAL_ORIGINS if settings.cors_local_origins_enabled else None,
                allow_methods=["GET", "HEAD", "POST", "PATCH", "PUT", "DELETE", "OPTIONS"],
                allow_headers=ALLOWED_HEADERS,
                expose_headers=EXPOSED_HEADERS,
                max_age=600,
            )
        )
    middleware.append(Middleware(RateLimitMiddleware, settings=settings))
    middleware.append(
        Middleware(
            LeanGZipMiddleware,
            minimum_size=GZIP_MIN_BYTES,
            exclude_content_types=(*DEFAULT_EXCLUDED_CONTENT_TYPES, "application/x-ndjson"),
        )
    )
    # Outside the cache: a hit must honour the reader's consistency token, and a miss computed on a
    # replica is stamped with what that replica had replayed.
    middleware.append(Middleware(ReadRoutingMiddleware))
    if shortcut is not None:
        # Past here only REST's layers: GraphQL has its own cache (api/cache/graphql.py), and REST's
        # made every successful POST wait for the cache's invalidator, GraphQL reads included.
        middleware.append(Middleware(RouteShortcut, route=shortcut, handlers=handlers, websocket=websocket))
    middleware.append(Middleware(SurrogateKeyMiddleware))  # CDN purge tags, on hits and misses alike
    if settings.cache_enabled:
        middleware.append(Middleware(CacheMiddleware))
    if routes is not None:
        middleware.append(Middleware(RestShortcut, routes=routes, handlers=handlers, collections=list(COLLECTIONS)))
    return middleware
