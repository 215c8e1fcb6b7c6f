"""A two-tier response cache: a bounded in-process LRU in front of Redis, invalidated by tag versions.

Every entry records the event-log sequence its process had applied when the response began
computing (``seq``) and the tags it depends on (fact ids, ``list:<kind>`` families). Each event
bumps its tags' versions to the event's sequence. An entry is served only if none of its tags has
been bumped past its ``seq`` — so a response computed before a write can never outlive it, even
if it is stored after the invalidation ran (the classic set-after-invalidate race)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass

import orjson
import redis.asyncio as aioredis
from redis.exceptions import RedisError

log = logging.getLogger("newsfacts.cache")

PREFIX = "nf:c:"  # entries
TAG_PREFIX = "nf:t:"  # tag versions
WATERMARK = "nf:cache:seq"  # the event sequence through which Redis' tag versions are complete
FLOOR = "nf:cache:floor"  # entries computed before this sequence are refused (set when Redis lost its watermark)


@dataclass(frozen=True)
class Entry:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    tags: frozenset[str]
    seq: int

    def meta(self) -> bytes:
        return orjson.dumps([self.status, self.headers])

    @functools.cached_property
    def raw_headers(self) -> list[tuple[bytes, bytes]]:
        """The headers as ASGI wants them, encoded once per entry rather than once per hit."""
        return [(k.encode("latin-1"), v.encode("latin-1")) for k, v in self.headers]


# Returns the entry only if Redis' tag versions are complete through the caller's applied sequence
# (ARGV[2]; otherwise bumps may be missing, e.g. after a Redis outage) and no tag of the entry was
# bumped past the entry's seq. One round trip.
_GET_VALID = """
local w = redis.call('GET', KEYS[2])
if (not w) or tonumber(w) < tonumber(ARGV[2]) then return nil end
local e = redis.call('HMGET', KEYS[1], 'seq', 'tags', 'meta', 'body')
if not e[1] then return nil end
local seq = tonumber(e[1])
local floor = redis.call('GET', KEYS[3])
if floor and seq < tonumber(floor) then return nil end
if e[2] ~= '' then
  for tag in string.gmatch(e[2], '%S+') do
    local v = redis.call('GET', ARGV[1] .. tag)
    if v and tonumber(v) > seq then return nil end
  end
end
return {e[2], e[3], e[4], e[1]}
"""

# KEYS[1] is the watermark, KEYS[2..] tags with versions ARGV[2..]; ARGV[1] the TTL of tag keys (longer
# than any entry's) and ARGV[#ARGV] the new watermark. Versions and the watermark only ever rise.
_BUMP = """
local ttl = ARGV[1]
for i = 2, #KEYS do
  local v = redis.call('GET', KEYS[i])
  if (not v) or tonumber(v) < tonumber(ARGV[i]) then
    redis.call('SET', KEYS[i], ARGV[i], 'EX', ttl)
  end
end
local w = redis.call('GET', KEYS[1])
if (not w) or tonumber(w) < tonumber(ARGV[#ARGV]) then
  redis.call('SET', KEYS[1], ARGV[#ARGV])
end
return #KEYS - 1
"""


class LocalTier:
    """The in-process LRU, with its own tag versions. When tag versions must be evicted to stay
    bounded, ``floor`` rises to the highest evicted version: older entries are then refused, which
    can only turn a hit into a miss, never serve something stale."""

    def __init__(self, max_entries: int = 2_000, max_tags: int = 200_000) -> None:
        self.entries: OrderedDict[str, tuple[Entry, float]] = OrderedDict()
        self.tag_versions: OrderedDict[str, int] = OrderedDict()
        self.floor = 0
        self.max_entries = max_entries
        self.max_tags = max_tags

    def valid(self, entry: Entry) -> bool:
        if entry.seq < self.floor:
            return False
        versions = self.tag_versions
        return all(versions.get(tag, 0) <= entry.seq for tag in entry.tags)

    def get(self, key: str) -> Entry | None:
        item = self.entries.get(key)
        if item is None:
            return None
        entry, expires = item
        if expires < time.monotonic() or not self.valid(entry):
            del self.entries[key]
            return None
        self.entries.move_to_end(key)
        return entry

    def put(self, key: str, entry: Entry, ttl: float) -> None:
        if not self.valid(entry):
            return
        self.entries[key] = (entry, time.monotonic() + ttl)
        self.entries.move_to_end(key)
        while len(self.entries) > self.max_entries:
            self.entries.popitem(last=False)

    def bump(self, tags: Iterable[str], seq: int) -> None:
        versions = self.tag_versions
        for tag in tags:
            if versions.get(tag, 0) < seq:
                versions[tag] = seq
                versions.move_to_end(tag)
        while len(versions) > self.max_tags:
            _, evicted = versions.popitem(last=False)
            self.floor = max(self.floor, evicted)

    def clear(self) -> None:
        self.entries.clear()


class ResponseCache:
    """Both tiers. Redis errors degrade to the local tier (and to misses): never to a failed request."""

    def __init__(self, redis: aioredis.Redis, *, ttl: float = 300.0, local: LocalTier | None = None) -> None:
        self.redis = redis
        self.ttl = ttl
        self.local = local or LocalTier()
        self._get_valid = redis.register_script(_GET_VALID)
        self._bump = redis.register_script(_BUMP)
        self.redis_ok = True
        # The event sequence this process has applied to its local tag versions (the invalidator's).
        self.applied_seq = 0
        self.enabled = False  # until the invalidator has caught up once
        self.hits = {"local": 0, "redis": 0}
        self.misses = 0
        self._inflight: dict[str, asyncio.Future[Entry | None]] = {}

    async def get(self, key: str, *, min_seq: int = 0) -> tuple[Entry | None, str]:
        """The valid entry for ``key`` and the tier it came from ("local", "redis" or "miss").
        ``min_seq`` (from a reader's consistency token): entries computed before that event
        sequence may predate the reader's own write and are not served to it."""
        entry = self._local(key, min_seq)
        if entry is not None:
            return entry, "local"
        try:
            found = await self._get_valid(keys=[PREFIX + key, WATERMARK, FLOOR], args=[TAG_PREFIX, self.applied_seq])
            self.redis_ok = True
        except (RedisError, OSError) as exc:
            self._redis_failed(exc)
            found = None
        if found:
            tags_raw, meta, body, seq = found
            status, headers = orjson.loads(meta)
            tags = frozenset(tags_raw.decode().split()) if tags_raw else frozenset()
            entry = Entry(status, tuple((k, v) for k, v in headers), bytes(body), tags, int(seq))
            # The Redis copy was valid against Redis' tag versions; the local tier may know newer ones.
            if self.local.valid(entry) and entry.seq >= min_seq:
                self.local.put(key, entry, self.ttl)
                self.hits["redis"] += 1
                return entry, "redis"
        return None, "miss"

    def _local(self, key: str, min_seq: int) -> Entry | None:
        """The local tier's valid entry for ``key``, counted as a hit; None if there is none."""
        entry = self.local.get(key)
        if entry is None or entry.seq < min_seq:
            return None  # an older one is kept for other readers: it is valid, only older than this one's write
        self.hits["local"] += 1
        return entry

    async def put(self, key: str, entry: Entry) -> None:
        self.local.put(key, entry, self.ttl)
        if not self.local.valid(entry):
            return
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.hset(
                    PREFIX + key,
                    mapping={
                        "seq": entry.seq,
                        "tags": " ".join(sorted(entry.tags)),
                        "meta": entry.meta(),
                        "body": entry.body,
                    },
                )
                pipe.expire(PREFIX + key, int(self.ttl))
                await pipe.execute()
            self.redis_ok = True
        except (RedisError, OSError) as exc:
            self._redis_failed(exc)

    def bump_local(self, tags: Iterable[str], seq: int) -> None:
        self.local.bump(tags, seq)

    async def redis_watermark(self) -> int | None:
        value = await self.redis.get(WATERMARK)
        return int(value) if value is not None else None

    async def reset_redis(self, seq: int) -> None:
        """Redis lost its watermark, so its tag versions cannot be trusted: refuse every entry
        computed before ``seq`` and start the watermark there."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(FLOOR, seq)
            pipe.set(WATERMARK, seq)
            await pipe.execute()

    async def bump_redis(self, versions: dict[str, int], watermark: int) -> None:
        """Raise Redis' tag versions and its watermark; raises on Redis errors (the caller retries)."""
        tags = list(versions)
        await self._bump(
            keys=[WATERMARK, *(TAG_PREFIX + t for t in tags)],
            args=[int(self.ttl) + 60, *(versions[t] for t in tags), watermark],
        )
        self.redis_ok = True

    def _redis_failed(self, exc: BaseException) -> None:
        if self.redis_ok:
            log.warning("redis unavailable for the cache (%s); serving from the local tier and PostgreSQL", exc)
        self.redis_ok = False

    async def lookup(self, key: str, *, wait: float = 5.0, min_seq: int = 0) -> tuple[Entry | None, str]:
        """``get``, and on a miss that another request of this process is already computing, that
        request's result (tier "shared") — waiting at most ``wait`` seconds for it. A plain miss
        makes the caller the computing leader: it must call ``finish_flight`` when done."""
        entry, tier = await self.get(key, min_seq=min_seq)
        if entry is not None:
            return entry, tier
        pending = self._inflight.get(key)
        if pending is None:
            # The Redis read above gave the loop away: a leader may have stored this key and left
            # the flight meanwhile, and its entry is local now. Without this look, a second caller
            # would compute it again.
            entry = self._local(key, min_seq)
            if entry is not None:
                return entry, "local"
            self.misses += 1
            self._inflight[key] = asyncio.get_running_loop().create_future()
            return None, "miss"
        with contextlib.suppress(TimeoutError):
            entry = await asyncio.wait_for(asyncio.shield(pending), wait)
        if entry is not None and entry.seq >= min_seq:
            return entry, "shared"
        # The leader failed or stored nothing: compute alone, without claiming the flight.
        self.misses += 1
        return None, "miss-after-wait"

    def finish_flight(self, key: str, entry: Entry | None) -> None:
        pending = self._inflight.pop(key, None)
        if pending is not None and not pending.done():
            pending.set_result(entry)
