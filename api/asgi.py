"""The uvicorn entry point: ``uvicorn --factory api.asgi:app_from_environ``. ``newsfacts serve``
resolves DATABASE_URL/REDIS_URL (embedded or given) before its workers import this."""

from __future__ import annotations

import gc
import logging

from starlette.applications import Starlette

from api.app import create_app
from api.embedded import ensure_services
from api.settings import Settings

log = logging.getLogger("newsfacts")


def app_from_environ() -> Starlette:
    settings = Settings.from_environ()
    _tune_gc()
    if not settings.database_url or not settings.redis_url:
        # Only when started by plain uvicorn without URLs: embedded services for this one process.
        stack = ensure_services(settings.database_url, settings.redis_url, settings.data_dir)
        settings = Settings.from_environ(
            {**_environ(), "DATABASE_URL": stack.database_url, "REDIS_URL": stack.redis_url}
        )
    return create_app(settings)


def _tune_gc() -> None:
    """Move everything imported so far out of the collector's sight and collect young objects less
    often: a GraphQL request allocates thousands of short-lived objects, and the default gen-0
    threshold (700) made the collector a measurable share of its CPU (bench_graphql: 25-30% less
    CPU per request for the 20 x 5 x speaker query with this)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)


def _environ() -> dict[str, str]:
    import os

    return dict(os.environ)
