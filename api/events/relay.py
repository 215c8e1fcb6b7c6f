"""The relay: publishes the outbox to a bounded Redis Stream in sequence order. Every server process
runs one, but only the holder of a PostgreSQL advisory lock (on a dedicated connection) is active;
the others retry every second and take over within seconds if the holder's process dies.

A server runs its relay on an event loop of its own, in a thread (``RelayThread``): on the app's
loop, each NOTIFY's wake-up, read and XADD waited behind the fan-out's turns, and under load that
wait was the largest hop from commit to delivery. The leader hands what it read to its own
process's broadcaster at once (``on_read``), so the local subscribers do not wait for the XADD and
the broadcaster's XREAD either; the other processes follow the stream as before."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import asyncpg
import redis.asyncio as aioredis
import uvloop
from redis.exceptions import RedisError, ResponseError

from api.events import wire
from api.tasks import cancel_and_wait
from db import events, idempotency
from db.pool import Timeouts, connect

log = logging.getLogger("newsfacts.relay")

# Arbitrary constant shared by every newsfacts process: "nfrely" in ASCII.
RELAY_LOCK_KEY = 0x6E6672656C79
BATCH = 500
# Events read (and handed over) but not yet published, at most: the reader waits beyond it.
MAX_UNPUBLISHED = 10 * BATCH
PRUNE_SECONDS = 600.0


class Relay:
    """Leader-elected publisher of ``events`` rows to the database's Redis Stream.

    Progress (the last published sequence) is stored in PostgreSQL; stream entry ids are
    ``<sequence>-0``, so Redis itself refuses a duplicate if a new leader republishes an event the
    old one published but had not yet recorded."""

    def __init__(
        self,
        database_url: str,
        redis: aioredis.Redis,
        *,
        maxlen: int,
        retention_days: int,
        retry_seconds: float = 1.0,
        prune_every_seconds: float = 3600.0,
        timeouts: Timeouts | None = None,
        on_read: Callable[[list[events.Envelope]], None] | None = None,
    ) -> None:
        self.database_url = database_url
        self.redis = redis
        self.maxlen = maxlen
        self.retention_days = retention_days
        self.retry_seconds = retry_seconds
        self.prune_every_seconds = prune_every_seconds
        # Each statement on the lock connection is bounded: a hung server fails the round, the
        # connection is dropped (so is the lock) and the relay contends again once it answers.
        self.timeouts = timeouts
        # Told each batch the leader read, in order, before it is published: committed events, so a
        # local broadcaster may deliver them at once (it skips what it already has, either way).
        self.on_read = on_read
        self.name = f"{socket.gethostname()}:{os.getpid()}"
        self.is_leader = False
        self.published = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="newsfacts-relay")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)

    async def run(self) -> None:
        while True:
            try:
                await self._contend()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a lost connection or database restart: contend again
                log.warning("relay %s lost its connection (%s); retrying", self.name, exc)
            self.is_leader = False
            await asyncio.sleep(self.retry_seconds)

    async def _contend(self) -> None:
        conn = await connect(self.database_url, timeouts=self.timeouts)
        try:
            while True:
                if await conn.fetchval("SELECT pg_try_advisory_lock($1)", RELAY_LOCK_KEY):
                    break
                await asyncio.sleep(self.retry_seconds)
            # The session lock lives as long as this connection: if this process dies, PostgreSQL
            # sees the socket close and releases it, and a waiting process takes over.
            self.is_leader = True
            await events.record_leader(conn, self.name)
            log.info("relay %s is now the leader", self.name)
            wake = asyncio.Event()

            def on_notify(*_: Any) -> None:
                wake.set()

            await conn.add_listener(events.NOTIFY_CHANNEL, on_notify)
            await self._lead(conn, wake)
        finally:
            self.is_leader = False
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), timeout=2.0)

    async def _lead(self, conn: asyncpg.Connection[Any], wake: asyncio.Event) -> None:
        """Read the outbox as NOTIFY says it grew, and hand each batch over at once; publishing it
        (the XADD, then the progress UPDATE) runs beside the reading, in order, in ``_publisher``:
        an event committed while a batch is being published is read without waiting for that."""
        stream = await events.stream_key(conn)
        self.published = await events.published_sequence(conn)
        read = self.published  # the highest sequence read and handed over
        unpublished: list[events.Envelope] = []
        more, room = asyncio.Event(), asyncio.Event()
        lock = asyncio.Lock()  # one statement at a time on the lock connection
        publisher = asyncio.create_task(self._publisher(conn, lock, stream, unpublished, more, room))
        next_prune = 0.0
        try:
            while True:
                wake.clear()
                # Reading runs ahead of publishing by a bounded amount (Redis down or slow): the
                # outbox keeps the rest, and the broadcasters read PostgreSQL meanwhile.
                if publisher.done():
                    publisher.result()  # its failure (the connection) ends this leadership too
                    raise RuntimeError("the relay's publisher ended")
                if len(unpublished) >= MAX_UNPUBLISHED:
                    room.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(room.wait(), timeout=self.retry_seconds)
                    continue
                async with lock:
                    rows = await events.envelopes_after(conn, read, limit=BATCH)
                if rows:
                    if self.on_read is not None:
                        self.on_read(rows)
                    read = rows[-1].sequence
                    unpublished.extend(rows)
                    more.set()
                    if len(rows) == BATCH:
                        continue
                if time.monotonic() >= next_prune:
                    async with lock:
                        await self._prune(conn)
                    next_prune = time.monotonic() + self.prune_every_seconds
                # NOTIFY wakes us at once; the timeout also checks the lock connection is alive.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), timeout=1.0)
        finally:
            await cancel_and_wait(publisher)

    async def _publisher(
        self,
        conn: asyncpg.Connection[Any],
        lock: asyncio.Lock,
        stream: str,
        unpublished: list[events.Envelope],
        more: asyncio.Event,
        room: asyncio.Event,
    ) -> None:
        """Publish what the reader read, in sequence order, and record the progress; while Redis
        cannot be reached, retry every ``retry_seconds`` (the outbox keeps everything meanwhile)."""
        redis_down = False
        while True:
            await more.wait()
            batch = unpublished[:BATCH]
            try:
                await self._publish(stream, batch)
            except (RedisError, OSError) as exc:
                if not redis_down:
                    log.warning("relay cannot reach Redis (%s); the outbox keeps events until it can", exc)
                redis_down = True
                await asyncio.sleep(self.retry_seconds)
                continue
            if redis_down:
                log.info("relay reached Redis again; catching up from sequence %d", self.published)
            redis_down = False
            del unpublished[: len(batch)]
            room.set()
            if not unpublished:
                more.clear()
            self.published = batch[-1].sequence
            async with lock:
                await events.record_published(conn, self.published)

    async def _publish(self, stream: str, rows: list[events.Envelope]) -> None:
        pipe = self.redis.pipeline(transaction=False)
        for row in rows:
            pipe.xadd(
                stream,
                wire.encode(row),
                id=f"{row.sequence}-0",
                maxlen=self.maxlen,
                approximate=True,
            )
        results = await pipe.execute(raise_on_error=False)
        for result in results:
            if isinstance(result, ResponseError) and "equal or smaller" in str(result):
                continue  # already published by a previous leader
            if isinstance(result, Exception):
                raise result

    async def _prune(self, conn: asyncpg.Connection[Any]) -> None:
        try:
            # Maintenance, not a request: a first prune after a long pause may delete for minutes.
            gone = await events.prune(
                conn, retention_days=self.retention_days, keep_after=self.published, statement_seconds=PRUNE_SECONDS
            )
            keys = await idempotency.prune(conn, statement_seconds=PRUNE_SECONDS)
        except asyncpg.PostgresError as exc:
            log.warning("pruning failed: %s", exc)
            return
        if gone or keys:
            log.info("pruned %d events older than %d days and %d idempotency keys", gone, self.retention_days, keys)


class RelayThread:
    """A Relay on an event loop of its own, in a daemon thread of this process: its NOTIFY wake-up,
    read and XADD do not wait for the app's loop, which a burst of deliveries keeps busy. ``make``
    builds the Relay in that thread, so its Redis client (and every connection) belongs to that
    loop. The leader's advisory lock is still held by a connection of this process: if the process
    dies, the lock goes with it, as before."""

    def __init__(self, make: Callable[[], Relay]) -> None:
        self._make = make
        self._relay: Relay | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None

    @property
    def is_leader(self) -> bool:
        return self._relay is not None and self._relay.is_leader

    @property
    def published(self) -> int:
        return self._relay.published if self._relay is not None else 0

    def start(self) -> None:
        started = threading.Event()
        failed: list[BaseException] = []

        async def main() -> None:
            try:
                relay = self._relay = self._make()
                self._loop = asyncio.get_running_loop()
                self._stop = asyncio.Event()
                relay.start()
            except BaseException as exc:
                failed.append(exc)
                raise
            finally:
                started.set()
            try:
                await self._stop.wait()
            finally:
                await relay.stop()
                with contextlib.suppress(Exception):
                    await relay.redis.aclose()

        def run() -> None:
            try:
                with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
                    runner.run(main())
            except Exception:
                log.exception("the relay's thread ended")

        self._thread = threading.Thread(target=run, name="newsfacts-relay", daemon=True)
        self._thread.start()
        started.wait()  # a loop and a task: milliseconds
        if failed:
            raise failed[0]

    async def stop(self) -> None:
        """Stop the relay (releasing leadership at once: its connection closes) and its thread."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None:
            with contextlib.suppress(RuntimeError):  # its loop already ended
                loop.call_soon_threadsafe(stop.set)
        await asyncio.to_thread(thread.join, 10.0)
