"""Fixtures for the db tests: an empty database of its own (for migration tests) and row counts of
everything a write leaves behind (to prove a refused write left nothing)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import asyncpg
import pytest

from db.migrate import migrate
from db.pool import Conn, connect

WRITE_TABLES = ("actors", "articles", "claims", "deployments", "incidents", "revisions", "events")


def with_database(server_url: str, name: str) -> str:
    """``server_url`` pointing at database ``name`` instead."""
    base, _, query = server_url.partition("?")
    return f"{base.rsplit('/', 1)[0]}/{name}" + (f"?{query}" if query else "")


@contextlib.asynccontextmanager
async def scratch_database(server_url: str, *, template: str | None = None) -> AsyncIterator[str]:
    """A database of its own (empty, or a copy of ``template``), dropped when done; yields its URL."""
    name = f"nf_scratch_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    finally:
        await admin.close()
    try:
        yield with_database(server_url, name)
    finally:
        admin = await asyncpg.connect(server_url)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@pytest.fixture
async def empty_database(postgres_server_url: str) -> AsyncIterator[str]:
    """A brand-new database with no schema, dropped after the test."""
    async with scratch_database(postgres_server_url) as url:
        yield url


@pytest.fixture
async def migrated_conn(empty_database: str) -> AsyncIterator[Conn]:
    """A connection to a brand-new database with the schema migrated (and nothing else in it)."""
    connection = await connect(empty_database)
    try:
        await migrate(connection)
        yield connection
    finally:
        await connection.close()


async def table_counts(conn: Conn) -> dict[str, int]:
    """Rows in every table a write touches, plus the event counter."""
    counts = {t: int(await conn.fetchval(f"SELECT count(*) FROM {t}")) for t in WRITE_TABLES}
    counts["event_counter"] = int(await conn.fetchval("SELECT last FROM event_counter"))
    return counts


@pytest.fixture
def counts() -> Callable[[Conn], Coroutine[Any, Any, dict[str, int]]]:
    return table_counts
