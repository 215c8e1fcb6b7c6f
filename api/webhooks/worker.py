"""The ``newsfacts worker`` loop: a dispatcher that fans new outbox events out into deliveries (one
worker at a time, by the cursor row lock) and a delivery loop that leases due deliveries and sends
them concurrently, capped per endpoint so one slow endpoint never holds every slot."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time
from typing import Any

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
        self._in_flight: dict[asyncio.Task[None], webhooks.Claimed] = {}

    async def run(self, stop: asyncio.Event) -> None:
        """Work until ``stop`` is set; then finish (or give back) what is in flight."""
        listener = await self._listen()
        client = delivery.make_client(self.settings, max_connections=self.concurrency * 2)
        log.info("webhook worker %s started (concurrency %d)", self.name, self.concurrency)
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._dispatch_loop(stop))
                group.create_task(self._deliver_loop(stop, client))
        finally:
            await client.aclose()
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

    async def _deliver_loop(self, stop: asyncio.Event, client: Any) -> None:
        # Claims are serial, so claim in batches: with most slots busy, wait for a few more to free
        # (each finishing delivery wakes us) rather than paying a round trip per freed slot.
        batch = max(1, self.concurrency // 4)
        backoff = Backoff()
        while not stop.is_set():
            self._wake.clear()
            free = self.concurrency - len(self._in_flight)
            if 0 < free < batch and len(self._in_flight) >= batch:
                deadline = time.monotonic() + BATCH_WAIT_SECONDS
                while free < batch and not stop.is_set() and (left := deadline - time.monotonic()) > 0:
                    await _wait_any([self._wake, stop], left)
                    self._wake.clear()
                    free = self.concurrency - len(self._in_flight)
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
        await self._drain()

    def _endpoint_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for item in self._in_flight.values():
            counts[item.endpoint_id] = counts.get(item.endpoint_id, 0) + 1
        return counts

    def _done(self, task: asyncio.Task[None]) -> None:
        self._in_flight.pop(task, None)
        self._wake.set()  # a slot (and maybe the next event of that object) is free

    async def _deliver(self, item: webhooks.Claimed, client: Any) -> None:
        try:
            outcome = await delivery.attempt(client, item, self.settings)
        except Exception as exc:  # a bug must cost one attempt, not the delivery (it stays leased otherwise)
            log.exception("webhook delivery %s failed unexpectedly", item.id)
            delay = delivery.next_delay(self.settings, item.attempt_count + 1, None)
            outcome = webhooks.Outcome(False, None, 0, None, f"internal error: {type(exc).__name__}", delay)
        for tries in range(5):
            try:
                async with self.pool.acquire() as conn:
                    ours, disabled = await webhooks.record(
                        conn,
                        item,
                        outcome,
                        worker=self.name,
                        disable_after_seconds=self.settings.webhook_disable_after_hours * 3600.0,
                    )
                break
            except DB_ERRORS as exc:
                # The lease lapses if we never record: the delivery is retried, never lost.
                log.warning("recording webhook attempt %s failed (%s); try %d", item.id, exc, tries + 1)
                await asyncio.sleep(0.5 * 2**tries)
        else:
            return
        if not ours:
            log.warning(
                "webhook delivery %s: its lease lapsed or its endpoint was deleted before the attempt was recorded",
                item.id,
            )
        if disabled:
            log.warning("webhook endpoint %s disabled: %s", item.endpoint_id, disabled)

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
