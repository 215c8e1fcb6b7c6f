"""The typed application state every handler reads: created by the lifespan, reached through
``get_state(request)`` — never through module globals."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import asyncpg
import redis.asyncio as aioredis
from starlette.requests import HTTPConnection

from api.reads.router import ReadRouter
from api.settings import Settings


@dataclass
class State:
    settings: Settings
    pool: asyncpg.Pool
    redis: aioredis.Redis
    # Where read-only work runs: a streaming replica when one is usable, else ``pool`` (api/reads/).
    reads: ReadRouter
    # Long-lived helpers later issues attach (event relay, broadcaster, caches), by name.
    services: dict[str, Any] = field(default_factory=dict)


def get_state(conn: HTTPConnection) -> State:
    """The State of the app serving this request or WebSocket."""
    state: State = conn.app.state.newsfacts
    return state
