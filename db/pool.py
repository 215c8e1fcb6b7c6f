"""The asyncpg pool: jsonb decoded with orjson, sessions pinned to UTC, no reset query on release
(we never leave session state behind, and the reset costs 10-28% of a simple read), and every wait
on PostgreSQL bounded on this side (``Timeouts``), so a server that stops answering is an error
within seconds, never a request that hangs."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import asyncpg
import orjson
from asyncpg.pool import PoolAcquireContext, PoolConnectionProxy


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


async def init_connection(conn: asyncpg.Connection[Any]) -> None:
    """Codecs every connection needs: jsonb/json as Python objects via orjson."""
    for typename in ("jsonb", "json"):
        await conn.set_type_codec(typename, encoder=_dumps, decoder=orjson.loads, schema="pg_catalog")


# What db functions accept: a standalone connection or one acquired from the pool.
# asyncpg's classes are generic only in the stubs: subscripting them at run time raises TypeError.
if TYPE_CHECKING:
    _Connection = asyncpg.Connection[Any]
    _AcquireContext = PoolAcquireContext[Any]
    Conn = asyncpg.Connection[Any] | PoolConnectionProxy[Any]
else:
    _Connection = asyncpg.Connection
    _AcquireContext = PoolAcquireContext
    Conn = asyncpg.Connection | PoolConnectionProxy


@dataclass(frozen=True)
class Timeouts:
    """How long this process waits on PostgreSQL, in seconds (DB_ACQUIRE_TIMEOUT_S,
    DB_STATEMENT_TIMEOUT_S).

    ``statement_s`` bounds each statement. PostgreSQL's own statement_timeout is set a little
    shorter (``server_statement_ms``), so a healthy server cancels a slow statement itself (57014,
    and the connection stays usable); a server that stops answering — a hung process, a network
    partition that drops packets without a reset — cancels nothing and answers nothing, so this
    side stops waiting at ``statement_s`` (asyncpg's command_timeout) and drops the connection
    (``BoundedConnection``). ``acquire_s`` bounds the wait for a pool connection, opening a new one
    included. Both surface as TimeoutError, which db.errors.from_database makes UNAVAILABLE."""

    statement_s: float = 5.0
    acquire_s: float = 5.0

    @property
    def server_statement_ms(self) -> int:
        """PostgreSQL's statement_timeout: ``statement_s`` less a quarter second (a quarter of it
        when shorter), time for the server's cancellation to arrive before this side gives up."""
        margin = min(0.25, self.statement_s / 4)
        return max(1, round((self.statement_s - margin) * 1000))


@dataclass
class WaitCounts:
    """Waits this process gave up on (exported by api/metrics.py): acquisitions past ``acquire_s``,
    and statements abandoned — no answer within ``statement_s``, or their request was cancelled —
    each one closing its connection."""

    acquire: int = 0
    statement: int = 0


class BoundedConnection(_Connection):
    """A connection that never waits on an unresponsive server without a bound.

    - When a statement times out on this side (or its task is cancelled), asyncpg sends a
      CancelRequest over a second connection and keeps this one until the server acknowledges it;
      a transaction's ROLLBACK and the pool's release then wait for that acknowledgement, up to a
      bound each. A server that did not honour its own statement_timeout will not acknowledge a
      cancel either, so the connection is closed instead, at once: every later use fails fast
      ("connection is closed", UNAVAILABLE), nothing half-read is ever reused, and the pool opens
      a fresh connection when PostgreSQL answers again. On a healthy server the statement runs on
      until its statement_timeout, which PostgreSQL enforces itself.
    - Statements evicted from asyncpg's statement cache are closed on the server before the next
      new statement, with no timeout at all in asyncpg; here they get the statement bound.
    - No reset query on release: no code path leaves session state (no SET, LISTEN, temp tables
      or advisory session locks) on a pooled connection; LISTEN and leader election use dedicated
      connections outside the pool.

    These hooks override two private asyncpg methods (asyncpg 0.32); tests/api/test_hung_database.py
    fails if a later asyncpg stops calling them."""

    waits: WaitCounts | None = None  # the pool's counts (set by create_pool's init)

    def get_reset_query(self) -> str:
        return ""

    def _cancel_current_command(self, waiter: Any, cancel_waiter: Any = None) -> None:
        # Called by the protocol while it handles the timeout or cancellation: closing the transport
        # here would pull it from under the protocol, so on the next turn of the loop. terminate()
        # completes the cancellation waiters, so nothing waits for an acknowledgement.
        if self.waits is not None:
            self.waits.statement += 1
        self._loop.call_soon(self.terminate)  # type: ignore[attr-defined]

    async def _cleanup_stmts(self) -> None:
        async with asyncio.timeout(self._config.command_timeout):  # type: ignore[attr-defined]
            await super()._cleanup_stmts()  # type: ignore[misc]


class _Acquire(_AcquireContext):
    """``pool.acquire()`` that counts its timeouts."""

    __slots__ = ()

    async def __aenter__(self) -> Any:
        try:
            return await super().__aenter__()
        except TimeoutError:
            _count_acquire_timeout(self.pool)
            raise

    def __await__(self) -> Any:  # ``conn = await pool.acquire()``
        try:
            return (yield from super().__await__())
        except TimeoutError:
            _count_acquire_timeout(self.pool)
            raise


def _count_acquire_timeout(pool: Any) -> None:
    waits = getattr(pool, "waits", None)
    if waits is not None:
        waits.acquire += 1


class _Pool(asyncpg.Pool):
    """asyncpg's pool with a default acquire timeout (asyncpg's default is to wait forever) and
    counts of the waits it gave up on."""

    def __init__(self, *args: Any, acquire_timeout: float, waits: WaitCounts, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._acquire_timeout = acquire_timeout
        self.waits = waits

    def acquire(self, *, timeout: float | None = None) -> Any:
        return _Acquire(self, self._acquire_timeout if timeout is None else timeout)

    async def _acquire(self, timeout: float | None) -> Any:  # noqa: ASYNC109 (asyncpg's signature)
        # With a live connection of the pool's generation waiting, acquiring it never suspends:
        # nothing to bound, so no timeout, which asyncpg applies by running the acquisition in a
        # task of its own (about a tenth of a REST item read's Python). The timeout is still
        # recorded for release, as asyncpg records it.
        if timeout is not None and self._setup is None and self._ready():  # type: ignore[attr-defined]
            proxy = await super()._acquire(None)  # type: ignore[misc]
            proxy._holder._timeout = timeout
            return proxy
        return await super()._acquire(timeout)  # type: ignore[misc]

    def _ready(self) -> bool:
        """Whether the holder the pool's queue hands out next has a live connection of the
        current generation (asyncpg's queue prefers the last live one)."""
        queue = self._queue  # type: ignore[attr-defined]
        if queue is None or self._closing:  # type: ignore[attr-defined]
            return False
        for holder in reversed(queue._queue):
            if holder.is_connected():
                return bool(holder._generation == self._generation)  # type: ignore[attr-defined]
        return False

    async def release(self, connection: Any, *, timeout: float | None = None) -> None:  # noqa: ASYNC109 (asyncpg's signature)
        # A statement cancelled or timed out on this side has its connection terminated on the
        # next turn of the loop (BoundedConnection), which hands the holder back to the pool.
        # asyncpg's release runs its holder's part in a shielded task that starts a turn later,
        # after that, and would raise "release() called on a free connection holder" in place
        # of the CancelledError or TimeoutError that is unwinding: it is already released.
        try:
            if not self._released_now(connection):
                await super().release(connection, timeout=timeout)
        except asyncpg.exceptions.InternalClientError:
            if getattr(connection, "_con", None) is not None:
                raise

    def _released_now(self, proxy: Any) -> bool:
        """asyncpg's release of a connection that needs no round trip (idle, not cancelling, within
        its generation and query budget, no reset query), done here and now: asyncpg runs every
        release in a task of its own under a timeout, about a tenth of a REST item read's Python.
        False, having done nothing, for anything else, which asyncpg's own release handles. These
        are the steps of asyncpg 0.32's ``PoolConnectionHolder.release`` and ``Connection._reset``
        for that case; tests/db/test_pool_release.py checks the connection comes back clean."""
        if type(proxy) is not PoolConnectionProxy or not self._initialized or self._closed:  # type: ignore[attr-defined]
            return False
        internals: Any = proxy  # asyncpg's internals, untyped in its stubs
        holder, con = internals._holder, internals._con
        if con is None or holder._pool is not self or holder._in_use is None or con.is_closed():
            return False
        protocol = con._protocol
        if (
            protocol.queries_count >= holder._max_queries
            or holder._generation != self._generation
            or protocol._is_cancelling()
            or protocol.is_in_transaction()
            or con._top_xact is not None
            or self._reset is not None
            or con.get_reset_query()
        ):
            return False
        con._on_release()
        con._listeners.clear()
        con._log_listeners.clear()
        holder._timeout = None
        holder._release()
        holder._setup_inactive_callback()
        return True


def waits_of(pool: asyncpg.Pool) -> WaitCounts:
    """The WaitCounts of a pool made by create_pool (zeros for any other pool)."""
    found = getattr(pool, "waits", None)
    return found if isinstance(found, WaitCounts) else WaitCounts()


async def create_pool(
    dsn: str, *, min_size: int = 1, max_size: int = 10, timeouts: Timeouts = Timeouts()
) -> asyncpg.Pool:
    """A pool for ``dsn`` with our codecs, server settings and timeouts."""
    waits = WaitCounts()

    async def init(conn: asyncpg.Connection[Any]) -> None:
        if isinstance(conn, BoundedConnection):
            conn.waits = waits
        await init_connection(conn)

    pool = _Pool(
        dsn,
        acquire_timeout=timeouts.acquire_s,
        waits=waits,
        min_size=min_size,
        max_size=max_size,
        max_queries=50_000,
        max_inactive_connection_lifetime=300.0,
        init=init,
        connection_class=BoundedConnection,
        record_class=asyncpg.Record,
        loop=None,
        # Opening a connection outside acquire() (the pool's first min_size) is bounded too.
        timeout=timeouts.acquire_s,
        command_timeout=timeouts.statement_s,
        server_settings={
            "TimeZone": "UTC",
            "application_name": "newsfacts",
            "statement_timeout": str(timeouts.server_statement_ms),
        },
    )
    await pool
    return pool


async def connect(dsn: str, *, timeouts: Timeouts | None = None) -> asyncpg.Connection[Any]:
    """One standalone connection with the same codecs (CLI, migrations, listeners). With
    ``timeouts`` (the long-lived connections of the relay, the cache invalidator and the webhook
    worker's LISTEN), opening it and each statement are bounded as in the pool, so a server that
    stops answering is noticed and the connection replaced; without (migrations, the CLI), only
    opening it is, by asyncpg's default."""
    if timeouts is None:
        conn: asyncpg.Connection[Any] = await asyncpg.connect(dsn, server_settings={"TimeZone": "UTC"})
    else:
        conn = await asyncpg.connect(
            dsn,
            timeout=timeouts.acquire_s,
            command_timeout=timeouts.statement_s,
            connection_class=BoundedConnection,
            server_settings={"TimeZone": "UTC"},
        )
    await init_connection(conn)
    return conn
