"""Live events: the relay (outbox → Redis Stream, one leader across processes), the per-process
broadcaster (Redis Stream → local subscribers, PostgreSQL when Redis cannot help) and Feeds
(lossless catch-up + live reading for SSE and GraphQL subscriptions)."""

from __future__ import annotations

from api.events.broadcaster import Broadcaster
from api.events.relay import Relay
from api.state import State


async def start(state: State) -> None:
    """Lifespan hook: start this process's broadcaster and its candidate relay."""
    settings = state.settings
    assert settings.database_url and settings.redis_url
    broadcaster = Broadcaster(state.pool, settings.redis_url)
    await broadcaster.start()
    state.broadcaster = broadcaster
    relay = Relay(
        settings.database_url,
        state.redis,
        maxlen=settings.event_stream_maxlen,
        retention_days=settings.event_retention_days,
        timeouts=settings.db_timeouts,
    )
    relay.start()
    state.relay = relay


async def stop(state: State) -> None:
    """Lifespan hook: stop the relay (releasing leadership at once) and the broadcaster."""
    relay, state.relay = state.relay, None
    if relay is not None:
        await relay.stop()
    broadcaster, state.broadcaster = state.broadcaster, None
    if broadcaster is not None:
        await broadcaster.stop()


def broadcaster_of(state: State) -> Broadcaster:
    found = state.broadcaster
    assert found is not None, "the events lifespan hook has not run"
    return found
