"""Keeps the response cache in step with the event log. Each process LISTENs for committed events
(PostgreSQL NOTIFY, with a one-second poll as a backstop), bumps the tags of every new event in its
local tier, and brings Redis' tag versions up to date through a shared watermark — catching up
whatever Redis missed while it was down. PostgreSQL's outbox is the source, so writes made by any
process, the CLI or a bulk load invalidate alike."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from redis.exceptions import RedisError

from api.cache.store import ResponseCache
from api.cache.tags import event_tags
from api.tasks import cancel_and_wait
from db import events
from db.pool import Timeouts, connect

log = logging.getLogger("newsfacts.cache")

BATCH = 5_000


class Invalidator:
    def __init__(
        self, cache: ResponseCache, database_url: str, *, poll_seconds: float = 1.0, timeouts: Timeouts | None = None
    ) -> None:
        self.cache = cache
        self.database_url = database_url
        self.timeouts = timeouts  # bounded waits: a hung server fails a round, which reconnects
        self.poll_seconds = poll_seconds
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._conn: Any = None
        # One statement at a time on the dedicated connection: the loop and catch_up() share it.
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        self._conn = await connect(self.database_url, timeouts=self.timeouts)
        await self._conn.add_listener(events.NOTIFY_CHANNEL, lambda *_: self._wake.set())
        # Entries are only ever computed after this point, so older events cannot concern them.
        self.cache.applied_seq = await events.last_sequence(self._conn)
        self.cache.enabled = True
        self._task = asyncio.create_task(self._run(), name="cache-invalidator")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.close()

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_seconds)
            self._wake.clear()
            try:
                async with self._lock:
                    await self.apply_new()
                    await self.sync_redis()
            except asyncio.CancelledError:
                raise
            except Exception:  # keep invalidating whatever one round's failure was
                log.exception("cache invalidation round failed")
                await self._reconnect()

    async def catch_up(self) -> None:
        """Apply every committed event now (read-your-writes: called before a write's response
        leaves, so this process never serves what that write replaced)."""
        async with self._lock:
            await self.apply_new()

    async def _reconnect(self) -> None:
        with contextlib.suppress(Exception):
            if self._conn is not None and self._conn.is_closed():
                self._conn = await connect(self.database_url, timeouts=self.timeouts)
                await self._conn.add_listener(events.NOTIFY_CHANNEL, lambda *_: self._wake.set())

    async def _events_after(self, after: int, upto: int | None = None) -> list[Any]:
        rows: list[Any] = await self._conn.fetch(
            """SELECT sequence, type, object_type, object_id FROM events
               WHERE sequence > $1 AND ($2::bigint IS NULL OR sequence <= $2)
               ORDER BY sequence LIMIT $3""",
            after,
            upto,
            BATCH,
        )
        return rows

    async def apply_new(self) -> None:
        """Bump local tag versions for every event past the applied sequence."""
        while True:
            rows = await self._events_after(self.cache.applied_seq)
            if not rows:
                return
            for row in rows:
                self.cache.bump_local(event_tags(row["object_type"], row["object_id"], row["type"]), row["sequence"])
            self.cache.applied_seq = rows[-1]["sequence"]

    async def sync_redis(self) -> None:
        """Bring Redis' tag versions up to the applied sequence (all processes may do this; it is idempotent)."""
        try:
            watermark = await self.cache.redis_watermark()
        except (RedisError, OSError):
            return  # Redis is down: its tier is not consulted; we catch up when it returns
        target = self.cache.applied_seq
        if watermark is None:
            with contextlib.suppress(RedisError, OSError):
                await self.cache.reset_redis(target)
            return
        while watermark < target:
            rows = await self._events_after(watermark, target)
            if not rows:
                break
            versions: dict[str, int] = {}
            for row in rows:
                for tag in event_tags(row["object_type"], row["object_id"], row["type"]):
                    versions[tag] = row["sequence"]
            try:
                await self.cache.bump_redis(versions, rows[-1]["sequence"])
            except (RedisError, OSError):
                return
            watermark = rows[-1]["sequence"]
