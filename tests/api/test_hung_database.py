"""A PostgreSQL that stops answering (issue 23, reproduction 3). Every process of a PostgreSQL of
this module's own is stopped with SIGSTOP: its sockets stay open, nothing is refused and nothing is
answered, as in a network partition, so its own statement_timeout never fires. Every path must
still answer 503 with Retry-After within DB_ACQUIRE_TIMEOUT_S + DB_STATEMENT_TIMEOUT_S, a started
event stream must end cleanly (its client resumes with Last-Event-ID), the webhook worker must back
off and carry on, and once PostgreSQL resumes (SIGCONT) the same processes serve again, with no
restart. A long export is not cut by the statement timeout, and one whose database hangs midway ends
within it.

PostgreSQL is always resumed (``frozen`` resumes in a finally) and every client has a timeout, so
a failing test neither hangs nor leaves PostgreSQL stopped."""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import orjson
import psutil
import pytest

from api.embedded import EmbeddedPostgres
from api.events.feed import REPLAY_PAGE
from api.settings import Settings
from db import bulk, keys
from db.migrate import migrate
from db.pool import connect
from db.seed import seed
from tests.api.webhook_receiver import Receiver, WorkerProcess, webhook_settings, worker_env
from tests.services import LiveServer, run

# The bounds the small-bounds server runs with (seconds), and the slack a loaded two-core machine
# gets on top: what is checked is the order of magnitude (unbounded, these waits were 10 s, 40 s
# or forever).
ACQUIRE_S, STATEMENT_S = 1.0, 1.0
MARGIN_S = 2.0
# Reproduction 3 ran with the default settings; the issue asks for defaults of at most 5 s each.
DEFAULT_BOUND_S = 5.0 + 5.0
# The test fixtures' settings carry long bounds for a loaded test machine; this reproduction runs
# with the product's own defaults, read from Settings so a changed default is what is tested.
_PRODUCT_BOUNDS = {
    "db_acquire_timeout_s": Settings.__dataclass_fields__["db_acquire_timeout_s"].default,
    "db_statement_timeout_s": Settings.__dataclass_fields__["db_statement_timeout_s"].default,
}
SEARCH = "/v1/claims?limit=2&q=maduro"
# 20 kB of text that costs PostgreSQL's full-text indexing little (ten long words).
BIG_BODY = ("x" * 2_000 + " ") * 10


@dataclass(frozen=True)
class Database:
    pg: EmbeddedPostgres
    auth: dict[str, str]  # an admin key's Authorization header
    claim: str
    article: str


@pytest.fixture(scope="module")
def database(tmp_root: Path) -> Iterator[Database]:
    """A seeded PostgreSQL only this module uses, so it may stop it."""
    pg = EmbeddedPostgres(tmp_root / "hung-postgres").start()

    async def prepare() -> Database:
        conn = await connect(pg.url)
        try:
            await migrate(conn)
            await seed(conn)
            secret = (await keys.create(conn, name="hung", scope="admin"))[1]
            claim = await conn.fetchval("SELECT id FROM claims ORDER BY id LIMIT 1")
            article = await conn.fetchval("SELECT id FROM articles ORDER BY id LIMIT 1")
            return Database(pg, {"Authorization": f"Bearer {secret}"}, claim, article)
        finally:
            await conn.close()

    try:
        yield run(prepare())
    finally:
        pg.stop()


@contextlib.contextmanager
def frozen(pg: EmbeddedPostgres) -> Iterator[None]:
    """The postmaster and every backend stopped with SIGSTOP for the block; always resumed."""
    postmaster = psutil.Process(int((pg.folder / "postmaster.pid").read_text().split()[0]))
    stopped: list[psutil.Process] = []
    try:
        for process in [postmaster, *postmaster.children(recursive=True)]:
            process.suspend()
            stopped.append(process)
        yield
    finally:
        for process in stopped:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.resume()


@contextlib.contextmanager
def serving(settings: Settings) -> Iterator[LiveServer]:
    live = LiveServer(settings).start()
    try:
        yield live
    finally:
        live.stop()


def _unavailable(r: httpx.Response) -> None:
    """A 503 with Retry-After, in the shape its transport uses."""
    assert r.status_code == 503, f"{r.request.method} {r.request.url}: {r.status_code} {r.text[:300]}"
    assert 1 <= int(r.headers["retry-after"]) <= 60
    if r.request.url.path == "/graphql":
        assert [e["extensions"]["code"] for e in r.json()["errors"]] == ["UNAVAILABLE"]
    elif r.request.url.path == "/readyz":
        assert r.json()["status"] == "unavailable"
    else:
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["code"] == "UNAVAILABLE"


def _eventually(check: Callable[[], Any], timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.1)


def test_reproduction_3_a_search_on_a_hung_database_is_503_within_the_default_bounds(
    database: Database, settings: Settings
) -> None:
    # Reproduction 3 as the issue ran it: the default settings, a search, PostgreSQL stopped.
    with (
        serving(replace(settings, database_url=database.pg.url, environment="production", **_PRODUCT_BOUNDS)) as live,
        httpx.Client(base_url=live.url, timeout=DEFAULT_BOUND_S + MARGIN_S + 5) as client,
    ):
        assert client.get(SEARCH).status_code == 200
        with frozen(database.pg):
            started = time.monotonic()
            r = client.get(SEARCH)
            waited = time.monotonic() - started
        _unavailable(r)
        assert waited <= DEFAULT_BOUND_S + MARGIN_S, f"{waited:.1f} s"
        assert _eventually(lambda: client.get(SEARCH).status_code == 200), "the search did not recover"


def _paths(db: Database) -> list[tuple[str, str, dict[str, Any] | None, dict[str, str]]]:
    """(method, path, JSON body, headers) of every path that needs PostgreSQL."""
    anonymous: dict[str, str] = {}
    mutation = 'mutation { createActor(input: {kind: PERSON, name: "During"}) { actor { id } } }'
    return [
        ("GET", "/v1/claims?limit=2", None, anonymous),
        ("GET", SEARCH, None, anonymous),
        ("GET", f"/v1/claims/{db.claim}", None, anonymous),
        ("GET", f"/v1/claims/{db.claim}?expand=speaker", None, anonymous),
        ("GET", f"/v1/claims/{db.claim}/revisions", None, anonymous),
        ("GET", f"/v1/articles/{db.article}/claims", None, anonymous),
        ("GET", "/v1/claims?format=ndjson", None, anonymous),  # the export's first byte
        ("GET", "/v1/events?after=0", None, anonymous),
        ("GET", "/v1/events/stream?after=0", None, anonymous),  # the stream's catch-up
        ("GET", "/readyz", None, anonymous),
        ("POST", "/v1/actors", {"kind": "person", "name": "During"}, db.auth),
        # Planned SQL, the resolvers (article(uri:, asOf:) is not planned), a mutation.
        ("POST", "/graphql", {"query": "{ claims(first: 2) { nodes { id } } }"}, anonymous),
        ("POST", "/graphql", {"query": '{ article(uri: "urn:x", asOf: "2025-01-01T00:00:00Z") { id } }'}, anonymous),
        ("POST", "/graphql", {"query": mutation}, db.auth),
    ]


def _timed(client: httpx.Client, method: str, path: str, body: Any, headers: dict[str, str]) -> tuple[Any, float]:
    """The answer and how long it took; of an event stream that started, its first frame only."""
    started = time.monotonic()
    with client.stream(method, path, json=body, headers=headers) as r:
        if r.headers.get("content-type", "").startswith("text/event-stream"):
            next(r.iter_raw())
        else:
            r.read()
    return r, time.monotonic() - started


def _waits(metrics: str) -> dict[str, float]:
    return {
        m[1]: float(m[2]) for m in re.finditer(r'newsfacts_db_waits_abandoned_total\{wait="(\w+)"\} (\S+)', metrics)
    }


def test_every_path_answers_503_within_its_bounds_while_postgresql_hangs_and_recovers_without_restart(
    database: Database, settings: Settings, redis_url: str
) -> None:
    bounded = webhook_settings(
        settings, database_url=database.pg.url, environment="production",
        db_acquire_timeout_s=ACQUIRE_S, db_statement_timeout_s=STATEMENT_S,
        db_pool_max=2,  # fewer connections than requests at once: some wait to acquire one
    )  # fmt: skip
    env = worker_env(
        database.pg.url, redis_url, DB_ACQUIRE_TIMEOUT_S=str(ACQUIRE_S), DB_STATEMENT_TIMEOUT_S=str(STATEMENT_S)
    )
    receiver = Receiver().start()
    worker = WorkerProcess(env, concurrency=2).start()
    paths = _paths(database)
    try:
        with serving(bounded) as live, httpx.Client(base_url=live.url, timeout=30) as client:
            endpoint = {"url": receiver.url(), "enabledEvents": ["actor.created"]}
            r = client.post("/v1/webhook-endpoints", json=endpoint, headers=database.auth)
            assert r.status_code == 201, r.text
            for method, path, body, headers in paths:  # all answer while PostgreSQL does (and cache the key)
                assert _timed(client, method, path, body, headers)[0].status_code in (200, 201), (method, path)
            # The worker is up and delivering before PostgreSQL stops.
            assert _eventually(lambda: receiver.received, timeout=30), worker.output()
            failures_before = len(re.findall(r"webhook \w+ failed", worker.output()))

            with frozen(database.pg), ThreadPoolExecutor(max_workers=len(paths)) as pool:
                answers = list(pool.map(lambda p: _timed(client, *p), paths))
                during = client.get("/metrics")
                # The worker's loops time out, back off and try again (each failure is logged).
                worker_failed = _eventually(
                    lambda: len(re.findall(r"webhook \w+ failed", worker.output())) >= failures_before + 2
                )
            for r, waited in answers:
                _unavailable(r)
                assert waited <= ACQUIRE_S + STATEMENT_S + MARGIN_S, f"{r.request.url}: {waited:.1f} s"
            assert worker_failed, worker.output()
            # The metrics still answer while PostgreSQL does not, and count the waits given up on.
            assert during.status_code == 200
            waits = _waits(during.text)
            assert waits.get("acquire", 0) >= 1 and waits.get("statement", 0) >= 1, waits

            # Resumed: the same server answers every path again (its dropped connections replaced),
            # and the same worker delivers what is written now.
            for method, path, body, headers in paths:
                assert _eventually(
                    lambda m=method, p=path, b=body, h=headers: _timed(client, m, p, b, h)[0].status_code in (200, 201)
                ), f"{method} {path} did not recover"
            after = client.post("/v1/actors", json={"kind": "person", "name": "After"}, headers=database.auth)
            assert after.status_code == 201, after.text
            created = after.json()["id"]
            assert _eventually(
                lambda: [x for x in receiver.received if x.json()["data"]["id"] == created], timeout=30
            ), worker.output()
    finally:
        worker.close()
        receiver.stop()


@dataclass(frozen=True)
class Big:
    articles: list[str]
    last_sequence: int


@pytest.fixture(scope="module")
def big(database: Database) -> Big:
    """Articles of 20 kB, more than a replay page or an export chunk of them, then as many small
    actors: an export's first chunk and the event log's first replay page each outgrow the socket
    buffers between the server and a slow client, and the replay takes three pages."""

    def articles() -> Iterator[tuple[int, str, Any]]:
        for i in range(REPLAY_PAGE + 10):
            yield i, "article", {"uri": f"urn:big:{i}", "headline": f"Big {i}", "body": BIG_BODY}

    def actors() -> Iterator[tuple[int, str, Any]]:
        for i in range(REPLAY_PAGE):
            yield i, "actor", {"kind": "person", "name": f"Small {i}"}

    async def load() -> Big:
        conn = await connect(database.pg.url)
        try:
            for records in (articles(), actors()):
                report = await bulk.load(conn, records, changed_by="test-hung")
                assert not report.rejected, report.rejected
            ids = [r["id"] for r in await conn.fetch("SELECT id FROM articles WHERE uri LIKE 'urn:big:%'")]
            return Big(ids, await conn.fetchval("SELECT max(sequence) FROM events"))
        finally:
            await conn.close()

    return run(load())


def _slow_client(base_url: str, read_timeout: float) -> httpx.Client:
    """A client with a small receive buffer: what it has not read holds the server back at once."""
    transport = httpx.HTTPTransport(socket_options=[(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)])
    # Uncompressed: the response cache's gzip would shrink the repetitive bodies to nothing.
    return httpx.Client(
        base_url=base_url, transport=transport, timeout=httpx.Timeout(10, read=read_timeout),
        headers={"Accept-Encoding": "identity"},
    )  # fmt: skip


async def _open_transactions(url: str, older_than_s: float) -> int:
    """The app's transactions open for longer than ``older_than_s``."""
    conn = await connect(url)
    try:
        found: int = await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'newsfacts' AND xact_start IS NOT NULL"
            " AND xact_start < now() - make_interval(secs => $1)",
            older_than_s,
        )
        return found
    finally:
        await conn.close()


def _bounded(settings: Settings, database: Database, statement_s: float = STATEMENT_S) -> Settings:
    return replace(
        settings, database_url=database.pg.url, environment="production",
        db_acquire_timeout_s=ACQUIRE_S, db_statement_timeout_s=statement_s,
    )  # fmt: skip


def test_a_long_export_is_not_cut_by_the_statement_timeout(database: Database, settings: Settings, big: Big) -> None:
    # A bound a loaded two-core machine's first chunk of 10 MB of articles stays well within: at
    # 1 s it once took longer there, and the export was refused as an outage (a 503, as it should).
    bound_s = STATEMENT_S * 3
    with serving(_bounded(settings, database, bound_s)) as live, _slow_client(live.url, 30) as client:
        with client.stream("GET", "/v1/articles?format=ndjson") as r:
            assert r.status_code == 200
            chunks = r.iter_raw()
            body = next(chunks)
            # The export is held back by what this client has not read, well past the statement
            # timeout: its transaction stays open, its COPY waiting on the client.
            time.sleep(bound_s * 2.5)
            assert run(_open_transactions(database.pg.url, bound_s * 2)) >= 1, "the export finished early"
            body += b"".join(chunks)
    exported = [orjson.loads(line)["id"] for line in body.splitlines()]
    assert set(big.articles) <= set(exported)
    assert len(exported) == len(set(exported))


def test_an_export_ends_within_the_statement_bound_when_postgresql_hangs_midway(
    database: Database, settings: Settings, big: Big
) -> None:
    with serving(_bounded(settings, database)) as live, _slow_client(live.url, 30) as client:
        with client.stream("GET", "/v1/articles?format=ndjson") as r:
            assert r.status_code == 200
            chunks = r.iter_raw()
            received = len(next(chunks))
            with frozen(database.pg):
                started = time.monotonic()
                # What the sockets already hold still arrives; then the server waits for the next
                # chunk from PostgreSQL at most the statement bound and cuts the body short.
                with pytest.raises(httpx.RemoteProtocolError):
                    for chunk in chunks:
                        received += len(chunk)
                waited = time.monotonic() - started
    assert received < len(BIG_BODY) * len(big.articles), "the export ended before PostgreSQL stopped"
    assert waited <= STATEMENT_S + MARGIN_S, f"{waited:.1f} s"


def test_a_started_event_stream_ends_cleanly_when_postgresql_hangs_and_resumes_with_last_event_id(
    database: Database, settings: Settings, big: Big
) -> None:
    with serving(_bounded(settings, database)) as live, _slow_client(live.url, ACQUIRE_S + STATEMENT_S + 10) as client:
        with client.stream("GET", "/v1/events/stream?after=0") as r:
            assert r.status_code == 200
            chunks = r.iter_raw()
            received = b""
            while b"\nid: 1\n" not in received:
                received += next(chunks)
            # The first page outgrew the buffers: the server is held back before its last page.
            with frozen(database.pg):
                # What the buffers hold, then the next page's read times out: the stream ends, as
                # a complete chunked body (httpx raises on one cut short).
                received += b"".join(chunks)
        ids = [int(i) for i in re.findall(rb"^id: (\d+)$", received, re.MULTILINE)]
        assert ids == list(range(1, ids[-1] + 1)) and ids[-1] < big.last_sequence, ids[-3:]
        # As EventSource does after `retry`: the same URL with Last-Event-ID, and nothing is lost.
        resumed = b""
        with client.stream("GET", "/v1/events/stream?after=0", headers={"Last-Event-ID": str(ids[-1])}) as r:
            assert r.status_code == 200
            for chunk in r.iter_raw():
                resumed += chunk
                if f"id: {big.last_sequence}\n".encode() in resumed:
                    break
        rest = [int(i) for i in re.findall(rb"^id: (\d+)$", resumed, re.MULTILINE)]
        assert rest == list(range(ids[-1] + 1, big.last_sequence + 1))


def test_an_export_whose_first_rows_do_not_come_within_the_bound_is_503(
    database: Database, settings: Settings, big: Big
) -> None:
    """A COPY that sends nothing before the bound (here: held on a lock another session holds, as
    behind a migration) is refused as the outage it is, before any byte of the body: a 503 with
    Retry-After, never a 500, and the server serves the export again once the lock is gone."""

    async def hold_lock(seconds: float) -> None:
        conn = await connect(database.pg.url)
        try:
            async with conn.transaction():
                await conn.execute("LOCK TABLE articles IN ACCESS EXCLUSIVE MODE")
                await asyncio.sleep(seconds)
        finally:
            await conn.close()

    with serving(_bounded(settings, database)) as live, httpx.Client(base_url=live.url, timeout=30) as client:
        assert client.get("/v1/articles?limit=1").status_code == 200
        with ThreadPoolExecutor(max_workers=1) as pool:
            held = pool.submit(run, hold_lock(STATEMENT_S * 4))
            time.sleep(0.5)  # the lock is taken
            started = time.monotonic()
            r = client.get("/v1/articles?format=ndjson")
            waited = time.monotonic() - started
            held.result()
        _unavailable(r)
        assert waited <= STATEMENT_S + MARGIN_S, f"{waited:.1f} s"
        assert _eventually(lambda: client.get("/v1/articles?format=ndjson").status_code == 200)
