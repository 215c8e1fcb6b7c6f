"""A live server like the session's but with the response cache on, and helpers for the cache tests."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable, Iterator

import httpx
import pytest

from api.settings import Settings
from tests.services import LiveServer


@pytest.fixture(scope="module")
def cached_server(settings: Settings) -> Iterator[LiveServer]:
    """The app over real HTTP with CACHE_ENABLED on (the session's shared server has it off)."""
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
