"""The response cache: two tiers (in-process and Redis) invalidated by the event log."""

from __future__ import annotations

from api.cache.invalidator import Invalidator
from api.cache.store import Entry, LocalTier, ResponseCache
from api.state import State

__all__ = ["Entry", "Invalidator", "LocalTier", "ResponseCache", "start", "stop"]


async def start(state: State) -> None:
    """Lifespan hook: the cache and its invalidator for this process (when CACHE_ENABLED)."""
    if not state.settings.cache_enabled:
        return
    local = LocalTier(max_entries=state.settings.cache_local_entries)
    cache = ResponseCache(state.redis, ttl=float(state.settings.cache_ttl_seconds), local=local)
    assert state.settings.database_url is not None
    invalidator = Invalidator(cache, state.settings.database_url, timeouts=state.settings.db_timeouts)
    await invalidator.start()
    state.cache = cache
    state.cache_invalidator = invalidator


async def stop(state: State) -> None:
    invalidator = state.cache_invalidator
    if invalidator is not None:
        await invalidator.stop()
