"""Real services: PostgreSQL and Redis for the session, a database cloned from a migrated and
seeded template and a live server for each module, and per-test connections."""

from __future__ import annotations

import asyncio
import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
import redis.asyncio as aioredis
from redis import Redis

from api.embedded import EmbeddedPostgres, EmbeddedRedis
from api.settings import Settings
from db.migrate import migrate
from db.pool import connect, create_pool
from db.seed import seed
from tests.services import TEST_DB_TIMEOUT_S, TEST_DB_TIMEOUTS, TEST_SECRET_KEYS, LiveServer

pytest_plugins = ["tests.schedule"]  # the order of a parallel run (make test)


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
    if redis_server is not None:
        return redis_server.url
    # The cache's and the rate limits' keys are global: parallel workers sharing TEST_REDIS_URL's
    # server each take a logical database of their own (gw1 the next one after the URL's, …).
    url = urlsplit(os.environ["TEST_REDIS_URL"])
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw"))
    mine = urlunsplit(url._replace(path=f"/{int(url.path.strip('/') or 0) + worker}"))
    # Emptied first, as the embedded server starts: what an earlier run left there (a persisted
    # query, a cached answer, a rate-limit count) changed what tests saw in the next.
    client = Redis.from_url(mine)
    try:
        client.flushdb()
    finally:
        client.close()
    return mine


def _with_database(server_url: str, name: str) -> str:
    base, _, query = server_url.partition("?")
    base = base.rsplit("/", 1)[0]
    return f"{base}/{name}" + (f"?{query}" if query else "")


async def _admin(server_url: str, statement: str) -> None:
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(statement)
    finally:
        await admin.close()


@pytest.fixture(scope="session")
def template_database(postgres_server_url: str) -> Iterator[str]:
    """A database migrated and seeded once, which every module's database is cloned from."""
    name = f"nf_tmpl_{uuid.uuid4().hex[:10]}"

    async def setup() -> None:
        await _admin(postgres_server_url, f'CREATE DATABASE "{name}"')
        conn = await connect(_with_database(postgres_server_url, name))
        try:
            await migrate(conn)
            report = await seed(conn)
            assert report is not None and not report.rejected, report and report.rejected
        finally:
            await conn.close()  # CREATE DATABASE … TEMPLATE needs the template without connections

    asyncio.run(setup())
    yield name
    asyncio.run(_admin(postgres_server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="module")
def database_url(postgres_server_url: str, template_database: str) -> Iterator[str]:
    """This module's own database, a copy of the template: no module sees another module's rows."""
    # A file copy of the template, cheaper than migrating and seeding again (about 0.1 s).
    name = f"nf_test_{uuid.uuid4().hex[:10]}"
    url = _with_database(postgres_server_url, name)

    async def clone() -> None:
        await _admin(postgres_server_url, f'CREATE DATABASE "{name}" TEMPLATE "{template_database}"')
        # The Redis Stream's name is drawn at migration time: every copy would share the template's
        # (and the shared Redis), so a module's events would collide with an earlier module's.
        conn = await asyncpg.connect(url)
        try:
            await conn.execute("UPDATE relay_state SET stream = 'newsfacts:events:' || md5(random()::text)")
        finally:
            await conn.close()

    asyncio.run(clone())
    yield url
    asyncio.run(_admin(postgres_server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="module")
def settings(database_url: str, redis_url: str, tmp_root: Path) -> Settings:
    """Settings for the module's live server."""
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
        db_statement_timeout_s=TEST_DB_TIMEOUT_S,
        db_acquire_timeout_s=TEST_DB_TIMEOUT_S,
    )


@pytest.fixture(scope="module")
def server(settings: Settings) -> Iterator[LiveServer]:
    """The app over real HTTP by uvicorn, in a thread of this process, on the module's database."""
    live = LiveServer(settings).start()
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """An asyncpg pool on the module's database, for this test."""
    p = await create_pool(database_url, min_size=1, max_size=5, timeouts=TEST_DB_TIMEOUTS)
    try:
        yield p
    finally:
        await p.close()


@pytest.fixture
async def conn(database_url: str) -> AsyncIterator[asyncpg.Connection[Any]]:
    """A connection on the module's database; what the test commits stays (for this module)."""
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
