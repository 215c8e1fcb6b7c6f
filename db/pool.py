"""The asyncpg pool: jsonb decoded with orjson, sessions pinned to UTC, and no reset query on
release (we never leave session state behind, and the reset costs 10-28% of a simple read)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import asyncpg
import orjson
from asyncpg.pool import PoolConnectionProxy


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
    Conn = asyncpg.Connection[Any] | PoolConnectionProxy[Any]
else:
    _Connection = asyncpg.Connection
    Conn = asyncpg.Connection | PoolConnectionProxy


class _NoResetConnection(_Connection):
    """Skips asyncpg's per-release reset query. Safe because no code path leaves session state
    (no SET, LISTEN, temp tables or advisory session locks) on a pooled connection; LISTEN and
    leader election use dedicated connections outside the pool."""

    def get_reset_query(self) -> str:
        return ""


@dataclass(frozen=True)
class Timeouts:
    """How long the pool waits on PostgreSQL. ``statement_ms`` is the server's own statement_timeout
    (it cancels a slow query itself); ``command_ms`` bounds a statement on this side, for a server
    that stopped answering altogether (a network partition drops packets without a reset, and TCP
    then waits for minutes); ``acquire_ms`` bounds the wait for a free connection, so when every
    connection is stuck a request gets its 503 instead of queueing without end. Both client-side
    bounds surface as TimeoutError, which db.errors.from_database makes UNAVAILABLE."""

    statement_ms: int = 30_000
    command_ms: int = 35_000
    acquire_ms: int = 5_000


class _Pool(asyncpg.Pool):
    """asyncpg's pool with a default acquire timeout (asyncpg's default is to wait forever)."""

    def __init__(self, *args: Any, acquire_timeout: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._acquire_timeout = acquire_timeout

    def acquire(self, *, timeout: float | None = None) -> Any:
        return super().acquire(timeout=self._acquire_timeout if timeout is None else timeout)


async def create_pool(
    dsn: str, *, min_size: int = 1, max_size: int = 10, timeouts: Timeouts = Timeouts()
) -> asyncpg.Pool:
    """A pool for ``dsn`` with our codecs, server settings and timeouts."""
    pool = _Pool(
        dsn,
        acquire_timeout=timeouts.acquire_ms / 1000,
        min_size=min_size,
        max_size=max_size,
        max_queries=50_000,
        max_inactive_connection_lifetime=300.0,
        init=init_connection,
        connection_class=_NoResetConnection,
        record_class=asyncpg.Record,
        loop=None,
        command_timeout=timeouts.command_ms / 1000,
        server_settings={
            "TimeZone": "UTC",
            "application_name": "newsfacts",
            "statement_timeout": str(timeouts.statement_ms),
        },
    )
    await pool
    return pool


async def connect(dsn: str) -> asyncpg.Connection[Any]:
    """One standalone connection with the same codecs (CLI, migrations, listeners)."""
    conn: asyncpg.Connection[Any] = await asyncpg.connect(dsn, server_settings={"TimeZone": "UTC"})
    await init_connection(conn)
    return conn
