"""The pieces behind the live surfaces, on the session's real PostgreSQL and Redis: a Feed whose
consumer falls behind its buffer still gets every event in order (re-read from PostgreSQL), a
replay-then-live Feed has no gap or duplicate at the seam, an event queued (or replayed) before
its object's recall leaves redacted, and retention pruning deletes only what is old and already
published."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import orjson
import pytest
import redis.asyncio as aioredis

from api.events.broadcaster import Broadcaster
from api.events.feed import EventFilter, Feed
from api.events.relay import Relay
from db import events, writes
from db.lens import FULL, for_scope
from tests.factories import make_actor, make_article, quote_ref

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


async def test_an_event_queued_or_replayed_before_its_objects_recall_leaves_redacted(
    pool: asyncpg.Pool, conn: asyncpg.Connection[Any], redis: aioredis.Redis, redis_url: str, database_url: str
) -> None:
    # The live path as deployed: the relay publishes each event with its public form (computed
    # before the recall here), and the broadcaster fans it out from the Redis Stream.
    relay = Relay(database_url, redis, maxlen=10_000, retention_days=30)
    relay.start()
    broadcaster = Broadcaster(pool, redis_url, idle_check_seconds=0.5)
    await broadcaster.start()
    public = for_scope(None)
    try:
        start = await events.last_sequence(conn)
        await make_actor(conn)  # replayed first, so the replay page is read before the recall
        await _until(lambda: broadcaster.head > start)
        async with (
            Feed(broadcaster, pool, after=None, filter=EventFilter(), lens=public) as live,
            Feed(broadcaster, pool, after=start, filter=EventFilter(), lens=public) as replayed,
            Feed(broadcaster, pool, after=None, filter=EventFilter(), lens=FULL) as writer,
        ):
            assert (await replayed.next(wait=5) or {}).get("type") == "actor.created"
            body = "Quillowarth harbour talks collapsed at Brammelstead on Monday."
            article = await make_article(conn, body=body, headline="Quillowarth talks")
            record = {
                "statement": "Talks collapsed",
                "quoteType": "assertion",
                "references": [quote_ref(article, "Brammelstead")],
            }
            claim = await writes.create(conn, "claim", record, changed_by="test")
            queued = await events.last_sequence(conn)
            await _until(lambda: broadcaster.head >= queued and relay.published >= queued)
            # Both events wait in the live queue (and in the replay backlog) with their public
            # forms of before the recall; the recall passes the broadcaster before they leave.
            await writes.update(conn, "article", article["id"], {"pubStatus": "withheld"}, changed_by="test")
            recalled = await events.last_sequence(conn)
            await _until(lambda: broadcaster.head >= recalled)

            for feed in (live, replayed):
                got = [await feed.next(wait=5) for _ in range(4)]
                assert [(e["type"], e["objectId"]) for e in got if e] == [
                    ("article.created", article["id"]),
                    ("claim.created", claim["id"]),
                    ("article.withheld", article["id"]),
                    ("claim.sourcing_changed", claim["id"]),
                ]
                text = orjson.dumps(got)
                assert b"Quillowarth" not in text and b"Brammelstead" not in text
                assert got[0] and got[0]["data"]["body"] is None and got[0]["data"]["pubStatus"] == "withheld"
                assert got[1] and got[1]["data"] is None, "a withdrawn claim's events carry no data"
            full = [await writer.next(wait=5) for _ in range(4)]
            assert full[0] and full[0]["data"]["body"] == body
            assert full[1] and full[1]["data"]["references"][0]["quoteText"] == "Brammelstead"
    finally:
        await broadcaster.stop()
        await relay.stop()


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
