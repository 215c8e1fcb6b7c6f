"""The fault suite (issue 12): two ``newsfacts serve`` processes and a webhook worker over a
PostgreSQL and a Redis of the test's own, under bounded load — REST and GraphQL readers, a writer,
a GraphQL subscriber, an SSE client and a webhook receiver — while Redis is killed and restarted,
PostgreSQL is fast-stopped and started, and the worker is SIGKILLed mid-delivery. It asserts that
every acknowledged write is stored, every event reaches the SSE client and the GraphQL subscriber
once and in order, every webhook arrives at least once, no answer is a 5xx but a 503 with
Retry-After, and no process serves a stale read after recovery. It prints a table of the counts.

``make test`` runs it with short outages (FAULT_SECONDS=1); ``make fault`` with longer ones."""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
import pytest
from websockets import ConnectionClosed, Subprotocol
from websockets.sync.client import connect as ws_connect

from api.embedded import EmbeddedPostgres, EmbeddedRedis
from db import keys
from db.migrate import migrate
from db.pool import connect
from tests.api.webhook_receiver import Answer, Receiver, WorkerProcess, worker_env
from tests.services import ServerProcess, run

OUTAGE = float(os.environ.get("FAULT_SECONDS", "1"))
WRITE_INTERVAL = 0.05  # the writer's pace: bounded load, about 20 writes/s at most


@dataclass
class Observed:
    """What the load saw, shared by its threads."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    statuses: Counter[str] = field(default_factory=Counter)
    bad: list[str] = field(default_factory=list)  # 5xx other than 503 + Retry-After, and resets
    acknowledged: list[str] = field(default_factory=list)  # actor ids the writer got a 201 for
    sse: list[tuple[int, str]] = field(default_factory=list)  # (sequence, objectId) in arrival order
    sse_reconnects: int = 0
    gql: list[tuple[int, str]] = field(default_factory=list)  # the GraphQL subscriber's, likewise
    gql_reconnects: int = 0

    def answer(self, who: str, r: httpx.Response) -> None:
        with self.lock:
            self.statuses[f"{who} {r.status_code}"] += 1
            if r.status_code >= 500 and not (r.status_code == 503 and r.headers.get("retry-after")):
                self.bad.append(f"{who} {r.status_code} {r.text[:200]}")


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """PostgreSQL and Redis of this test's own, two servers, a worker and a receiver."""
    pg = EmbeddedPostgres(tmp_path / "pg").start()
    redis = EmbeddedRedis(tmp_path / "redis", persist=True).start()

    async def prepare() -> str:
        conn = await connect(pg.url)
        try:
            await migrate(conn)
            return (await keys.create(conn, name="fault", scope="admin"))[1]
        finally:
            await conn.close()

    secret = run(prepare())
    env = worker_env(pg.url, redis.url, RATE_LIMIT_KEY="1000000", RATE_LIMIT_ANONYMOUS="1000000")
    receiver = Receiver(lambda item, n: Answer(200, delay=0.02)).start()
    servers = [ServerProcess(env, log_path=tmp_path / f"server-{i}.log").start() for i in range(2)]
    worker = WorkerProcess(env, concurrency=8).start()
    try:
        yield {"pg": pg, "redis": redis, "servers": servers, "worker": worker, "env": env,
               "receiver": receiver, "auth": {"Authorization": f"Bearer {secret}"}}  # fmt: skip
    finally:
        for server in servers:
            server.stop()
        worker.close()
        receiver.stop()
        redis.stop()
        pg.stop()


def _writer(base: list[str], auth: dict[str, str], seen: Observed, stop: threading.Event) -> None:
    with httpx.Client(timeout=5) as client:
        i = 0
        while not stop.is_set():
            key, body = str(uuid.uuid4()), {"kind": "person", "name": f"fault {i}"}
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:  # the same request and key until acknowledged
                try:
                    r = client.post(base[i % 2] + "/v1/actors", json=body, headers={**auth, "Idempotency-Key": key})
                except httpx.HTTPError:
                    time.sleep(0.1)  # a reset while the server restarts a connection: retried with the key
                    continue
                seen.answer("write", r)
                if r.status_code == 201:
                    with seen.lock:
                        seen.acknowledged.append(r.json()["id"])
                    break
                time.sleep(min(float(r.headers.get("retry-after", "0.2")), 0.3))
            i += 1
            time.sleep(WRITE_INTERVAL)


def _reader(base: str, seen: Observed, stop: threading.Event) -> None:
    with httpx.Client(base_url=base, timeout=5) as client:
        while not stop.is_set():
            try:
                seen.answer("read", client.get("/v1/actors", params={"limit": 5}))
            except httpx.HTTPError as exc:
                with seen.lock:
                    seen.bad.append(f"read reset: {exc!r}")
            time.sleep(0.02)


def _graphql_reader(base: str, seen: Observed, stop: threading.Event) -> None:
    body = {"query": "{ actors(first: 5) { nodes { id name } } }"}
    with httpx.Client(base_url=base, timeout=5) as client:
        while not stop.is_set():
            try:
                seen.answer("graphql", client.post("/graphql", json=body))
            except httpx.HTTPError as exc:
                with seen.lock:
                    seen.bad.append(f"graphql reset: {exc!r}")
            time.sleep(0.02)


SUBSCRIPTION = "subscription($a: Int) { events(types: [ACTOR_CREATED], after: $a) { sequence objectId } }"


def _subscriber(base: str, seen: Observed, stop: threading.Event) -> None:
    """A graphql-transport-ws subscriber that, like a client library, resumes with after: its last
    sequence whenever its connection ends."""
    last = 0
    url = base.replace("http://", "ws://") + "/graphql"
    while not stop.is_set():
        try:
            with ws_connect(url, subprotocols=[Subprotocol("graphql-transport-ws")], open_timeout=5) as ws:
                ws.send(orjson.dumps({"type": "connection_init", "payload": {}}).decode())
                if orjson.loads(ws.recv(timeout=5))["type"] != "connection_ack":
                    raise ConnectionError("no ack")
                payload = {"query": SUBSCRIPTION, "variables": {"a": last}}
                ws.send(orjson.dumps({"id": "1", "type": "subscribe", "payload": payload}).decode())
                while not stop.is_set():
                    try:
                        message = orjson.loads(ws.recv(timeout=0.5))
                    except TimeoutError:
                        continue
                    if message["type"] == "ping":
                        ws.send('{"type":"pong"}')
                    elif message["type"] == "next" and message["payload"].get("data"):
                        event = message["payload"]["data"]["events"]
                        with seen.lock:
                            seen.gql.append((event["sequence"], event["objectId"]))
                        last = event["sequence"]
                    elif message["type"] in ("error", "complete"):
                        break
        except (OSError, ConnectionClosed, ConnectionError, TimeoutError):
            pass
        with seen.lock:
            seen.gql_reconnects += 1
        time.sleep(0.3)


def _sse(base: str, seen: Observed, stop: threading.Event) -> None:
    last = 0  # from the first event: the writer may commit before this stream connects
    with httpx.Client(timeout=httpx.Timeout(5, read=30)) as client:
        while not stop.is_set():
            headers = {"Last-Event-ID": str(last)}
            try:
                with client.stream("GET", base + "/v1/events/stream?type=actor.created", headers=headers) as r:
                    seen.answer("sse", r)
                    if r.status_code != 200:
                        time.sleep(0.3)
                        continue
                    for line in r.iter_lines():
                        if stop.is_set():
                            return
                        if line.startswith("data: "):
                            event = orjson.loads(line[6:])
                            with seen.lock:
                                seen.sse.append((event["sequence"], event["objectId"]))
                            last = event["sequence"]
            except httpx.HTTPError:
                pass  # the stream ended (a restart): EventSource-style, resume after the last sequence
            with seen.lock:
                seen.sse_reconnects += 1
            time.sleep(0.2)


def _stored(url: str, ids: list[str]) -> set[str]:
    async def query() -> set[str]:
        conn = await asyncpg.connect(url)
        try:
            return {r["id"] for r in await conn.fetch("SELECT id FROM actors WHERE id = ANY($1)", ids)}
        finally:
            await conn.close()

    result: set[str] = run(query())
    return result


def _events(url: str, ids: list[str]) -> dict[str, str]:
    async def query() -> dict[str, str]:
        conn = await asyncpg.connect(url)
        try:
            rows = await conn.fetch(
                "SELECT id, object_id FROM events WHERE type = 'actor.created' AND object_id = ANY($1)", ids
            )
            return {r["object_id"]: r["id"] for r in rows}
        finally:
            await conn.close()

    result: dict[str, str] = run(query())
    return result


@pytest.mark.slow
def test_nothing_acknowledged_is_lost_through_redis_postgres_and_worker_failures(cluster: dict[str, Any]) -> None:
    pg, redis, receiver, auth = cluster["pg"], cluster["redis"], cluster["receiver"], cluster["auth"]
    base = [s.url for s in cluster["servers"]]
    with httpx.Client(timeout=5) as client:
        hook = client.post(
            base[0] + "/v1/webhook-endpoints", json={"url": receiver.url(), "enabledEvents": ["actor.created"]},
            headers=auth,
        )  # fmt: skip
        assert hook.status_code == 201, hook.text
    seen, stop_writes, stop = Observed(), threading.Event(), threading.Event()
    writer = threading.Thread(target=_writer, args=(base, auth, seen, stop_writes), daemon=True)
    threads = [
        writer,
        threading.Thread(target=_reader, args=(base[0], seen, stop), daemon=True),
        threading.Thread(target=_reader, args=(base[1], seen, stop), daemon=True),
        threading.Thread(target=_sse, args=(base[1], seen, stop), daemon=True),
        threading.Thread(target=_graphql_reader, args=(base[0], seen, stop), daemon=True),
        threading.Thread(target=_subscriber, args=(base[0], seen, stop), daemon=True),
    ]
    for t in threads:
        t.start()
    phases: list[tuple[str, int]] = []

    def phase(name: str, seconds: float) -> None:
        time.sleep(seconds)
        with seen.lock:
            phases.append((name, len(seen.acknowledged)))

    phase("warm-up", 1.5)
    redis.stop()
    phase("Redis down", OUTAGE * 2)
    redis.start()
    phase("Redis back", 1.5)
    pg.server.cleanup()  # pg_ctl stop (fast): connections are cut mid-query
    phase("PostgreSQL down", OUTAGE * 2)
    pg.start()
    phase("PostgreSQL back", 2)
    cluster["worker"].kill()  # SIGKILL mid-delivery: its leases lapse, another worker takes over
    replacement = WorkerProcess(cluster["env"], concurrency=8).start()
    try:
        phase("worker killed", 1.5)
        stop_writes.set()
        writer.join(timeout=70)
        acknowledged = list(seen.acknowledged)
        events = _events(pg.url, acknowledged)

        def caught_up() -> bool:
            with seen.lock:
                streamed = {object_id for _, object_id in seen.sse}
                subscribed = {object_id for _, object_id in seen.gql}
            received = set(events.values()) <= set(receiver.ids())
            return set(acknowledged) <= streamed and set(acknowledged) <= subscribed and received

        deadline = time.monotonic() + 40  # live consumers follow within a second; workers retry
        while time.monotonic() < deadline and not caught_up():
            time.sleep(0.2)
        stop.set()
        for t in threads:
            t.join(timeout=40)
    finally:
        replacement.close()

    stored = _stored(pg.url, acknowledged)
    sse_ids = [object_id for _, object_id in seen.sse]
    sequences = [seq for seq, _ in seen.sse]
    webhook_ids = receiver.ids()
    rows = [
        ("acknowledged writes", len(acknowledged)),
        ("... stored in PostgreSQL", len(stored)),
        ("SSE events received (reconnects)", f"{len(seen.sse)} ({seen.sse_reconnects})"),
        ("GraphQL subscription events received (reconnects)", f"{len(seen.gql)} ({seen.gql_reconnects})"),
        ("webhooks received (distinct)", f"{len(webhook_ids)} ({len(set(webhook_ids))})"),
        *((f"acknowledged by the end of: {name}", n) for name, n in phases),
        *sorted(seen.statuses.items()),
    ]
    print("\n| fault suite | count |\n|---|---|\n" + "\n".join(f"| {k} | {v} |" for k, v in rows))

    assert acknowledged, "the writer never got an acknowledgement"
    assert seen.bad == [], seen.bad[:10]
    assert stored == set(acknowledged), "an acknowledged write is missing"
    assert sequences == sorted(set(sequences)), "SSE delivered an event twice or out of order"
    missed = sorted(set(acknowledged) - set(sse_ids))
    assert not missed, f"SSE missed the events of {missed} (got sequences {sequences[:3]}…{sequences[-3:]})"
    assert set(events.values()) <= set(webhook_ids), "a webhook was never delivered"
    assert any(k.endswith(" 503") for k in seen.statuses), "PostgreSQL's outage was never observed"
    gql_sequences = [seq for seq, _ in seen.gql]
    assert gql_sequences == sorted(set(gql_sequences)), "the GraphQL subscriber got an event twice or out of order"
    assert not set(acknowledged) - {object_id for _, object_id in seen.gql}, "the GraphQL subscriber missed events"
    # No stale read after recovery: every process serves the last acknowledged write, over REST and GraphQL.
    last = acknowledged[-1]
    with httpx.Client(timeout=5) as client:
        for url in base:
            assert client.get(f"{url}/v1/actors/{last}").status_code == 200
            found = client.post(f"{url}/graphql", json={"query": f'{{ actor(id: "{last}") {{ id }} }}'}).json()
            assert found["data"]["actor"] == {"id": last}, found
