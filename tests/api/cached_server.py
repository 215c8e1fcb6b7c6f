"""A live server like the session's but with the response cache on, for the cache tests."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest

from api.settings import Settings
from tests.services import LiveServer


@pytest.fixture(scope="session")
def cached_server(settings: Settings) -> Iterator[LiveServer]:
    """The app over real HTTP with CACHE_ENABLED on (the session's shared server has it off)."""
    live = LiveServer(dataclasses.replace(settings, cache_enabled=True)).start()
    try:
        yield live
    finally:
        live.stop()
