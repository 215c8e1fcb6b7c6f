"""Webhook delivery benchmark: one real ``newsfacts worker`` process delivering to a local receiver
(uvicorn, in this process). Reports deliveries/s to one endpoint, to ten healthy endpoints, and to
ten endpoints of which one hangs or refuses connections (the healthy nine should keep their rate:
ratio vs all-ten-healthy), then commit → delivery latency p50/p99 for a steady trickle of writes.

    .venv/bin/python -m bench.bench_webhooks                 # 3,000 events per throughput case
    .venv/bin/python -m bench.bench_webhooks --events 10000 --concurrency 64
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import orjson
import uvicorn

from api.embedded import free_port
from bench.common import embedded_postgres, print_table, summarise_ms
from db import writes
from db.migrate import migrate
from db.pool import Conn, connect
from db.webhooks import create_endpoint

Scope = dict[str, Any]
Message = dict[str, Any]


class Receiver:
    """An ASGI receiver: POST /ok/<n> answers 204 and records (arrival time, object id); POST /hang
    never answers; GET /_arrivals returns what was recorded. Runs in its own process (``--receiver``)
    so that it does not share a GIL with the benchmark's writer."""

    def __init__(self) -> None:
        self.arrivals: dict[str, list[tuple[float, str]]] = {}

    async def __call__(
        self, scope: Scope, receive: Callable[[], Awaitable[Message]], send: Callable[[Message], Awaitable[None]]
    ) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        path: str = scope["path"]
        answer = b""
        if path == "/_arrivals":
            answer = orjson.dumps(self.arrivals)
        elif path.startswith("/hang"):
            await asyncio.sleep(3600)
        else:
            self.arrivals.setdefault(path, []).append((time.time(), orjson.loads(body)["data"]["id"]))
        await send({"type": "http.response.start", "status": 200 if answer else 204, "headers": []})
        await send({"type": "http.response.body", "body": answer})


class ReceiverProcess:
    def __init__(self) -> None:
        self.port = free_port()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.bench_webhooks", "--receiver", str(self.port)],
            stdout=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.client = httpx.AsyncClient(base_url=f"http://127.0.0.1:{self.port}", timeout=10)
        self.arrivals: dict[str, list[tuple[float, str]]] = {}

    async def ready(self) -> None:
        for _ in range(200):
            try:
                await self.refresh()
                return
            except httpx.HTTPError:
                await asyncio.sleep(0.05)
        raise RuntimeError("the receiver did not start")

    async def refresh(self) -> None:
        self.arrivals = orjson.loads((await self.client.get("/_arrivals")).content)

    def count(self, path: str) -> int:
        return len(self.arrivals.get(path, []))

    async def stop(self) -> None:
        await self.client.aclose()
        self.process.kill()  # requests to /hang never finish: no graceful shutdown to wait for
        self.process.wait(timeout=10)


def worker(database_url: str, concurrency: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
        "WEBHOOK_REQUIRE_HTTPS": "false",
        "WEBHOOK_TIMEOUT_MS": "5000",
        "LOG_LEVEL": "warning",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "api.cli", "worker", "--concurrency", str(concurrency)],
        env=env, stdout=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip


async def reset(conn: Conn) -> None:
    """No endpoints, nothing queued, cursor at the head: each case starts clean."""
    await conn.execute("DELETE FROM webhook_endpoints")
    await conn.execute("UPDATE webhook_cursor SET last_sequence = (SELECT last FROM event_counter)")


async def register(conn: Conn, url: str) -> str:
    row = await create_endpoint(
        conn,
        None,
        url=url,
        description=None,
        enabled_events=["*"],
        secret="whsec_" + "A" * 43 + "=",
        created_by="bench",
    )
    return str(row["id"])


async def write_events(conn: Conn, n: int, batch: int = 500) -> dict[str, float]:
    """``n`` actor.created events as fast as the write service commits them; object id → commit time."""
    committed: dict[str, float] = {}
    for start in range(0, n, batch):
        docs = await writes.create_many(
            conn,
            "actor",
            [{"kind": "person", "name": f"Bench {start + i}"} for i in range(min(batch, n - start))],
            changed_by="bench",
        )
        now = time.time()
        committed.update({d["id"]: now for d in docs})
    return committed


async def wait_for(receiver: ReceiverProcess, check: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        await receiver.refresh()
        if check():
            return True
        await asyncio.sleep(0.1)
    return False


async def throughput(
    conn: Conn, receiver: ReceiverProcess, paths: list[str], healthy: list[str], events: int, seconds: float
) -> tuple[float, float]:
    """Deliveries/s (all healthy endpoints together, and per healthy endpoint) from the first commit
    to the last arrival."""
    await reset(conn)
    for path in paths:
        await register(conn, f"http://127.0.0.1:{receiver.port}{path}" if path != "/refused" else _refused_url())
    before = {p: receiver.count(p) for p in healthy}
    started = time.time()
    await write_events(conn, events)
    done = await wait_for(receiver, lambda: all(receiver.count(p) - before[p] >= events for p in healthy), seconds)
    if not done:
        print(f"warning: not every delivery arrived within {seconds:.0f} s", file=sys.stderr)
    last = max(receiver.arrivals[p][-1][0] for p in healthy)
    delivered = sum(receiver.count(p) - before[p] for p in healthy)
    seconds = last - started
    return delivered / seconds, delivered / seconds / len(healthy)


_REFUSED_PORT = free_port()


def _refused_url() -> str:
    return f"http://127.0.0.1:{_REFUSED_PORT}/refused"  # nothing listens there


async def latency(conn: Conn, receiver: ReceiverProcess, events: int, rate: float) -> dict[str, float]:
    await reset(conn)
    await register(conn, f"http://127.0.0.1:{receiver.port}/ok/latency")
    committed: dict[str, float] = {}
    for i in range(events):
        doc = await writes.create(conn, "actor", {"kind": "person", "name": f"Trickle {i}"}, changed_by="bench")
        committed[doc["id"]] = time.time()
        await asyncio.sleep(1 / rate)
    await wait_for(receiver, lambda: receiver.count("/ok/latency") >= events, 30)
    delays = [at - committed[obj] for at, obj in receiver.arrivals.get("/ok/latency", []) if obj in committed]
    return summarise_ms(delays)


async def main(args: argparse.Namespace) -> None:
    with embedded_postgres() as database_url:
        conn = await connect(database_url)
        await migrate(conn)
        receiver = ReceiverProcess()
        proc = worker(database_url, args.concurrency)
        try:
            await receiver.ready()
            await asyncio.sleep(1.0)  # the worker connects and starts listening
            rows: list[list[Any]] = []
            n = args.events
            one, _ = await throughput(conn, receiver, ["/ok/one"], ["/ok/one"], n, args.timeout)
            rows.append(["1 endpoint", n, round(one), "—"])
            ten_paths = [f"/ok/ten{i}" for i in range(10)]
            per = n // 10
            ten, ten_each = await throughput(conn, receiver, ten_paths, ten_paths, per, args.timeout)
            rows.append(["10 endpoints, all healthy", per * 10, round(ten), f"{ten_each:,.0f}/s each (baseline)"])
            for label, bad in (("hangs", "/hang"), ("refuses connections", "/refused")):
                nine = [f"/ok/{bad[1:]}{i}" for i in range(9)]
                total, each = await throughput(conn, receiver, [*nine, bad], nine, per, args.timeout)
                rows.append([f"10 endpoints, 1 {label}", per * 9, round(total), f"{each / ten_each:.2f}"])
            print_table(
                f"Webhook deliveries per second (one worker, concurrency {args.concurrency})",
                [
                    "case",
                    "deliveries to healthy endpoints",
                    "deliveries/s",
                    "healthy per-endpoint rate ratio vs all healthy",
                ],
                rows,
                note="From the first commit to the last arrival, including the fan-out from the outbox. One endpoint "
                "gets at most WEBHOOK_ENDPOINT_CONCURRENCY (4) deliveries in flight, so a single endpoint is slower "
                "than ten; a hanging endpoint holds those 4 slots until its 5 s timeout. Ratios near 1 mean the "
                "healthy nine kept their rate; the machine's other load moves all rows.",
            )
            lat = await latency(conn, receiver, args.trickle, args.trickle_rate)
            print_table(
                f"Commit → delivery latency ({args.trickle} writes at {args.trickle_rate:g}/s, idle worker)",
                ["p50 ms", "p99 ms", "mean ms", "max ms"],
                [[lat["p50"], lat["p99"], lat["mean"], lat["max"]]],
                note="NOTIFY wakes the dispatcher, which wakes the delivery loop: no polling delay on the happy path.",
            )
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
            await receiver.stop()
            await conn.close()


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--receiver":
        uvicorn.run(Receiver(), host="127.0.0.1", port=int(sys.argv[2]), log_level="error", lifespan="off")
        sys.exit(0)
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--timeout", type=float, default=120)
    parser.add_argument("--trickle", type=int, default=300)
    parser.add_argument("--trickle-rate", type=float, default=50)
    asyncio.run(main(parser.parse_args()))
