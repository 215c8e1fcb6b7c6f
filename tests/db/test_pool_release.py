"""The pool's own acquire and release of an idle connection (db/pool.py: no task, no timeout, when
nothing can wait) hand connections back exactly as asyncpg's would: detached from the caller,
free of listeners, ready for the next one; and a connection that needs asyncpg's release (left in
a transaction, closed) still gets it."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from db.pool import create_pool

pytestmark = pytest.mark.anyio


async def test_an_idle_connection_comes_back_detached_and_serves_the_next_caller(database_url: str) -> None:
    pool = await create_pool(database_url, min_size=1, max_size=1)
    try:
        for n in range(50):  # one connection: each acquisition needs the previous release
            async with pool.acquire() as conn:
                assert await conn.fetchval("SELECT $1::int", n) == n
        with pytest.raises(asyncpg.InterfaceError, match="released back to the pool"):
            await conn.fetchval("SELECT 1")
        assert pool.get_idle_size() == 1
    finally:
        await pool.close()


async def test_a_waiting_caller_gets_the_connection_the_moment_it_is_released(database_url: str) -> None:
    pool = await create_pool(database_url, min_size=1, max_size=1)
    try:
        first = await pool.acquire()
        waiting = asyncio.create_task(pool.fetchval("SELECT 7"))
        await asyncio.sleep(0.05)
        assert not waiting.done()
        await pool.release(first)
        assert await asyncio.wait_for(waiting, timeout=5) == 7
    finally:
        await pool.close()


async def test_listeners_left_on_a_connection_are_dropped_on_release(database_url: str) -> None:
    pool = await create_pool(database_url, min_size=1, max_size=1)
    try:
        with pytest.warns(asyncpg.InterfaceWarning, match="listener"):  # asyncpg's own warning, kept
            async with pool.acquire() as conn:
                raw = conn._con  # the connection behind the proxy, as the pool keeps it
                await conn.add_listener("nf_test", lambda *_: None)
        assert not raw._listeners
        async with pool.acquire() as again:
            assert again._con is raw
    finally:
        await pool.close()


async def test_a_connection_left_in_a_transaction_is_rolled_back_before_reuse(database_url: str) -> None:
    pool = await create_pool(database_url, min_size=1, max_size=1)
    try:
        conn = await pool.acquire()
        await conn.execute("BEGIN")
        await conn.execute("CREATE TEMP TABLE nf_left (x int)")
        await pool.release(conn)
        async with pool.acquire() as again:
            assert not again.is_in_transaction()
            assert await again.fetchval("SELECT to_regclass('pg_temp.nf_left')") is None
    finally:
        await pool.close()
