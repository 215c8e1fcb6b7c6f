"""The app-wide middleware stack, outermost first: request ids and the access log, CORS, rate
limits, then gzip (which skips NDJSON and event streams)."""

from __future__ import annotations

from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.gzip import DEFAULT_EXCLUDED_CONTENT_TYPES, GZipMiddleware

from api.middleware.request_id import RequestIdMiddleware
from api.ratelimit import RateLimitMiddleware
from api.settings import Settings

EXPOSED_HEADERS = [
    "ETag", "Last-Modified", "Link", "RateLimit", "RateLimit-Policy", "Retry-After", "X-Request-Id", "Location",
]  # fmt: skip
ALLOWED_HEADERS = [
    "Authorization", "Content-Type", "If-Match", "If-None-Match", "Idempotency-Key", "X-Request-Id", "Last-Event-ID",
]  # fmt: skip
GZIP_MIN_BYTES = 1_024


def stack(settings: Settings) -> list[Middleware]:
    middleware = [Middleware(RequestIdMiddleware)]
    if settings.cors_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=list(settings.cors_origins),
                allow_methods=["GET", "HEAD", "POST", "PATCH", "PUT", "DELETE", "OPTIONS"],
                allow_headers=ALLOWED_HEADERS,
                expose_headers=EXPOSED_HEADERS,
                max_age=600,
            )
        )
    middleware.append(Middleware(RateLimitMiddleware, settings=settings))
    middleware.append(
        Middleware(
            GZipMiddleware,
            minimum_size=GZIP_MIN_BYTES,
            exclude_content_types=(*DEFAULT_EXCLUDED_CONTENT_TYPES, "application/x-ndjson"),
        )
    )
    return middleware
