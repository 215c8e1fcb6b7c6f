"""The pieces behind the live surfaces, on the session's real PostgreSQL and Redis: a Feed whose
consumer falls behind its buffer still gets every event in order (re-read from PostgreSQL), a
replay-then-live Feed has no gap or duplicate at the seam, and retention pruning deletes only
what is old and already published."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest

from api.events.broadcaster import Broadcaster
from api.events.feed import EventFilter, Feed
from db import events
from db.lens import FULL
from tests.factories import make_actor

pytestmark = pytest.mark.anyio


async def _until(predicate: Any, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def test_a_consumer_that_overflows_its_buffer_loses_nothing(
    pool: asyncpg.Pool, conn: asyncpg.Connection[Any], redis_url: str
) -> None:
    broadcaster = Broadcaster(pool, redis_url, queue_size=3, idle_check_seconds=0.5)
    await broadcaster.start()
    try:
        flt = EventFilter(types=("actor.created",))
        async with Feed(broadcaster, pool, after=None, filter=flt, lens=FULL) as feed:
            made = [await make_actor(conn) for _ in range(10)]
            last = await events.last_sequence(conn)
            await _until(lambda: broadcaster.head >= last)
            got = [await feed.next(wait=5) for _ in range(10)]
        assert [e["objectId"] for e in got if e] == [m["id"] for m in made]
    finally:
        await broadcaster.stop()


async def test_replay_then_live_has_no_gap_or_duplicate(
    pool: asyncpg.Pool, conn: asyncpg.Connection[Any], redis_url: str
) -> None:
    broadcaster = Broadcaster(pool, redis_url, idle_check_seconds=0.5)
    await broadcaster.start()
    try:
        start = await events.last_sequence(conn)
        before = [await make_actor(conn) for _ in range(3)]
        await _until(lambda: broadcaster.head >= start + 3)
        async with Feed(broadcaster, pool, after=start, filter=EventFilter(), lens=FULL) as feed:
            after = [await make_actor(conn) for _ in range(3)]
            got = [await feed.next(wait=5) for _ in range(6)]
            assert await feed.next(wait=0.3) is None
        sequences = [e["sequence"] for e in got if e]
        assert sequences == list(range(start + 1, start + 7))
        assert [e["objectId"] for e in got if e] == [a["id"] for a in before + after]
    finally:
        await broadcaster.stop()


async def test_prune_deletes_only_old_published_events(conn: asyncpg.Connection[Any]) -> None:
    columns = "sequence, id, type, object_type, object_id, object_version, data, created_at"
    # Negative sequences stay clear of the real log's counter; removed again below.
    old = (-2, "evt_test_prune_old", "actor.created", "actor", "act_x", 1, {}, 40)
    recent = (-1, "evt_test_prune_recent", "actor.created", "actor", "act_x", 1, {}, 10)
    try:
        for row in (old, recent):
            await conn.execute(
                f"INSERT INTO events ({columns}) VALUES ($1, $2, $3, $4, $5, $6, $7, now() - make_interval(days => $8))",
                *row,
            )
        assert await events.prune(conn, retention_days=30, keep_after=-3) == 0, "unpublished events stay"
        assert await events.prune(conn, retention_days=30, keep_after=0) == 1
        left = await conn.fetch("SELECT id FROM events WHERE sequence < 0")
        assert [r["id"] for r in left] == ["evt_test_prune_recent"]
    finally:
        await conn.execute("DELETE FROM events WHERE sequence < 0")
