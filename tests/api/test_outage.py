"""A PostgreSQL outage is UNAVAILABLE, never a 500 (issue 12, Defects 1): with the database
fast-stopped, REST reads and writes answer 503 problem+json with Retry-After and no exception text;
nothing is half-written; once it is back the same server answers again. The test stops and starts a
PostgreSQL server of its own (the session's serves every other test). A PostgreSQL that stops
answering without closing anything (SIGSTOP) is tests/api/test_hung_database.py's."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from api.embedded import EmbeddedPostgres
from api.settings import Settings
from db import keys
from db.migrate import migrate
from db.pool import connect
from tests.services import LiveServer, run


@pytest.fixture(scope="module")
def own_postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedPostgres]:
    """A PostgreSQL server only this module uses, so it may stop it."""
    pg = EmbeddedPostgres(Path(tmp_path_factory.mktemp("outage-pg"))).start()
    try:
        yield pg
    finally:
        pg.stop()


@pytest.fixture(scope="module")
def outage(own_postgres: EmbeddedPostgres, settings: Settings) -> Iterator[tuple[LiveServer, str, str]]:
    """(a live server on own_postgres, a write key, the database URL)."""
    url = own_postgres.url

    async def prepare() -> str:
        conn = await connect(url)
        try:
            await migrate(conn)
            return (await keys.create(conn, name="outage", scope="write"))[1]
        finally:
            await conn.close()

    secret = run(prepare())
    live = LiveServer(replace(settings, database_url=url, environment="production")).start()
    try:
        yield live, secret, url
    finally:
        live.stop()


def _unavailable(r: httpx.Response) -> None:
    assert r.status_code == 503, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert 1 <= int(r.headers["retry-after"]) <= 60
    body: dict[str, Any] = r.json()
    assert body["code"] == "UNAVAILABLE" and body["type"].endswith("/unavailable")
    for leak in ("Errno", "Connection", "socket", "/tmp", "asyncpg", "Traceback"):
        assert leak not in body["detail"], body["detail"]


def _graphql_unavailable(r: httpx.Response) -> None:
    """A planned GraphQL read during the outage: nothing to return at all, so HTTP 503 too."""
    assert r.status_code == 503, r.text
    assert 1 <= int(r.headers["retry-after"]) <= 60
    (error,) = r.json()["errors"]
    assert error["extensions"]["code"] == "UNAVAILABLE"
    assert "Errno" not in error["message"] and "asyncpg" not in error["message"]


def _eventually(check: Any, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.2)


def test_a_stopped_database_is_503_with_retry_after_and_service_resumes(
    outage: tuple[LiveServer, str, str], own_postgres: EmbeddedPostgres
) -> None:
    live, secret, url = outage
    auth = {"Authorization": f"Bearer {secret}"}
    with httpx.Client(base_url=live.url, timeout=10) as client:
        assert client.get("/v1/actors").status_code == 200
        # Authenticate once while up: the key is then cached, so the write below reaches the pool.
        assert client.post("/v1/actors", json={"kind": "person", "name": "Before"}, headers=auth).status_code == 201

        own_postgres.server.cleanup()  # pg_ctl stop: a fast shutdown, open connections are cut
        try:
            for _ in range(3):  # pooled connections die one by one: every one of them must be a 503
                _unavailable(client.get("/v1/actors"))
                _unavailable(client.get("/v1/claims/clm_01K8B1E4EJJ4YDVT3E4602WPWC"))
                _unavailable(client.get("/v1/events"))
                _graphql_unavailable(client.post("/graphql", json={"query": "{ claims(first: 2) { nodes { id } } }"}))
                # article(uri:, asOf:) runs on the resolvers: the same 503 from that path.
                resolved = '{ article(uri: "urn:x", asOf: "2025-01-01T00:00:00Z") { id } }'
                _graphql_unavailable(client.post("/graphql", json={"query": resolved}))
            _unavailable(client.post("/v1/actors", json={"kind": "person", "name": "During"}, headers=auth))
            _unavailable(client.get("/v1/actors", headers={"Authorization": "Bearer nfk_unknown_while_down"}))
            assert client.get("/readyz").status_code == 503
        finally:
            own_postgres.start()
        assert own_postgres.url == url, "the restarted server must listen where the app connects"

        assert _eventually(lambda: client.get("/v1/actors").status_code == 200), "reads did not resume"
        after = client.post("/v1/actors", json={"kind": "person", "name": "After"}, headers=auth)
        assert after.status_code == 201, after.text

    async def names() -> list[str]:
        conn = await asyncpg.connect(url)
        try:
            return [r["name"] for r in await conn.fetch("SELECT name FROM actors ORDER BY created_at")]
        finally:
            await conn.close()

    # The refused write left nothing behind; the acknowledged ones are there.
    assert run(names()) == ["Before", "After"]
