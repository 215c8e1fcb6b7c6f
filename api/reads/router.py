"""Where a read runs: a streaming replica that is healthy, not lagging past REPLICA_MAX_LAG_MS and
(when the reader sent a consistency token) replayed past the reader's write — else the primary.

A monitor polls the primary's WAL position and every replica's replay position; a replica's lag
is how long ago the primary first went past what the replica has replayed. Choosing a replica
costs no round trip; only a reader with a token newer than every replica's known position waits,
at most REPLICA_WAIT_MS, on the freshest replica before going to the primary."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from api.reads.context import ReadContext, Token, current
from api.tasks import cancel_and_wait
from db import replication
from db.pool import Conn, Timeouts, create_pool

log = logging.getLogger("newsfacts.reads")

# What a replica that went away (stopped, restarted, network) raises: the read is then retried
# on the primary (api/reads/middleware.py). 40001 is a query cancelled by a replay conflict.
REPLICA_GONE: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.InterfaceError,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.SerializationError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.InternalClientError,  # a connection left mid-operation when its server went away
)
CONNECT_TIMEOUT = 1.0
HISTORY = 3_000  # primary WAL samples kept (10 minutes at the default poll interval)


@dataclass
class Replica:
    """One replica as this process sees it."""

    name: str
    url: str
    pool: asyncpg.Pool | None = None
    healthy: bool = False
    lsn: int = 0  # replay position at the last poll
    seq: int = 0  # event sequence visible at the last poll (read after the position)
    lag_ms: float = float("inf")
    reads: int = 0
    error: str | None = None


@dataclass
class ReadRouter:
    primary: asyncpg.Pool
    replicas: list[Replica] = field(default_factory=list)
    max_lag_ms: float = 2_000.0
    wait_ms: float = 250.0
    poll_seconds: float = 0.2
    timeouts: Timeouts = field(default_factory=Timeouts)
    pool_max: int = 10
    primary_reads: int = 0
    waits: int = 0
    # (monotonic time, primary WAL position) samples: the lag of a replica at position L is the age
    # of the first sample past L.
    samples: collections.deque[tuple[float, int]] = field(default_factory=lambda: collections.deque(maxlen=HISTORY))
    _task: asyncio.Task[None] | None = None
    _next: int = 0

    @classmethod
    def from_urls(cls, primary: asyncpg.Pool, urls: tuple[str, ...], **options: Any) -> ReadRouter:
        return cls(primary, [Replica(f"replica{i + 1}", url) for i, url in enumerate(urls)], **options)

    async def start(self) -> None:
        for replica in self.replicas:
            # min_size 0: a replica that is down at start-up never stops the app from starting.
            replica.pool = await create_pool(replica.url, min_size=0, max_size=self.pool_max, timeouts=self.timeouts)
        if self.replicas:
            await self.poll()
            self._task = asyncio.create_task(self._run(), name="replica-monitor")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        for replica in self.replicas:
            if replica.pool is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(replica.pool.close(), 5)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.poll_seconds)
            try:
                await self.poll()
            except asyncio.CancelledError:
                raise
            except Exception:  # the monitor must outlive any one failed round
                log.exception("replica poll failed")

    async def poll(self) -> None:
        """One round: the primary's position first, then each replica's (so a caught-up replica
        reads as lag 0, never as behind a sample taken after it)."""
        async with self.primary.acquire() as conn:
            lsn, _ = await replication.primary_position(conn)
        self.samples.append((time.monotonic(), lsn))
        await asyncio.gather(*(self._poll_replica(r) for r in self.replicas))

    async def _poll_replica(self, replica: Replica) -> None:
        assert replica.pool is not None
        conn: Any = None
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT):
                conn = await replica.pool.acquire()
                lsn, seq = await replication.replica_position(conn)
            await replica.pool.release(conn)
        except Exception as exc:  # down, refusing, promoted: skip it until it answers again
            await _discard(replica.pool, conn)
            if replica.healthy:
                log.warning("replica %s unavailable (%s); its reads go elsewhere", replica.name, exc)
            replica.healthy, replica.error, replica.lag_ms = False, str(exc) or type(exc).__name__, float("inf")
            return
        if not replica.healthy:
            log.info("replica %s available", replica.name)
        replica.healthy, replica.error = True, None
        replica.lsn, replica.seq = max(replica.lsn, lsn), max(replica.seq, seq)
        replica.lag_ms = self.lag_of(lsn)

    def lag_of(self, lsn: int) -> float:
        """Milliseconds since the primary first passed ``lsn`` (0 when nothing is missing)."""
        if not self.samples or lsn >= self.samples[-1][1]:
            return 0.0
        now = time.monotonic()
        for at, position in self.samples:
            if position > lsn:
                return (now - at) * 1000.0
        return (now - self.samples[0][0]) * 1000.0

    def usable(self, token: Token | None) -> list[Replica]:
        return [
            r
            for r in self.replicas
            if r.healthy and r.lag_ms <= self.max_lag_ms and (token is None or r.lsn >= token.lsn)
        ]

    def _pick(self, candidates: list[Replica]) -> Replica:
        self._next += 1
        return candidates[self._next % len(candidates)]

    def acquire(self) -> contextlib.AbstractAsyncContextManager[Conn]:
        """A connection for read-only work, chosen for this request's ReadContext."""
        ctx = current()
        if ctx.force_primary or not self.replicas:
            # Every read of a deployment without replicas comes this way: a plain object rather
            # than two nested generator context managers, which cost a twentieth of an item read.
            return _PrimaryRead(self, ctx)
        return self._routed(ctx)

    @contextlib.asynccontextmanager
    async def _routed(self, ctx: ReadContext) -> AsyncIterator[Conn]:
        conn, replica = await self._replica_connection(ctx)
        if conn is None or replica is None:
            async with self._primary(ctx) as conn:
                yield conn
            return
        assert replica.pool is not None
        try:
            yield conn
        except REPLICA_GONE:
            self._mark_down(replica, "connection lost during a read")
            ctx.replica_failed = True
            await _discard(replica.pool, conn)
            raise
        except asyncio.CancelledError:
            await _discard(replica.pool, conn)  # cancelled mid-statement: never hand this one out again
            raise
        else:
            with contextlib.suppress(Exception):
                await replica.pool.release(conn)

    @contextlib.asynccontextmanager
    async def _primary(self, ctx: ReadContext) -> AsyncIterator[Conn]:
        self.primary_reads += 1
        ctx.settle("primary", 0.0, None)
        async with self.primary.acquire() as conn:
            yield conn

    async def _replica_connection(self, ctx: ReadContext) -> tuple[Any, Replica | None]:
        token = ctx.token
        candidates = self.usable(token)
        waiting = False
        if not candidates and token is not None:
            # Behind the reader's write: wait on the freshest replica that may catch up in time.
            behind = [r for r in self.usable(None) if r.lag_ms <= self.wait_ms]
            if not behind:
                return None, None
            candidates, waiting = [max(behind, key=lambda r: r.lsn)], True
        if not candidates:
            return None, None
        replica = self._pick(candidates)
        assert replica.pool is not None
        try:
            conn = await replica.pool.acquire(timeout=CONNECT_TIMEOUT)
        except REPLICA_GONE as exc:
            self._mark_down(replica, str(exc) or type(exc).__name__)
            return None, None
        seq = replica.seq
        if waiting:
            assert token is not None
            reached = await self._wait_for(conn, token)
            if reached is None:
                await _discard(replica.pool, conn)
                return None, None
            seq = reached
        replica.reads += 1
        ctx.settle(replica.name, replica.lag_ms, seq)
        return conn, replica

    async def _wait_for(self, conn: Conn, token: Token) -> int | None:
        """The replica's visible event sequence once it has replayed ``token``; None past the bound."""
        self.waits += 1
        deadline = time.monotonic() + self.wait_ms / 1000.0
        try:
            while True:
                lsn, seq = await replication.replica_position(conn)
                if lsn >= token.lsn:
                    return seq
                if time.monotonic() >= deadline:
                    return None
                await asyncio.sleep(0.005)
        except REPLICA_GONE:
            return None

    def _mark_down(self, replica: Replica, why: str) -> None:
        # Until the next successful poll (REPLICA_POLL_MS) no read is routed to it.
        if replica.healthy:
            log.warning("replica %s failed a read (%s); reads go elsewhere until it answers a poll", replica.name, why)
        replica.healthy, replica.error = False, why

    async def write_token(self) -> Token:
        """The consistency token for a write that has just committed (read on the primary)."""
        async with self.primary.acquire() as conn:
            lsn, seq = await replication.primary_position(conn)
        return Token(lsn, seq)


class _PrimaryRead:
    """``ReadRouter._primary`` as a plain async context manager: counted and settled on entry."""

    __slots__ = ("acquiring", "ctx", "router")

    def __init__(self, router: ReadRouter, ctx: ReadContext) -> None:
        self.router = router
        self.ctx = ctx
        self.acquiring: Any = None

    async def __aenter__(self) -> Conn:
        self.router.primary_reads += 1
        self.ctx.settle("primary", 0.0, None)
        self.acquiring = self.router.primary.acquire()
        conn: Conn = await self.acquiring.__aenter__()
        return conn

    async def __aexit__(self, *exc: Any) -> None:
        await self.acquiring.__aexit__(*exc)


async def _discard(pool: asyncpg.Pool, conn: Any) -> None:
    """Closes a connection whose state is unknown (its server went away, or a statement on it was
    interrupted) and gives its slot back: the pool opens a fresh one when next needed."""
    if conn is None:
        return
    with contextlib.suppress(Exception):
        conn.terminate()
    with contextlib.suppress(Exception):
        await pool.release(conn)  # a closed connection's holder just returns to the pool
