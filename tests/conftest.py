"""Session-wide real services (PostgreSQL, Redis, a live server) and per-test connections."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import redis.asyncio as aioredis

from api.embedded import EmbeddedPostgres, EmbeddedRedis
from api.settings import Settings
from db.migrate import migrate
from db.pool import connect, create_pool
from db.seed import seed
from tests.services import TEST_SECRET_KEYS, LiveServer


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    """asyncpg is asyncio-only."""
    return "asyncio"


@pytest.fixture(scope="session")
def tmp_root() -> Iterator[Path]:
    """A scratch folder for the session's embedded servers."""
    with tempfile.TemporaryDirectory(prefix="newsfacts-test-") as folder:
        yield Path(folder)


@pytest.fixture(scope="session")
def postgres_server_url(tmp_root: Path) -> Iterator[str]:
    """A PostgreSQL server: TEST_DATABASE_URL's, or an embedded one for the session."""
    given = os.environ.get("TEST_DATABASE_URL")
    if given:
        yield given
        return
    pg = EmbeddedPostgres(tmp_root / "postgres").start()
    try:
        yield pg.url
    finally:
        pg.stop()


@pytest.fixture(scope="session")
def redis_server(tmp_root: Path) -> Iterator[EmbeddedRedis | None]:
    """An embedded Redis the tests may stop and restart (None when TEST_REDIS_URL is given)."""
    if os.environ.get("TEST_REDIS_URL"):
        yield None
        return
    server = EmbeddedRedis(tmp_root / "redis", persist=False).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def redis_url(redis_server: EmbeddedRedis | None) -> str:
    """The Redis URL every test and server of the session uses."""
    return redis_server.url if redis_server is not None else os.environ["TEST_REDIS_URL"]


def _with_database(server_url: str, name: str) -> str:
    base, _, query = server_url.partition("?")
    base = base.rsplit("/", 1)[0]
    return f"{base}/{name}" + (f"?{query}" if query else "")


@pytest.fixture(scope="session")
def database_url(postgres_server_url: str) -> Iterator[str]:
    """A fresh database for the session, migrated and seeded."""
    import asyncio

    name = f"nf_test_{uuid.uuid4().hex[:10]}"

    async def setup() -> None:
        admin = await asyncpg.connect(postgres_server_url)
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()
        conn = await connect(_with_database(postgres_server_url, name))
        try:
            await migrate(conn)
            report = await seed(conn)
            assert report is not None and not report.rejected, report and report.rejected
        finally:
            await conn.close()

    async def teardown() -> None:
        admin = await asyncpg.connect(postgres_server_url)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()

    asyncio.run(setup())
    yield _with_database(postgres_server_url, name)
    asyncio.run(teardown())


@pytest.fixture(scope="session")
def settings(database_url: str, redis_url: str, tmp_root: Path) -> Settings:
    """Settings for the session's live server."""
    # The whole suite calls from 127.0.0.1 as one anonymous client: rate limits stay out of its way
    # here; tests of the limits start their own servers with low limits. Most tests write through
    # the database and read over HTTP at once, faster than any event-driven invalidation, so the
    # response cache is off here; tests/api/test_cache_*.py run their own server with it on.
    return Settings(
        cache_enabled=False,
        database_url=database_url,
        redis_url=redis_url,
        data_dir=tmp_root / "data",
        environment="test",
        rate_limit_anonymous=1_000_000,
        rate_limit_key=1_000_000,
        webhook_secret_keys=(TEST_SECRET_KEYS,),
    )


@pytest.fixture(scope="session")
def server(settings: Settings) -> Iterator[LiveServer]:
    """The app served over real HTTP by uvicorn, in a thread of this process."""
    live = LiveServer(settings).start()
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """An asyncpg pool on the session database, for this test."""
    p = await create_pool(database_url, min_size=1, max_size=5)
    try:
        yield p
    finally:
        await p.close()


@pytest.fixture
async def conn(database_url: str) -> AsyncIterator[asyncpg.Connection[Any]]:
    """A connection on the session database; what the test commits stays committed."""
    c = await connect(database_url)
    try:
        yield c
    finally:
        await c.close()


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    """A Redis client on the session's Redis."""
    client = aioredis.Redis.from_url(redis_url)
    try:
        yield client
    finally:
        await client.aclose()
