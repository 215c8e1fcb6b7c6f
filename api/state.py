"""The typed application state every handler reads: created by the lifespan, reached through
``get_state(request)`` — never through module globals."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import asyncpg
import redis.asyncio as aioredis
from starlette.applications import Starlette
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Scope

from api.reads.router import ReadRouter
from api.settings import Settings

if TYPE_CHECKING:  # the modules below import this one to reach State
    from api.auth import KeyCache
    from api.cache.invalidator import Invalidator
    from api.cache.store import ResponseCache
    from api.events.broadcaster import Broadcaster
    from api.events.relay import RelayThread
    from api.metrics import Metrics
    from api.rest.plan import Statements
    from db.secrets import SecretBox


@dataclass
class State:
    settings: Settings
    pool: asyncpg.Pool
    redis: aioredis.Redis
    # Where read-only work runs: a streaming replica when one is usable, else ``pool`` (api/reads/).
    reads: ReadRouter
    # Set by the lifespan hooks that own them (api/metrics.py, api/cache/, api/events/, api/auth.py);
    # None until their hook ran, or when disabled (the cache with CACHE_ENABLED=false).
    metrics: Metrics | None = None
    cache: ResponseCache | None = None
    cache_invalidator: Invalidator | None = None
    broadcaster: Broadcaster | None = None
    relay: RelayThread | None = None
    key_cache: KeyCache | None = None
    secret_box: SecretBox | None = None  # webhook signing secrets' sealing keys (api/webhooks/keyring.py)
    # REST reads' built statements, per process (api/rest/plan.py).
    rest_statements: Statements = field(default_factory=lambda: _statements())


def _statements() -> Statements:
    from api.rest.plan import Statements  # api/rest/ imports this module

    return Statements()


class App(Starlette):
    """The Starlette app, holding its State as a plain attribute (set by the lifespan): through
    ``app.state`` each read was a failed attribute lookup and Starlette's ``State.__getattr__``,
    about 0.3 us, and a request reads it in several layers. Its stack starts with our outermost
    layer (api/middleware/request_id.py), not Starlette's ServerErrorMiddleware: that layer
    answers an exception nothing else handled with the app's 500 handler itself, so the answer
    carries the request id and is counted and logged as the 500 it is (and a request pays one
    layer and one ``send`` wrapper less)."""

    newsfacts: State

    def build_middleware_stack(self) -> ASGIApp:
        stack = super().build_middleware_stack()
        assert isinstance(stack, ServerErrorMiddleware)
        return stack.app


def get_state(conn: HTTPConnection) -> State:
    """The State of the app serving this request or WebSocket."""
    state: State = conn.app.newsfacts
    return state


def state_of(scope: Scope) -> State:
    """The same, from a raw ASGI scope: middleware on every request need not build a connection."""
    state: State = scope["app"].newsfacts
    return state
