"""Migrations: applied once on an empty database, idempotent on re-run, race-free between two
concurrent starters, and refused when an applied migration has changed."""

from __future__ import annotations

import asyncio

import pytest

from db.errors import NewsfactsError
from db.migrate import available, migrate
from db.pool import connect

pytestmark = pytest.mark.anyio

CORE_TABLES = {"actors", "articles", "claims", "deployments", "incidents", "revisions", "events", "api_keys"}


async def _tables(conn: object) -> set[str]:
    rows = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")  # type: ignore[attr-defined]
    return {r["tablename"] for r in rows}


async def test_migrations_apply_on_an_empty_database_and_rerunning_applies_nothing(empty_database: str) -> None:
    conn = await connect(empty_database)
    try:
        assert not (CORE_TABLES & await _tables(conn))
        applied = await migrate(conn)
        assert applied == [m.version for m in available()]
        assert CORE_TABLES <= await _tables(conn)
        recorded = await conn.fetch("SELECT version, checksum FROM schema_migrations ORDER BY version")
        assert [(r["version"], r["checksum"]) for r in recorded] == [(m.version, m.checksum) for m in available()]

        assert await migrate(conn) == []
        assert await conn.fetchval("SELECT count(*) FROM schema_migrations") == len(available())
    finally:
        await conn.close()


async def test_two_concurrent_migrations_on_a_fresh_database_apply_the_schema_exactly_once(
    empty_database: str,
) -> None:
    a, b = await connect(empty_database), await connect(empty_database)
    try:
        first, second = await asyncio.wait_for(asyncio.gather(migrate(a), migrate(b)), timeout=60)
        every = [m.version for m in available()]
        # Each migration was applied by exactly one of the two callers.
        assert sorted(first + second) == every
        assert not set(first) & set(second)
        assert await a.fetchval("SELECT count(*) FROM schema_migrations") == len(every)
        assert await a.fetchval("SELECT count(*) FROM event_counter") == 1
    finally:
        await a.close()
        await b.close()


async def test_a_migration_changed_after_it_was_applied_is_refused(empty_database: str) -> None:
    conn = await connect(empty_database)
    try:
        await migrate(conn)
        first = available()[0]
        # Equivalent to editing the shipped file: the recorded checksum no longer matches it.
        await conn.execute("UPDATE schema_migrations SET checksum = 'edited' WHERE version = $1", first.version)
        with pytest.raises(NewsfactsError, match="changed after it was applied"):
            await migrate(conn)
    finally:
        await conn.close()
