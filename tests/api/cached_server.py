"""A live server like the session's but with the response cache on, and helpers for the cache tests."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable, Iterator

import httpx
import pytest
import redis

from api.settings import Settings
from tests.services import LiveServer


def forget_cache(redis_url: str) -> None:
    """Delete the shared tier's entries, tag versions and watermark. They only ever rise, and they
    count in one database's event sequence: every module's database restarts that sequence from the
    template's, so a previous module's versions would hide this module's invalidations."""
    client = redis.Redis.from_url(redis_url)
    try:
        for pattern in ("nf:c:*", "nf:t:*", "nf:cache:*"):
            keys = list(client.scan_iter(match=pattern, count=1000))
            if keys:
                client.delete(*keys)
    finally:
        client.close()


@pytest.fixture(scope="module")
def cached_server(settings: Settings) -> Iterator[LiveServer]:
    """The app over real HTTP with CACHE_ENABLED on (the module's shared server has it off)."""
    assert settings.redis_url is not None
    forget_cache(settings.redis_url)
    live = LiveServer(dataclasses.replace(settings, cache_enabled=True)).start()
    try:
        yield live
    finally:
        live.stop()


def cache_state(response: httpx.Response) -> str:
    """``hit`` or ``miss``, from the X-Cache header."""
    return response.headers.get("x-cache", "").split(";")[0]


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 5.0) -> None:
    """Poll ``check`` until true: invalidation follows a commit made elsewhere by milliseconds."""
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


async def caught_up(client: httpx.AsyncClient, timeout: float = 5.0) -> None:
    """Wait until the server's cache has applied every committed event (its invalidation lag, as
    /metrics reports it, is 0): an entry computed before a write it has not yet applied is
    refused or invalidated once it does, which would turn an expected hit into a miss."""

    async def no_lag() -> bool:
        text = (await client.get("/metrics")).text
        line = next(x for x in text.splitlines() if x.startswith("newsfacts_cache_invalidation_lag_events "))
        return float(line.split()[1]) == 0

    await eventually(no_lag, timeout)
