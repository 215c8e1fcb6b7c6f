"""Opens and closes what the app shares across requests: the asyncpg pool, the replicas' read router
and the Redis client.
Migrations run here too, under their advisory lock, so any number of processes may start at once."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from api.reads.router import ReadRouter
from api.settings import Settings
from api.state import App, State
from db.migrate import migrate
from db.pool import create_pool

log = logging.getLogger("newsfacts")

# Hooks other parts of the app register to start/stop their background work with the app.
Hook = Callable[[State], Awaitable[None]]


def redis_client(url: str) -> aioredis.Redis:
    """A Redis client as the app uses one: bounded timeouts, and one quick retry on a broken
    connection: after a Redis restart every pooled connection is dead, and without it each would
    fail one request (and readiness) before being replaced."""
    return aioredis.Redis.from_url(
        url,
        socket_timeout=2.0,
        socket_connect_timeout=2.0,
        health_check_interval=30,
        retry=Retry(ExponentialBackoff(cap=0.2, base=0.02), retries=1),
        retry_on_error=[RedisConnectionError, RedisTimeoutError],
    )


def make_lifespan(
    settings: Settings, *, on_start: list[Hook] | None = None, on_stop: list[Hook] | None = None
) -> Callable[[App], contextlib.AbstractAsyncContextManager[None]]:
    @contextlib.asynccontextmanager
    async def lifespan(app: App) -> AsyncIterator[None]:
        if not settings.database_url or not settings.redis_url:
            raise RuntimeError("create_app needs DATABASE_URL and REDIS_URL resolved (see api.embedded)")
        pool = await create_pool(
            settings.database_url,
            min_size=settings.db_pool_min,
            max_size=settings.db_pool_max,
            timeouts=settings.db_timeouts,
        )
        redis = redis_client(settings.redis_url)
        async with pool.acquire() as conn:
            applied = await migrate(conn)
        if applied:
            log.info("applied migrations %s", ", ".join(applied))
        reads = ReadRouter.from_urls(
            pool,
            settings.database_replica_urls,
            max_lag_ms=float(settings.replica_max_lag_ms),
            wait_ms=float(settings.replica_wait_ms),
            poll_seconds=settings.replica_poll_ms / 1000.0,
            timeouts=settings.db_timeouts,
            pool_max=settings.db_pool_max,
        )
        await reads.start()
        state = State(settings=settings, pool=pool, redis=redis, reads=reads)
        app.newsfacts = state
        try:
            for hook in on_start or []:
                await hook(state)
            yield
        finally:
            for hook in reversed(on_stop or []):
                with contextlib.suppress(Exception):
                    await hook(state)
            await reads.stop()
            await redis.aclose()
            await pool.close()

    return lifespan
