"""Webhook delivery against a real receiver: a receiver down for a while gets everything afterwards,
500 / 429 Retry-After / 410 / hanging answers are handled as specified, per-object order holds, a
killed worker loses nothing and two workers never send the same delivery at once."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import httpx
import pytest
from standardwebhooks import Webhook

from api.settings import Settings
from db import writes
from db.pool import connect as connect_db
from tests.api.webhook_receiver import (
    Answer,
    Received,
    Receiver,
    WorkerProcess,
    eventually,
    register,
    running_worker,
    webhook_settings,
    worker_env,
)
from tests.factories import make_actor

pytestmark = pytest.mark.anyio


async def _endpoint(wh_client: httpx.AsyncClient, endpoint_id: str) -> dict[str, Any]:
    doc: dict[str, Any] = (await wh_client.get(f"/v1/webhook-endpoints/{endpoint_id}")).json()
    return doc


async def _deliveries(wh_client: httpx.AsyncClient, endpoint_id: str) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = (
        await wh_client.get(f"/v1/webhook-endpoints/{endpoint_id}/deliveries", params={"limit": 100})
    ).json()["data"]
    return data


async def _event_ids(conn: Any, after: int) -> list[str]:
    rows = await conn.fetch(
        "SELECT id FROM events WHERE sequence > $1 AND type LIKE 'actor.%' ORDER BY sequence", after
    )
    return [r["id"] for r in rows]


async def _head(conn: Any) -> int:
    return int(await conn.fetchval("SELECT last FROM event_counter"))


async def test_a_receiver_down_for_a_while_then_back_gets_every_event_in_object_order(
    wh_client: httpx.AsyncClient, wh_settings: Settings, database_url: str, conn: Any
) -> None:
    receiver = Receiver()  # not started: connections are refused
    endpoint = await register(wh_client, receiver.url(), enabledEvents=["actor.created", "actor.updated"])
    start = await _head(conn)
    async with running_worker(wh_settings, database_url):
        actors = [await make_actor(conn) for _ in range(4)]
        for round_ in range(3):
            for actor in actors:
                await writes.update(conn, "actor", actor["id"], {"description": f"round {round_}"}, changed_by="test")
        expected = await _event_ids(conn, start)
        assert len(expected) == 16

        async def failed_twice() -> bool:
            return any(d["attemptCount"] >= 2 for d in await _deliveries(wh_client, endpoint["id"]))

        await eventually(failed_twice)
        receiver.start()
        try:
            await eventually(lambda: set(expected) <= set(receiver.ids()), timeout=20)
        finally:
            receiver.stop()
    secret = endpoint["secret"]
    per_object: dict[str, list[int]] = {}
    for item in receiver.received:
        payload = Webhook(secret).verify(item.body, item.headers)
        per_object.setdefault(payload["data"]["id"], []).append(payload["sequence"])
    assert set(per_object) == {a["id"] for a in actors}
    for sequences in per_object.values():
        assert sequences == sorted(sequences), "each object's events arrive in sequence order"
    doc = await _endpoint(wh_client, endpoint["id"])
    assert doc["status"] == "enabled" and doc["failingSince"] is None and doc["lastSuccessAt"] is not None


async def test_500s_are_retried_and_every_attempt_is_logged(
    wh_client: httpx.AsyncClient, wh_settings: Settings, database_url: str, conn: Any
) -> None:
    big_error = b"x" * 5000

    def respond(item: Received, n: int) -> Answer:
        return Answer(500, body=big_error) if n < 2 else Answer(200, body=b"thanks")

    receiver = Receiver(respond).start()
    try:
        endpoint = await register(wh_client, receiver.url(), enabledEvents=["actor.created"])
        async with running_worker(wh_settings, database_url):
            await make_actor(conn)

            async def delivered() -> Any:
                found = await _deliveries(wh_client, endpoint["id"])
                return found and found[0]["status"] == "delivered" and found[0]

            delivery = await eventually(delivered)
    finally:
        receiver.stop()
    assert len(set(receiver.ids())) == 1 and len(receiver.received) == 3  # one webhook-id on every retry
    assert [a["responseStatus"] for a in delivery["attempts"]] == [500, 500, 200]
    assert [a["outcome"] for a in delivery["attempts"]] == ["failed", "failed", "succeeded"]
    assert len(delivery["attempts"][0]["responseBody"]) == 2048 and delivery["attempts"][2]["responseBody"] == "thanks"
    assert all(isinstance(a["durationMs"], int) for a in delivery["attempts"])
    assert delivery["attemptCount"] == 3 and delivery["lastStatusCode"] == 200


async def test_a_binary_answer_is_logged_and_does_not_hold_up_the_batch(
    wh_client: httpx.AsyncClient, wh_settings: Settings, database_url: str, conn: Any
) -> None:
    # PostgreSQL text cannot hold NUL: recorded with the rest of its batch, it must not make the
    # batch unstorable (the deliveries would then be sent again and again).
    receiver = Receiver(lambda item, n: Answer(200, body=b"\x00\x01binary")).start()
    try:
        endpoint = await register(wh_client, receiver.url(), enabledEvents=["actor.created"])
        async with running_worker(wh_settings, database_url):
            for _ in range(5):
                await make_actor(conn)

            async def delivered() -> Any:
                found = await _deliveries(wh_client, endpoint["id"])
                return len(found) == 5 and all(d["status"] == "delivered" for d in found) and found

            found = await eventually(delivered)
    finally:
        receiver.stop()
    assert len(receiver.received) == 5
    assert {d["attempts"][0]["responseBody"] for d in found} == {"\ufffd\x01binary"}


async def test_429_retry_after_is_honoured(
    wh_client: httpx.AsyncClient, wh_settings: Settings, database_url: str, conn: Any
) -> None:
    def respond(item: Received, n: int) -> Answer:
        return Answer(429, headers={"Retry-After": "2"}) if n == 0 else Answer(200)

    receiver = Receiver(respond).start()
    try:
        await register(wh_client, receiver.url(), enabledEvents=["actor.created"])
        async with running_worker(wh_settings, database_url):
            await make_actor(conn)
            await eventually(lambda: len(receiver.received) >= 2)
    finally:
        receiver.stop()
    # The schedule alone would retry after ~0.2 s; the receiver asked for 2 s.
    assert receiver.received[1].at - receiver.received[0].at >= 1.9


async def test_410_disables_the_endpoint_with_a_reason(
    wh_client: httpx.AsyncClient, wh_settings: Settings, database_url: str, conn: Any
) -> None:
    receiver = Receiver(lambda item, n: Answer(410)).start()
    try:
        endpoint = await register(wh_client, receiver.url(), enabledEvents=["actor.created"])
        async with running_worker(wh_settings, database_url):
            await make_actor(conn)

            async def disabled() -> Any:
                doc = await _endpoint(wh_client, endpoint["id"])
                return doc["status"] == "disabled" and doc

            doc = await eventually(disabled)
            assert "410" in doc["disabledReason"]
            later = await make_actor(conn)
            sequence = await conn.fetchval("SELECT sequence FROM events WHERE object_id = $1", later["id"])
            await eventually(lambda: _cursor_past(conn, sequence))
    finally:
        receiver.stop()
    assert len(receiver.received) == 1  # no retry after 410, and nothing queued for a disabled endpoint
    assert len(await _deliveries(wh_client, endpoint["id"])) == 1


async def _cursor_past(conn: Any, sequence: int) -> bool:
    return bool(await conn.fetchval("SELECT last_sequence >= $1 FROM webhook_cursor", sequence))


async def test_an_endpoint_failing_for_five_days_is_disabled(
    wh_client: httpx.AsyncClient, wh_settings: Settings, database_url: str, conn: Any
) -> None:
    receiver = Receiver(lambda item, n: Answer(503, body=b"maintenance")).start()
    try:
        endpoint = await register(wh_client, receiver.url(), enabledEvents=["actor.created"])
        # Time travel: the endpoint has been failing for six days already.
        await conn.execute(
            "UPDATE webhook_endpoints SET failing_since = now() - interval '6 days' WHERE id = $1", endpoint["id"]
        )
        async with running_worker(wh_settings, database_url):
            await make_actor(conn)

            async def disabled() -> Any:
                doc = await _endpoint(wh_client, endpoint["id"])
                return doc["status"] == "disabled" and doc

            doc = await eventually(disabled)
    finally:
        receiver.stop()
    assert doc["disabledReason"].startswith("no successful delivery since ") and "HTTP 503" in doc["disabledReason"]


async def test_a_hanging_endpoint_times_out_without_delaying_the_others(
    wh_client: httpx.AsyncClient, settings: Settings, database_url: str, conn: Any
) -> None:
    release = threading.Event()

    def hang(item: Received, n: int) -> Answer:
        release.wait(15)
        return Answer(200)

    slow_settings = webhook_settings(settings, webhook_timeout_ms=6000, webhook_endpoint_concurrency=2)
    hanging = Receiver(hang).start()
    healthy = Receiver().start()
    try:
        slow = await register(wh_client, hanging.url(), enabledEvents=["actor.created"])
        await register(wh_client, healthy.url(), enabledEvents=["actor.created"])
        async with running_worker(slow_settings, database_url, concurrency=4):
            for _ in range(12):
                await make_actor(conn)
            # Twelve hanging deliveries could fill all four slots; the per-endpoint cap keeps two free,
            # so the healthy endpoint gets everything while the hanging one has not timed out once.
            await eventually(lambda: len(healthy.received) >= 12, timeout=5.5)
            assert 1 <= len(hanging.received) <= 2

            async def timed_out() -> Any:
                found = await _deliveries(wh_client, slow["id"])
                attempts = [a for d in found for a in d["attempts"]]
                return attempts and attempts[0]

            attempt = await eventually(timed_out, timeout=10)
            release.set()
    finally:
        release.set()
        hanging.stop()
        healthy.stop()
    assert attempt["outcome"] == "failed" and attempt["error"] == "no answer within 6 s"
    assert attempt["durationMs"] >= 5900


async def test_killing_a_worker_mid_delivery_loses_nothing(
    wh_client: httpx.AsyncClient, database_url: str, redis_url: str, conn: Any
) -> None:
    receiver = Receiver(lambda item, n: Answer(200, delay=0.3)).start()
    env = worker_env(database_url, redis_url, WEBHOOK_TIMEOUT_MS="1000")
    first = WorkerProcess(env, concurrency=4)
    second = WorkerProcess(env, concurrency=4)
    try:
        await register(wh_client, receiver.url(), enabledEvents=["actor.created"])
        start = await _head(conn)
        for _ in range(30):
            await make_actor(conn)
        expected = await _event_ids(conn, start)
        first.start()
        await eventually(lambda: len(receiver.received) >= 6, timeout=20)
        first.kill()  # SIGKILL: in-flight deliveries keep their leases until those lapse
        assert len(set(receiver.ids()) & set(expected)) < 30
        second.start()
        await eventually(lambda: set(expected) <= set(receiver.ids()), timeout=30)
    finally:
        first.close()
        second.close()
        receiver.stop()
    assert receiver.overlaps == []


async def test_a_worker_killed_in_the_middle_of_a_batch_claim_loses_nothing_and_repeats_only_that_batch(
    wh_client: httpx.AsyncClient, database_url: str, redis_url: str, conn: Any
) -> None:
    # The first worker records no outcome before it dies (a flush waits 60 s, and 60 deliveries never
    # fill a batch of 64), so it dies holding every delivery it sent: that is the batch that may be
    # sent twice. The claim it is caught in may lease more for it, or be cut off when PostgreSQL finds
    # the client gone; either must be safe. Its 32 slots never fill with unrecorded outcomes (a worker
    # stops claiming past its concurrency's worth), so it keeps claiming until it is killed; each
    # answer takes 0.3 s so it is still far from done by then.
    receiver = Receiver(lambda item, n: Answer(200, delay=0.3)).start()
    base = worker_env(database_url, redis_url, WEBHOOK_ENDPOINT_CONCURRENCY="8")
    first = WorkerProcess({**base, "WEBHOOK_BATCH_SIZE": "64", "WEBHOOK_FLUSH_MS": "60000"}, concurrency=32)
    # The second worker must send each delivery once unless the first held it: a generous timeout, so
    # that on a loaded box no 0.3 s answer times out and is retried (a duplicate of its own).
    second = WorkerProcess({**base, "WEBHOOK_TIMEOUT_MS": "10000"}, concurrency=8)
    claiming = """SELECT count(*) FROM pg_stat_activity
                  WHERE datname = current_database()  -- other tests' workers claim in their own databases
                    AND query LIKE '%candidates AS (%' AND query NOT LIKE '%pg_stat_activity%' AND state = 'active'"""
    try:
        endpoint = await register(wh_client, receiver.url(), enabledEvents=["actor.created"])
        start = await _head(conn)
        for _ in range(60):
            await make_actor(conn)
        expected = await _event_ids(conn, start)
        first.start()
        await eventually(lambda: len(receiver.received) >= 12, timeout=20)
        # The claim statement reads the event log: with the log locked, the worker's next claim is
        # sent and waits inside PostgreSQL. Kill the worker there, then let the claim go on: it
        # leases a batch for a worker that is gone (or is cut off first; either must be safe).
        locker = await connect_db(database_url)
        try:
            tx = locker.transaction()
            await tx.start()
            await locker.execute("LOCK TABLE events IN ACCESS EXCLUSIVE MODE")
            await eventually(lambda: _count_is(conn, claiming, None, 1), timeout=10)
            assert first.process is not None
            pid = first.process.pid
            first.kill()
            await tx.rollback()
        finally:
            await locker.close()
        await eventually(lambda: _count_is(conn, claiming, None, 0), timeout=10)
        sent_before = set(receiver.ids())
        assert len(sent_before & set(expected)) < len(expected), "the worker finished before it was killed"
        # The batch: what the killed worker held leased when it died (claimed, maybe sent, not recorded).
        held = {
            r["event_id"]
            for r in await conn.fetch(
                "SELECT event_id FROM webhook_deliveries WHERE endpoint_id = $1 AND status = 'pending' AND locked_by LIKE $2",
                endpoint["id"],
                f"%:{pid}:%",
            )
        }
        assert held, "the killed worker held no leased batch"
        second.start()
        await eventually(lambda: set(expected) <= set(receiver.ids()), timeout=30)
        delivered = "SELECT count(*) FROM webhook_deliveries WHERE endpoint_id = $1 AND status = 'delivered'"
        await eventually(lambda: _count_is(conn, delivered, endpoint["id"], len(expected)), timeout=15)
    finally:
        first.close()
        second.close()
        receiver.stop()
    counts = Counter(receiver.ids())
    assert set(counts) == set(expected), "every delivery arrived (none lost, nothing else sent)"
    repeated = {wid for wid, n in counts.items() if n > 1}
    assert repeated <= held, f"only the killed worker's batch may be sent twice: {sorted(repeated - held)}"
    assert all(n <= 2 for n in counts.values())
    assert receiver.overlaps == []


async def test_two_workers_never_send_the_same_delivery_at_once(
    wh_client: httpx.AsyncClient, database_url: str, redis_url: str, conn: Any
) -> None:
    receiver = Receiver(lambda item, n: Answer(200, delay=0.05)).start()
    env = worker_env(database_url, redis_url)
    workers = [WorkerProcess(env, concurrency=8), WorkerProcess(env, concurrency=8)]
    try:
        endpoint = await register(wh_client, receiver.url(), enabledEvents=["actor.created"])
        for w in workers:
            w.start()
        start = await _head(conn)
        for _ in range(40):
            await make_actor(conn)
        expected = await _event_ids(conn, start)
        await eventually(lambda: set(expected) <= set(receiver.ids()), timeout=30)
        # The receiver sees a request before the worker records its attempt: wait for the log.
        recorded = "SELECT count(*) FROM webhook_attempts WHERE endpoint_id = $1"
        await eventually(lambda: _count_is(conn, recorded, endpoint["id"], 40))
    finally:
        for w in workers:
            w.close()
        receiver.stop()
    assert receiver.overlaps == []
    assert sorted(receiver.ids()) == sorted(expected), "each delivery sent exactly once when every answer is 200"


async def _count_is(conn: Any, sql: str, arg: str | None, expected: int) -> bool:
    value = await conn.fetchval(sql, arg) if arg is not None else await conn.fetchval(sql)
    return bool(value == expected)


async def test_an_endpoint_that_refuses_connections_is_not_hammered_while_the_others_are_served(
    wh_client: httpx.AsyncClient, settings: Settings, database_url: str, conn: Any
) -> None:
    # Production's first retry (5 s): each refused delivery waits for it, and the worker leaves the
    # endpoint's other due deliveries alone for a moment instead of failing them one after another.
    short = webhook_settings(settings, webhook_retry_schedule=("0", "5"))
    dead = Receiver()  # never started: its port refuses connections
    healthy = Receiver(lambda item, n: Answer(200, delay=0.02)).start()
    try:
        refusing = await register(wh_client, dead.url(), enabledEvents=["actor.created"])
        await register(wh_client, healthy.url(), enabledEvents=["actor.created"])
        async with running_worker(short, database_url, concurrency=16):
            start = await _head(conn)
            await writes.create_many(
                conn, "actor", [{"kind": "person", "name": f"Busy {i}"} for i in range(100)], changed_by="test"
            )
            expected = await _event_ids(conn, start)
            await eventually(lambda: set(expected) <= set(healthy.ids()), timeout=20)
            tried = await conn.fetchval(
                "SELECT count(*) FROM webhook_deliveries WHERE endpoint_id = $1 AND attempt_count > 0", refusing["id"]
            )
            pending = await conn.fetchval(
                "SELECT count(*) FROM webhook_deliveries WHERE endpoint_id = $1 AND status = 'pending'", refusing["id"]
            )
    finally:
        healthy.stop()
    assert tried >= 1, "the refusing endpoint was tried"
    # All 100 were due the whole time; a pause per refusal leaves most untried while the healthy
    # endpoint's 100 go out (without it, each was claimed and failed within the first moments).
    assert tried < 50, tried
    assert pending == 100, "nothing given up: the untried and the failed wait for their turn"
