"""Live events: the relay (outbox → Redis Stream, one leader across processes), the per-process
broadcaster (Redis Stream → local subscribers, PostgreSQL when Redis cannot help) and Feeds
(lossless catch-up + live reading for SSE and GraphQL subscriptions)."""

from __future__ import annotations

import asyncio
import contextlib

from api.events.broadcaster import Broadcaster
from api.events.relay import Relay, RelayThread
from api.lifespan import redis_client
from api.state import State
from db.events import Envelope


async def start(state: State) -> None:
    """Lifespan hook: start this process's broadcaster and its candidate relay."""
    settings = state.settings
    assert settings.database_url and settings.redis_url
    broadcaster = Broadcaster(state.pool, settings.redis_url)
    await broadcaster.start()
    state.broadcaster = broadcaster
    loop = asyncio.get_running_loop()
    database_url, redis_url = settings.database_url, settings.redis_url

    def handoff(envelopes: list[Envelope]) -> None:
        # From the relay's thread: the broadcaster lives on this (the app's) loop. Once that loop
        # has closed there is no one to hand to; the relay goes on publishing to the stream.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(broadcaster.take_local, envelopes)

    def make() -> Relay:
        # Called on the relay's own loop, so its Redis client's connections belong to that loop.
        return Relay(
            database_url,
            redis_client(redis_url),
            maxlen=settings.event_stream_maxlen,
            retention_days=settings.event_retention_days,
            timeouts=settings.db_timeouts,
            on_read=handoff,
        )

    relay = RelayThread(make)
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
