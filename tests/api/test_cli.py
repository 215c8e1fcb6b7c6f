"""The ``newsfacts`` command as a user runs it: real subprocesses against the test database, and
``serve`` on its own embedded PostgreSQL and Redis when no URLs are set."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from api.embedded import free_port
from db import keys
from db.pool import connect
from tests.db.test_bulk import check_report, mixed_records
from tests.services import run, wait_for_http

NEWSFACTS = str(Path(sys.executable).parent / "newsfacts")
URL_VARIABLES = ("DATABASE_URL", "REDIS_URL", "TEST_DATABASE_URL", "TEST_REDIS_URL")


def newsfacts(*args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([NEWSFACTS, *args], env=env, capture_output=True, timeout=timeout, check=False)


@pytest.fixture
def db_env(database_url: str) -> dict[str, str]:
    """The environment of a CLI run against the session's test database."""
    return {**{k: v for k, v in os.environ.items() if k not in URL_VARIABLES}, "DATABASE_URL": database_url}


@pytest.fixture
def bare_env() -> Iterator[dict[str, str]]:
    """No service URLs at all and a fresh data folder: the CLI must start embedded servers."""
    # Not pytest's tmp_path: its parents are private to root, and pgserver runs postgres as its own user.
    with tempfile.TemporaryDirectory(prefix="newsfacts-cli-") as folder:
        env = {k: v for k, v in os.environ.items() if k not in URL_VARIABLES}
        yield {**env, "DATA_DIR": folder, "LOG_LEVEL": "info"}


def test_load_reports_rejected_records_as_json_and_exits_2(db_env: dict[str, str], tmp_path: Path) -> None:
    lines, expected = mixed_records()
    path = tmp_path / "mixed.ndjson"
    path.write_bytes(b"\n".join(lines) + b"\n")
    result = newsfacts("load", str(path), "--quiet", env=db_env)
    assert result.returncode == 2, result.stderr.decode()
    report = orjson.loads(result.stdout)
    check_report(report, expected)
    assert report["rejectedCount"] == len(expected["rejected"])
    assert report["totalLoaded"] == 4


def test_load_resolves_an_article_named_by_uri_and_a_quote_without_offsets(
    db_env: dict[str, str], tmp_path: Path, database_url: str
) -> None:
    """A file that knows its article only by uri, and its quotes only as text, loads as written."""
    uri = f"urn:test:cli-load:{random.getrandbits(64)}"
    body = "The port reopened on Monday, officials said."
    records = [
        {"object": "article", "uri": uri, "headline": "Port reopens", "body": body},
        {
            "object": "claim",
            "statement": "The port reopened on Monday",
            "quoteType": "indirect",
            "references": [{"article": uri, "quoteText": "reopened on Monday"}],
        },
    ]
    path = tmp_path / "by-uri.ndjson"
    path.write_bytes(b"\n".join(orjson.dumps(r) for r in records) + b"\n")
    result = newsfacts("load", str(path), "--quiet", env=db_env)
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()

    async def stored() -> Any:
        conn = await connect(database_url)
        try:
            return await conn.fetchrow(
                "SELECT a.id, c.refs FROM articles a JOIN claims c ON c.article_ids @> ARRAY[a.id] WHERE a.uri = $1",
                uri,
            )
        finally:
            await conn.close()

    row = asyncio.run(stored())
    start = body.index("reopened on Monday")
    assert row["refs"] == [
        {"article": row["id"], "charStart": start, "charEnd": start + 18, "quoteText": "reopened on Monday"}
    ]


def test_load_of_a_missing_file_fails_with_a_message(db_env: dict[str, str], tmp_path: Path) -> None:
    result = newsfacts("load", str(tmp_path / "nope.ndjson"), "--quiet", env=db_env)
    assert result.returncode != 0
    assert b"nope.ndjson" in result.stderr


def test_generate_is_deterministic_and_its_output_loads_without_rejections(
    db_env: dict[str, str], tmp_path: Path
) -> None:
    seed = str(random.randrange(1_000_000, 2**31))  # a seed of its own: ids and uris are new to the database
    args = ("generate", "--articles", "15", "--claims", "120", "--seed", seed)
    first, second = newsfacts(*args, env=db_env), newsfacts(*args, env=db_env)
    assert first.returncode == second.returncode == 0
    assert first.stdout == second.stdout
    other = newsfacts("generate", "--articles", "15", "--claims", "120", "--seed", str(int(seed) + 1), env=db_env)
    assert other.stdout != first.stdout
    records = [orjson.loads(line) for line in first.stdout.splitlines()]
    assert sum(r["object"] == "claim" for r in records) == 120
    assert sum(r["object"] == "article" for r in records) == 15

    path = tmp_path / "corpus.ndjson"
    path.write_bytes(first.stdout)
    loaded = newsfacts("load", str(path), "--quiet", env=db_env)
    assert loaded.returncode == 0, loaded.stdout.decode()[:2000]
    report = orjson.loads(loaded.stdout)
    assert report["totalLoaded"] == len(records) and report["rejectedCount"] == 0


def test_keys_create_prints_a_secret_once_that_authenticates(db_env: dict[str, str], database_url: str) -> None:
    result = newsfacts("keys", "create", "--scope", "write", "--name", "cli-test", env=db_env)
    assert result.returncode == 0, result.stderr.decode()
    secret = result.stdout.decode().strip()
    assert secret.startswith("nfk_") and "\n" not in secret

    async def check() -> None:
        conn = await connect(database_url)
        try:
            key = await keys.authenticate(conn, secret)
            assert key is not None and (key.scope, key.name) == ("write", "cli-test")
            assert key.allows("read") and not key.allows("admin")
            # Only the hash is stored.
            assert await conn.fetchval("SELECT count(*) FROM api_keys WHERE key_hash::text LIKE $1", f"%{secret}%") == 0
            assert await keys.authenticate(conn, secret + "x") is None
        finally:
            await conn.close()

    run(check())


def test_keys_create_refuses_an_unknown_scope(db_env: dict[str, str]) -> None:
    result = newsfacts("keys", "create", "--scope", "root", env=db_env)
    assert result.returncode == 2 and b"invalid choice" in result.stderr


@pytest.mark.slow
def test_serve_starts_embedded_postgres_and_redis_when_no_urls_are_set_and_data_survives(
    bare_env: dict[str, str],
) -> None:
    port = free_port()
    log_path = Path(bare_env["DATA_DIR"]) / "serve.log"
    env = {**bare_env, "PORT": str(port), "HOST": "127.0.0.1"}
    with log_path.open("wb") as log:
        server = subprocess.Popen([NEWSFACTS, "serve"], env=env, stdout=log, stderr=log, start_new_session=True)
        try:
            wait_for_http(f"http://127.0.0.1:{port}/healthz", timeout=30)
            ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5)
            assert ready.status_code == 200, ready.text
            assert ready.json()["checks"] == {"postgres": "ok", "redis": "ok"}
            # A command beside the running server uses its PostgreSQL, and says so.
            made = newsfacts("keys", "create", "--scope", "read", env=bare_env)
            told = made.stderr.decode()
            assert made.returncode == 0, told
            assert "using the embedded PostgreSQL already running in" in told and "started embedded" not in told, told
            secret = made.stdout.decode().strip()
            quota = httpx.get(f"http://127.0.0.1:{port}/v1/quota", headers={"Authorization": f"Bearer {secret}"})
            assert quota.status_code == 200, quota.text
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=15)
    logged = log_path.read_text()
    assert "started embedded PostgreSQL" in logged, logged
    assert "started embedded Redis" in logged, logged

    # Each command below starts and stops the embedded PostgreSQL again on the same data folder.
    first = newsfacts("seed", env=bare_env)
    assert first.returncode == 0, first.stderr.decode()
    assert b"started embedded PostgreSQL" in first.stderr  # the server is gone: none to use
    assert orjson.loads(first.stdout)["totalLoaded"] > 20
    second = newsfacts("seed", env=bare_env)
    assert second.returncode == 0, second.stderr.decode()
    assert b"already present" in second.stderr
