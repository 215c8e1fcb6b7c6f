"""The two-tier cache against real Redis and the real outbox: tag versions make stale entries
unservable, in every order of put and invalidation, across processes and across Redis outages."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import redis.asyncio as aioredis

from api.cache import Entry, Invalidator, LocalTier, ResponseCache
from api.cache.store import FLOOR, WATERMARK
from api.embedded import EmbeddedRedis
from db import events, writes
from tests.factories import make_actor

pytestmark = pytest.mark.anyio


def entry(tags: set[str], seq: int, body: bytes = b"{}") -> Entry:
    return Entry(200, (("content-type", "application/json"),), body, frozenset(tags), seq)


def key() -> str:
    return f"test:{uuid.uuid4().hex}"


async def test_local_tier_refuses_entries_older_than_a_bump() -> None:
    local = LocalTier()
    local.put("k", entry({"act_x"}, seq=10), ttl=60)
    assert local.get("k") is not None
    local.bump({"act_x"}, 11)
    assert local.get("k") is None


async def test_entry_computed_before_an_invalidation_is_never_stored_after_it() -> None:
    local = LocalTier()
    local.bump({"act_x"}, 12)  # the write's event was applied while the response was being computed
    local.put("k", entry({"act_x"}, seq=11), ttl=60)
    assert local.get("k") is None


async def test_evicting_tag_versions_raises_the_floor_instead_of_forgetting() -> None:
    local = LocalTier(max_tags=2)
    local.put("k", entry({"act_a"}, seq=5), ttl=60)
    local.bump({"act_b"}, 6)
    local.bump({"act_c"}, 7)
    local.bump({"act_d"}, 8)  # evicts act_b's version (6): entries older than 6 are refused
    assert local.floor == 6
    assert local.get("k") is None


async def test_redis_tier_serves_other_processes_and_honours_tag_versions(redis: aioredis.Redis) -> None:
    first, second = ResponseCache(redis), ResponseCache(redis)
    await first.reset_redis(100)
    first.applied_seq = second.applied_seq = 100
    k = key()
    await first.put(k, entry({"clm_1"}, seq=100, body=b"v1"))
    found, tier = await second.get(k)
    assert found is not None and found.body == b"v1" and tier == "redis"
    await second.bump_redis({"clm_1": 101}, 101)
    second.local.clear()
    third = ResponseCache(redis)
    third.applied_seq = 101
    assert (await third.get(k))[0] is None


async def test_redis_entries_are_refused_until_its_tag_versions_are_complete(redis: aioredis.Redis) -> None:
    cache = ResponseCache(redis)
    await cache.reset_redis(200)
    cache.applied_seq = 200
    k = key()
    await cache.put(k, entry({"clm_2"}, seq=200))
    fresh = ResponseCache(redis)
    fresh.applied_seq = 205  # knows of events Redis' tag versions do not include yet
    assert (await fresh.get(k))[0] is None


async def test_a_consistency_token_refuses_entries_computed_before_its_write(redis: aioredis.Redis) -> None:
    # The reader's write (event 301) was made through another process, whose event this one has
    # not applied yet: the entry (computed at 300) is valid by tag versions, but older than the write.
    writer, reader = ResponseCache(redis), ResponseCache(redis)
    await writer.reset_redis(300)
    writer.applied_seq = reader.applied_seq = 300
    k = key()
    await writer.put(k, entry({"act_9"}, seq=300))
    assert (await writer.get(k, min_seq=301))[0] is None  # local tier
    assert (await reader.get(k, min_seq=301))[0] is None  # Redis tier
    assert (await reader.get(k, min_seq=300))[0] is not None  # readers without a newer token still hit
    assert (await writer.lookup(k, min_seq=301))[1] == "miss"
    writer.finish_flight(k, None)


async def test_a_miss_whose_leader_finished_during_its_redis_read_takes_the_leaders_entry(
    redis: aioredis.Redis,
) -> None:
    # The leader stores its entry and leaves the flight while a second caller's Redis read is still
    # on the wire (the leader's Redis copy not yet written): that caller must not compute again.
    cache = ResponseCache(redis)
    await cache.reset_redis(400)
    cache.applied_seq = 400
    k = key()
    assert (await cache.lookup(k))[1] == "miss"  # the leader
    second = asyncio.create_task(cache.lookup(k))
    await asyncio.sleep(0)  # the second caller missed the local tier and awaits Redis
    assert not second.done()
    done = entry({"clm_4"}, seq=400, body=b"computed once")
    cache.local.put(k, done, cache.ttl)
    cache.finish_flight(k, done)
    found, tier = await second
    assert tier == "local" and found is not None and found.body == b"computed once"


async def test_losing_the_watermark_refuses_everything_cached_before(redis: aioredis.Redis) -> None:
    cache = ResponseCache(redis)
    await cache.reset_redis(300)
    cache.applied_seq = 300
    k = key()
    await cache.put(k, entry({"clm_3"}, seq=300))
    await redis.delete(WATERMARK)
    await cache.reset_redis(310)
    other = ResponseCache(redis)
    other.applied_seq = 310
    assert (await other.get(k))[0] is None
    assert int(await redis.get(FLOOR)) == 310


async def test_invalidator_bumps_tags_of_committed_writes(
    database_url: str, redis: aioredis.Redis, conn: asyncpg.Connection[Any]
) -> None:
    cache = ResponseCache(redis)
    invalidator = Invalidator(cache, database_url, poll_seconds=0.2)
    await invalidator.start()
    try:
        actor = await make_actor(conn)
        await _until(lambda: _applied(cache), await events.last_sequence(conn))
        k = key()
        await cache.put(k, entry({actor["id"]}, seq=cache.applied_seq))
        assert (await cache.get(k))[0] is not None
        await writes.update(conn, "actor", actor["id"], {"description": "changed"}, changed_by="test")
        async with asyncio.timeout(5):
            while (await cache.get(k))[0] is not None:
                await asyncio.sleep(0.05)
        # Redis' copy is invalid too: a process with an empty local tier refuses it.
        await _until(lambda: _watermark(redis), cache.applied_seq)
        other = ResponseCache(redis)
        other.applied_seq = cache.applied_seq
        assert (await other.get(k))[0] is None
    finally:
        await invalidator.stop()


async def test_redis_outage_degrades_to_misses_and_catches_up_after(
    database_url: str, tmp_path: Path, conn: asyncpg.Connection[Any]
) -> None:
    # A Redis of this test's own, persisting to disk, so its entries survive the outage.
    server = EmbeddedRedis(tmp_path / "redis", persist=True).start()
    client = aioredis.Redis.from_url(server.url, socket_timeout=1, socket_connect_timeout=1)
    cache = ResponseCache(client)
    invalidator = Invalidator(cache, database_url, poll_seconds=0.2)
    await invalidator.start()
    try:
        actor = await make_actor(conn)
        await _until(lambda: _watermark(client), cache.applied_seq)
        k = key()
        await cache.put(k, entry({actor["id"]}, seq=cache.applied_seq))
        server.stop()
        try:
            cache.local.clear()
            found, tier = await cache.get(k)  # Redis is down: a miss, not an error
            assert found is None and tier == "miss"
            await writes.update(conn, "actor", actor["id"], {"description": "during outage"}, changed_by="test")
            await asyncio.sleep(0.5)  # the invalidator applies it locally but cannot reach Redis
        finally:
            server.start()
        assert await client.exists("nf:c:" + k), "the entry survived the restart"
        # Back, before the catch-up: Redis' watermark is behind, so a fresh process refuses the entry.
        other = ResponseCache(client)
        other.applied_seq = cache.applied_seq
        assert (await other.get(k))[0] is None
        # After the catch-up the tag version in Redis itself refuses it.
        await _until(lambda: _watermark(client), cache.applied_seq)
        late = ResponseCache(client)
        late.applied_seq = cache.applied_seq
        assert (await late.get(k))[0] is None
        assert int(await client.get("nf:t:" + actor["id"])) == cache.applied_seq
    finally:
        await invalidator.stop()
        await client.aclose()
        server.stop()


async def _applied(cache: ResponseCache) -> int:
    return cache.applied_seq


async def _watermark(client: aioredis.Redis) -> int:
    try:
        return int(await client.get(WATERMARK) or 0)
    except Exception:
        return 0


async def _until(read: Callable[[], Awaitable[int]], target: int, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while await read() < target:
            await asyncio.sleep(0.05)
