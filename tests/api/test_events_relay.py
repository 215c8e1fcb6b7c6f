"""The relay on a thread of its own (api/events/relay.py RelayThread), on the module's real
PostgreSQL and Redis: it publishes the outbox to the stream from its own event loop, hands what it
read to this process's broadcaster at once (which delivers it even when it cannot reach Redis at
all), and hands leadership over as soon as it stops. A broadcaster given events by its relay and
then by the stream and the database delivers each once, in order."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import asyncpg
import pytest
import redis.asyncio as aioredis

from api.embedded import free_port
from api.events.broadcaster import Broadcaster
from api.events.feed import EventFilter, Feed
from api.events.relay import RELAY_LOCK_KEY, Relay, RelayThread
from db import events
from db.events import Envelope
from db.lens import FULL
from tests.api.webhook_receiver import eventually
from tests.factories import make_actor

pytestmark = pytest.mark.anyio


def _relay_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "newsfacts-relay"]


def _thread_relay(database_url: str, redis_url: str, on_read: Any = None) -> RelayThread:
    return RelayThread(
        lambda: Relay(
            database_url, aioredis.Redis.from_url(redis_url), maxlen=10_000, retention_days=30, on_read=on_read
        )
    )


async def test_the_relay_thread_publishes_and_its_process_delivers_without_redis(
    pool: asyncpg.Pool, conn: asyncpg.Connection[Any], redis: aioredis.Redis, redis_url: str, database_url: str
) -> None:
    # This broadcaster cannot reach Redis (nothing listens there) and re-reads PostgreSQL only every
    # minute: what reaches its feed within seconds came from the relay's hand-over.
    broadcaster = Broadcaster(pool, f"redis://127.0.0.1:{free_port()}/0", poll_seconds=60.0)
    await broadcaster.start()
    loop = asyncio.get_running_loop()
    handed: list[tuple[bool, list[int]]] = []

    def on_read(envelopes: list[Envelope]) -> None:
        handed.append((threading.current_thread() is threading.main_thread(), [e.sequence for e in envelopes]))
        loop.call_soon_threadsafe(broadcaster.take_local, envelopes)

    relay = _thread_relay(database_url, redis_url, on_read)
    relay.start()
    try:
        await eventually(lambda: relay.is_leader)
        assert len(_relay_threads()) == 1
        async with Feed(broadcaster, pool, after=None, filter=EventFilter(types=("actor.created",)), lens=FULL) as feed:
            made = [await make_actor(conn) for _ in range(5)]
            got = [await feed.next(wait=5) for _ in range(5)]
        assert [e["objectId"] for e in got if e] == [m["id"] for m in made]
        last = await events.last_sequence(conn)
        await eventually(lambda: relay.published >= last)
        # Read on the relay's own thread, and published to the stream as before.
        assert handed and not any(on_main for on_main, _ in handed)
        stream = await events.stream_key(conn)
        ids = [int(entry_id.split(b"-")[0]) for entry_id, _ in await redis.xrange(stream)]
        assert ids[-5:] == list(range(last - 4, last + 1))
    finally:
        await relay.stop()
        await broadcaster.stop()
    assert not _relay_threads(), "stopping ends the relay's thread"


async def test_stopping_the_relay_thread_releases_leadership_at_once(
    conn: asyncpg.Connection[Any], redis_url: str, database_url: str
) -> None:
    relay = _thread_relay(database_url, redis_url)
    relay.start()
    try:
        await eventually(lambda: relay.is_leader)
        assert not await conn.fetchval("SELECT pg_try_advisory_lock($1)", RELAY_LOCK_KEY)
    finally:
        await relay.stop()
    assert not relay.is_leader
    assert await conn.fetchval("SELECT pg_try_advisory_lock($1)", RELAY_LOCK_KEY)
    await conn.fetchval("SELECT pg_advisory_unlock($1)", RELAY_LOCK_KEY)


async def test_handed_over_then_streamed_events_are_delivered_once_in_order(
    pool: asyncpg.Pool, conn: asyncpg.Connection[Any], redis_url: str, database_url: str
) -> None:
    # The relay as deployed (stream and hand-over both), and a broadcaster following the stream:
    # every event reaches it twice (and the database fills any gap), each is delivered once.
    broadcaster = Broadcaster(pool, redis_url, idle_check_seconds=0.2, poll_seconds=0.05)
    await broadcaster.start()
    loop = asyncio.get_running_loop()
    relay = _thread_relay(database_url, redis_url, lambda e: loop.call_soon_threadsafe(broadcaster.take_local, e))
    relay.start()
    try:
        await eventually(lambda: relay.is_leader)
        async with Feed(broadcaster, pool, after=None, filter=EventFilter(), lens=FULL) as feed:
            start = feed.last
            assert start is not None

            async def write() -> None:
                async with pool.acquire() as own:
                    await make_actor(own)

            await asyncio.gather(*(write() for _ in range(20)))  # concurrent writers, one order
            last = await events.last_sequence(conn)
            got = []
            while (event := await feed.next(wait=3)) is not None:
                got.append(event["sequence"])
        assert got == list(range(start + 1, last + 1))
        assert len(got) >= 20
        # Out of order or already delivered: left to the stream and the database, never delivered twice.
        head = broadcaster.head
        stale = Envelope({"sequence": head, "objectId": "x"}, {"sequence": head, "objectId": "x"}, False, head)
        ahead = Envelope({"sequence": head + 5, "objectId": "y"}, {"sequence": head + 5, "objectId": "y"}, False, head)
        broadcaster.take_local([stale, ahead])
        assert broadcaster.head == head
    finally:
        await relay.stop()
        await broadcaster.stop()


async def test_reading_runs_ahead_of_publishing_while_redis_cannot_be_reached(
    conn: asyncpg.Connection[Any], database_url: str
) -> None:
    # Nothing listens at this Redis: every XADD fails and is retried each second, while the relay
    # goes on reading the outbox and handing each event over once, in order, as it is committed.
    handed: list[int] = []
    dead = f"redis://127.0.0.1:{free_port()}/0"
    relay = RelayThread(
        lambda: Relay(
            database_url,
            aioredis.Redis.from_url(dead, socket_connect_timeout=0.5),
            maxlen=10_000,
            retention_days=30,
            retry_seconds=0.2,
            on_read=lambda envelopes: handed.extend(e.sequence for e in envelopes),
        )
    )
    published = await events.published_sequence(conn)
    relay.start()
    try:
        await eventually(lambda: relay.is_leader)
        start = await events.last_sequence(conn)
        for _ in range(2):
            for _ in range(3):
                await make_actor(conn)
            last = await events.last_sequence(conn)
            await eventually(lambda last=last: last in handed)
            await asyncio.sleep(0.6)  # several publishing retries meanwhile
        assert [s for s in handed if s > start] == list(range(start + 1, last + 1))
        assert len(handed) == len(set(handed)), "each event is handed over once"
        assert relay.published == published, "nothing could be published"
    finally:
        await relay.stop()
    row = await conn.fetchrow("SELECT published_sequence FROM relay_state")
    assert row is not None and row[0] == published
