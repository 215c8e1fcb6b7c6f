"""The ``newsfacts worker`` loop: a dispatcher that fans new outbox events out into deliveries (one
worker at a time, by the cursor row lock), a delivery loop that leases due deliveries in batches
(one statement) and sends them concurrently over pooled keep-alive connections, capped per endpoint
so one slow endpoint never holds every slot, and a recorder that stores finished attempts in
batches (one statement per flush). A delivery stays leased until its outcome is recorded, so a
worker killed between sending and recording only causes those deliveries to be sent again."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time
from typing import Any

import aiohttp
import asyncpg

from api.settings import Settings
from api.webhooks import delivery, keyring
from db import webhooks
from db.events import NOTIFY_CHANNEL
from db.pool import connect

log = logging.getLogger("newsfacts.webhooks")

POLL_SECONDS = 1.0  # upper bound on any wait, so a lost NOTIFY only delays work by this much
DISPATCH_BATCH = 1000
LEASE_MARGIN_SECONDS = 5.0
BLOCKED_POLL_SECONDS = 0.25
BATCH_WAIT_SECONDS = 0.02
RESEAL_EVERY_SECONDS = 5.0
# After an attempt could not even connect (refused, unresolvable, an address the guard refuses), this
# worker claims none of that endpoint's other deliveries for this long (or until that delivery's own
# retry, if sooner). Without it, every due delivery of a dead endpoint was claimed, failed at once
# and recorded, as fast as slots freed: in the bench's refusing case 300 such attempts (about 0.5-0.7
# ms of worker CPU each, a new connection and an exception) cost the healthy endpoints 7-10% more
# worker CPU per delivery. Paused, a dead endpoint costs a few attempts a second per worker.
UNREACHABLE_PAUSE_SECONDS = 1.0
# While the database is away, each loop waits longer between tries (doubling up to this cap) instead
# of logging and retrying every poll: a restart takes seconds, a failover maybe a minute.
OUTAGE_BACKOFF_MAX_SECONDS = 10.0
# What an outage raises from asyncpg: refused/reset sockets (OSError, TimeoutError), a connection
# closed under a query (InterfaceError), shutdown SQLSTATEs (PostgresError).
DB_ERRORS = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError)


class Backoff:
    """Seconds to wait after the n-th failure in a row: 0.5, 1, 2 … capped; a success resets it."""

    def __init__(self, cap: float = OUTAGE_BACKOFF_MAX_SECONDS) -> None:
        self.cap = cap
        self.failures = 0

    def failed(self) -> float:
        self.failures += 1
        return float(min(self.cap, 0.25 * 2.0**self.failures))

    def succeeded(self) -> None:
        self.failures = 0


class Worker:
    """One worker process's share of webhook work; run any number of them against one database."""

    def __init__(self, settings: Settings, pool: asyncpg.Pool, dsn: str, *, concurrency: int | None = None) -> None:
        self.settings = settings
        self.pool = pool
        self.dsn = dsn
        self.concurrency = max(1, concurrency or settings.webhook_concurrency)
        self.name = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self.lease_seconds = settings.webhook_timeout_ms / 1000 + LEASE_MARGIN_SECONDS
        self.box = keyring.secret_box(settings)
        try:
            delivery.schedule(settings)
        except ValueError:
            raise ValueError(
                f"WEBHOOK_RETRY_SCHEDULE must be seconds, comma-separated: {settings.webhook_retry_schedule}"
            ) from None
        self._new_events = asyncio.Event()
        self._wake = asyncio.Event()
        self.batch_size = max(1, settings.webhook_batch_size)
        self.flush_seconds = max(0, settings.webhook_flush_ms) / 1000
        self._in_flight: dict[asyncio.Task[None], webhooks.Claimed] = {}
        # Endpoints this worker just failed to connect to, and until when (monotonic) it leaves them be.
        self._paused: dict[str, float] = {}
        # Finished attempts not yet recorded, in the order they finished; their deliveries stay leased.
        self._finished: list[tuple[webhooks.Claimed, webhooks.Outcome]] = []
        self._finished_ready = asyncio.Event()
        self._delivering = True

    async def run(self, stop: asyncio.Event) -> None:
        """Work until ``stop`` is set; then finish (or give back) what is in flight."""
        listener = await self._listen()
        client = delivery.make_client(self.settings, max_connections=self.concurrency * 2)
        log.info("webhook worker %s started (concurrency %d)", self.name, self.concurrency)
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._dispatch_loop(stop))
                group.create_task(self._deliver_loop(stop, client))
                group.create_task(self._record_loop())
        finally:
            await client.close()
            if listener is not None:
                with contextlib.suppress(Exception):
                    await listener.close()

    async def _listen(self) -> asyncpg.Connection[Any] | None:
        # A dedicated connection: LISTEN state must not leak into pooled connections.
        try:
            conn = await connect(self.dsn, timeouts=self.settings.db_timeouts)
            await conn.add_listener(NOTIFY_CHANNEL, lambda *_: self._new_events.set())
            await conn.add_listener(webhooks.WAKE_CHANNEL, lambda *_: self._wake.set())
            return conn
        except DB_ERRORS as exc:
            log.warning("webhook worker cannot LISTEN (%s); polling every %.1f s", exc, POLL_SECONDS)
            return None

    async def _dispatch_loop(self, stop: asyncio.Event) -> None:
        backoff = Backoff()
        resealed_at = 0.0
        while not stop.is_set():
            self._new_events.clear()
            wait = POLL_SECONDS
            try:
                async with self.pool.acquire() as conn:
                    consumed = await webhooks.dispatch(conn, batch=DISPATCH_BATCH)
                    if time.monotonic() - resealed_at > RESEAL_EVERY_SECONDS:
                        # Endpoints written without the keyring (GraphQL for now, rows from before
                        # migration 0005) are sealed within seconds.
                        await webhooks.reseal(conn, self.box, only_unsealed=True)
                        resealed_at = time.monotonic()
                backoff.succeeded()
            except DB_ERRORS as exc:
                wait = backoff.failed()
                log.warning("webhook dispatch failed (%s: %s); next try in %.1f s", type(exc).__name__, exc, wait)
                consumed = 0
            if consumed:
                self._wake.set()
            if consumed == DISPATCH_BATCH:
                continue
            await _wait_any([self._new_events, stop], wait)

    def _free_slots(self) -> int:
        # Outcomes waiting to be recorded hold no connection, but past a concurrency's worth (the
        # database is slow or away) they stop new claims: the backlog of unrecorded work stays bounded.
        return min(
            self.batch_size, self.concurrency - len(self._in_flight) - max(0, len(self._finished) - self.concurrency)
        )

    async def _deliver_loop(self, stop: asyncio.Event, client: aiohttp.ClientSession) -> None:
        try:
            await self._deliver_until(stop, client)
            await self._drain()
        finally:
            self._delivering = False
            self._finished_ready.set()

    async def _deliver_until(self, stop: asyncio.Event, client: aiohttp.ClientSession) -> None:
        # Claims are serial, so claim in batches: with most slots busy, wait for a few more to free
        # (each finishing delivery wakes us) rather than paying a round trip per freed slot.
        batch = max(1, min(self.batch_size, self.concurrency // 4))
        backoff = Backoff()
        while not stop.is_set():
            self._wake.clear()
            free = self._free_slots()
            if 0 < free < batch and len(self._in_flight) >= batch:
                deadline = time.monotonic() + BATCH_WAIT_SECONDS
                while free < batch and not stop.is_set() and (left := deadline - time.monotonic()) > 0:
                    await _wait_any([self._wake, stop], left)
                    self._wake.clear()
                    free = self._free_slots()
            claimed: list[webhooks.Claimed] = []
            wait = POLL_SECONDS
            if free > 0:
                try:
                    async with self.pool.acquire() as conn:
                        claimed = await webhooks.claim(
                            conn,
                            self.box,
                            worker=self.name,
                            limit=free,
                            lease_seconds=self.lease_seconds,
                            in_flight=self._endpoint_counts(),
                            per_endpoint=max(1, self.settings.webhook_endpoint_concurrency),
                        )
                        if not claimed:
                            due = await webhooks.seconds_until_due(conn)
                            # Due but not claimable means blocked (endpoint at its cap, an earlier event
                            # of the object in flight): a finishing task wakes us, so poll only gently.
                            if due is not None:
                                wait = min(POLL_SECONDS, due) if due > 0.005 else BLOCKED_POLL_SECONDS
                    backoff.succeeded()
                except DB_ERRORS as exc:
                    wait = backoff.failed()
                    log.warning("webhook claim failed (%s: %s); next try in %.1f s", type(exc).__name__, exc, wait)
            for item in claimed:
                task = asyncio.create_task(self._deliver(item, client))
                self._in_flight[task] = item
                task.add_done_callback(self._done)
            if claimed:
                continue  # there may be more due: claim until the slots are full or nothing is claimable
            await _wait_any([self._wake, stop], wait)

    def _endpoint_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for item in self._in_flight.values():
            counts[item.endpoint_id] = counts.get(item.endpoint_id, 0) + 1
        if self._paused:
            # A paused endpoint counts as full: the claim skips it like one at its cap.
            now = time.monotonic()
            self._paused = {e: until for e, until in self._paused.items() if until > now}
            cap = max(1, self.settings.webhook_endpoint_concurrency)
            counts.update(dict.fromkeys(self._paused, cap))
        return counts

    def _done(self, task: asyncio.Task[None]) -> None:
        self._in_flight.pop(task, None)
        self._wake.set()  # a slot (and maybe the next event of that object) is free

    async def _deliver(self, item: webhooks.Claimed, client: aiohttp.ClientSession) -> None:
        try:
            outcome = await delivery.attempt(client, item, self.settings)
        except Exception as exc:  # a bug must cost one attempt, not the delivery (it stays leased otherwise)
            log.exception("webhook delivery %s failed unexpectedly", item.id)
            delay = delivery.next_delay(self.settings, item.attempt_count + 1, None)
            outcome = webhooks.Outcome(False, None, 0, None, f"internal error: {type(exc).__name__}", delay)
        if outcome.unreachable:
            retry = outcome.retry_in_seconds
            pause = UNREACHABLE_PAUSE_SECONDS if retry is None else min(UNREACHABLE_PAUSE_SECONDS, retry)
            self._paused[item.endpoint_id] = time.monotonic() + pause
        self._finished.append((item, outcome))
        self._finished_ready.set()

    async def _record_loop(self) -> None:
        """Store finished attempts, a batch per statement: wait up to WEBHOOK_FLUSH_MS after the first
        for others to join it (or until a batch is full). Until its outcome is stored a delivery stays
        leased; if it never is (the database stays away past the lease, or the worker dies), the
        lease lapses and the delivery is sent again: at least once, never lost."""
        backoff = Backoff()
        solo = 0  # after a batch the database refused as data: record one at a time for this many
        while self._delivering or self._finished:
            if not self._finished:
                self._finished_ready.clear()
                await self._finished_ready.wait()
                continue
            if self._delivering and len(self._finished) < self.batch_size and self.flush_seconds:
                await asyncio.sleep(self.flush_seconds)
            batch = self._finished[: 1 if solo else self.batch_size]
            try:
                async with self.pool.acquire() as conn:
                    done = await webhooks.record_many(
                        conn,
                        batch,
                        worker=self.name,
                        disable_after_seconds=self.settings.webhook_disable_after_hours * 3600.0,
                    )
            except asyncpg.DataError as exc:
                # Not an outage: something in these outcomes cannot be stored. Find it one at a time
                # and leave it unrecorded (its lease lapses and it is sent again), never the batch.
                if len(batch) > 1:
                    solo = len(batch)
                    continue
                log.error("webhook attempt %s cannot be recorded (%s: %s)", batch[0][0].id, type(exc).__name__, exc)
                del self._finished[:1]
                solo = max(0, solo - 1)
                continue
            except DB_ERRORS as exc:
                wait = backoff.failed()
                log.warning(
                    "recording %d webhook attempts failed (%s: %s); next try in %.1f s",
                    len(batch), type(exc).__name__, exc, wait,
                )  # fmt: skip
                if not self._delivering and backoff.failures >= 5:
                    return  # shutting down: their leases lapse and they are sent again
                await asyncio.sleep(wait)
                continue
            backoff.succeeded()
            del self._finished[: len(batch)]
            solo = max(0, solo - 1)
            self._wake.set()  # an object's next event may be claimable now
            lapsed = [c.id for c, _ in batch if c.id not in done.ours and c.id not in done.gone]
            if lapsed:
                log.warning(
                    "webhook deliveries %s: their lease lapsed before the attempt was recorded", ", ".join(lapsed[:10])
                )
            for endpoint_id, reason in done.disabled.items():
                log.warning("webhook endpoint %s disabled: %s", endpoint_id, reason)

    async def _drain(self) -> None:
        """On shutdown: let attempts in flight finish briefly, then give back the leases of the rest."""
        if not self._in_flight:
            return
        tasks = list(self._in_flight)
        _, pending = await asyncio.wait(tasks, timeout=min(5.0, self.settings.webhook_timeout_ms / 1000))
        for task in pending:
            task.cancel()
        ids = [self._in_flight[t].id for t in pending if t in self._in_flight]
        await asyncio.gather(*pending, return_exceptions=True)
        if ids:
            with contextlib.suppress(*DB_ERRORS):
                async with self.pool.acquire() as conn:
                    await webhooks.release(conn, ids, self.name)


async def _wait_any(events: list[asyncio.Event], seconds: float) -> None:
    """Return when any of ``events`` is set or after ``seconds``."""
    waiters = [asyncio.create_task(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()
