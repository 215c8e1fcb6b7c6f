"""A read cancelled mid-statement (a client gone, a sibling GraphQL field failing, a shutdown)
unwinds as CancelledError, and a statement that times out on this side as TimeoutError: never as
asyncpg's "release() called on a free connection holder", which the pool's own release raised when
BoundedConnection had already terminated the connection and handed it back (seen as an INTERNAL
GraphQL error in the planner differential). The pool keeps serving afterwards."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from db.pool import Timeouts, create_pool

pytestmark = pytest.mark.anyio


async def _sleep_in_pool(pool: asyncpg.Pool, seconds: float) -> None:
    async with pool.acquire() as conn:
        await conn.fetchval("SELECT pg_sleep($1)", seconds)


async def test_a_cancelled_statement_unwinds_as_cancellation_and_the_pool_serves_on(pool: asyncpg.Pool) -> None:
    for _ in range(3):
        task = asyncio.create_task(_sleep_in_pool(pool, 10))
        await asyncio.sleep(0.3)  # inside the statement
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, timeout=10)
    assert await asyncio.wait_for(pool.fetchval("SELECT 41 + 1"), timeout=10) == 42


async def test_a_statement_past_its_bound_unwinds_as_timeout_and_the_pool_serves_on(database_url: str) -> None:
    pool = await create_pool(database_url, min_size=1, max_size=2, timeouts=Timeouts(statement_s=0.5, acquire_s=5))
    try:
        # PostgreSQL cancels it itself (57014) a quarter of the bound early, or this side gives up:
        # either way an error of its own kind, not the pool's internal one.
        with pytest.raises((TimeoutError, asyncpg.exceptions.QueryCanceledError)):
            await asyncio.wait_for(_sleep_in_pool(pool, 10), timeout=10)
        assert await asyncio.wait_for(pool.fetchval("SELECT 42"), timeout=10) == 42
    finally:
        await pool.close()
