"""Live-event benchmark: N GraphQL WebSocket subscribers (graphql-transport-ws, ``events``
subscription) on real ``newsfacts serve`` processes while writes commit at a fixed rate. Reports
commit → delivery latency p50/p99/max and events lost (must be 0) with every subscriber on one
process and split over two, against a one-subscriber baseline measured in the same run, plus the
server memory each idle subscriber costs. Subscribers run in separate client processes.

    .venv/bin/python -m bench.bench_events                                   # 200 subscribers, 200 writes/s
    .venv/bin/python -m bench.bench_events --subscribers 1000 --rate 200 --seconds 10
    # this code against another checkout of it (e.g. `git worktree add /tmp/base main`), one process
    # each in turn, on the same database: server CPU per delivered event, before and after a change
    .venv/bin/python -m bench.bench_events --baseline-root /tmp/base
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from multiprocessing.synchronize import Event as MpEvent
from pathlib import Path
from typing import Any

import httpx
import orjson
import psutil
import websockets

from api.embedded import free_port
from bench.common import embedded_postgres, embedded_redis, print_table, summarise_ms, temp_dir
from db import writes
from db.migrate import migrate
from db.pool import connect, create_pool

QUERY = "subscription { events(types: [ACTOR_CREATED]) { sequence objectId } }"


# ---- client processes -------------------------------------------------------------------------


async def _subscriber(
    url: str, ready: asyncio.Event, out: list[tuple[str, float]], opened: list[int], counter: Any
) -> None:
    async with websockets.connect(
        url, subprotocols=[websockets.Subprotocol("graphql-transport-ws")], max_queue=None, open_timeout=60
    ) as ws:
        await ws.send(orjson.dumps({"type": "connection_init", "payload": {}}).decode())
        await ws.recv()
        await ws.send(orjson.dumps({"id": "1", "type": "subscribe", "payload": {"query": QUERY}}).decode())
        opened.append(1)
        ready.set()
        async for raw in ws:
            message = orjson.loads(raw)
            if message["type"] == "next":
                out.append((message["payload"]["data"]["events"]["objectId"], time.time()))
                counter.value += 1
            elif message["type"] == "ping":
                await ws.send('{"type":"pong"}')


def client_worker(urls: list[str], ready: MpEvent, stop: MpEvent, results: Any, counter: Any) -> None:
    """Runs in a child process: opens one subscription per url, records (objectId, arrival)."""

    async def main() -> None:
        streams: list[list[tuple[str, float]]] = [[] for _ in urls]
        opened: list[int] = []
        tasks = [
            asyncio.create_task(_subscriber(u, asyncio.Event(), s, opened, counter))
            for u, s in zip(urls, streams, strict=True)
        ]
        while len(opened) < len(urls):
            if any(t.done() and t.exception() for t in tasks):
                raise RuntimeError(next(t.exception() for t in tasks if t.done() and t.exception()))
            await asyncio.sleep(0.05)
        ready.set()
        cpu_start = time.process_time()
        await asyncio.get_running_loop().run_in_executor(None, stop.wait)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        results.put((streams, time.process_time() - cpu_start))

    asyncio.run(main())


# ---- servers and writes ------------------------------------------------------------------------


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}/graphql"

    def rss(self) -> int:
        return int(psutil.Process(self.process.pid).memory_info().rss)


def start_server(database_url: str, redis_url: str, log: Path, root: Path | None = None) -> Server:
    """``newsfacts serve`` of this checkout, or of the one at ``root`` (its code first on the path)."""
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url, "PORT": str(port),
           "LOG_LEVEL": "warning", "SUBSCRIPTIONS_PER_CONNECTION": "5"}  # fmt: skip
    if root is not None:
        env["PYTHONPATH"] = str(root)
    with open(log, "ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "api.cli", "serve"], env=env, stdout=out, stderr=out, cwd=root)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return Server(proc, port)
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"server did not start; see {log}")


def stop_server(server: Server) -> None:
    server.process.send_signal(signal.SIGTERM)
    try:
        server.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.process.kill()


async def write_at_rate(database_url: str, rate: float, seconds: float) -> dict[str, float]:
    """Create actors at ``rate`` per second; returns objectId → commit time."""
    committed: dict[str, float] = {}
    pool = await create_pool(database_url, min_size=4, max_size=16)
    try:
        start = time.perf_counter()
        total = int(rate * seconds)

        async def one() -> None:
            async with pool.acquire() as conn:
                doc = await writes.create(
                    conn, "actor", {"kind": "person", "name": uuid.uuid4().hex}, changed_by="bench"
                )
            committed[doc["id"]] = time.time()

        tasks = []
        for i in range(total):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one()))
        await asyncio.gather(*tasks)
    finally:
        await pool.close()
    return committed


# ---- one scenario -----------------------------------------------------------------------------


def run_case(
    servers: list[Server], database_url: str, subscribers: int, rate: float, seconds: float, clients: int
) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    urls = [servers[i % len(servers)].ws for i in range(subscribers)]
    shares = [urls[i::clients] for i in range(clients)]
    shares = [s for s in shares if s]
    stop = ctx.Event()
    results: Any = ctx.Queue()
    readies = [ctx.Event() for _ in shares]
    rss_before = sum(s.rss() for s in servers)
    counters = [ctx.RawValue("q", 0) for _ in shares]
    procs = [
        ctx.Process(target=client_worker, args=(share, ready, stop, results, counter))
        for share, ready, counter in zip(shares, readies, counters, strict=True)
    ]
    for p in procs:
        p.start()
    deadline = time.monotonic() + 120
    for ready in readies:
        if not ready.wait(max(0.0, deadline - time.monotonic())):
            raise RuntimeError("subscribers did not connect")
    time.sleep(1.0)
    rss_idle = sum(s.rss() for s in servers)
    server_cpu = [psutil.Process(s.process.pid) for s in servers]
    cpu_before = sum(sum(p.cpu_times()[:2]) for p in server_cpu)
    started = time.perf_counter()
    committed = asyncio.run(write_at_rate(database_url, rate, seconds))
    # Drain: until every subscriber has every event, or arrivals stall for 10 s (bounded at 300 s).
    expected = len(committed) * subscribers
    last, stalled_since, cap = -1, time.monotonic(), time.monotonic() + 300
    while time.monotonic() < cap:
        got = sum(c.value for c in counters)
        if got >= expected:
            break
        if got != last:
            last, stalled_since = got, time.monotonic()
        elif time.monotonic() - stalled_since > 10:
            break
        time.sleep(0.05)
    drained = time.perf_counter() - started
    server_cpu_s = sum(sum(p.cpu_times()[:2]) for p in server_cpu) - cpu_before
    stop.set()
    streams: list[list[tuple[str, float]]] = []
    client_cpu_s = 0.0
    for _ in procs:
        got_streams, cpu = results.get(timeout=120)
        streams.extend(got_streams)
        client_cpu_s += cpu
    for p in procs:
        p.join(timeout=30)
    latencies: list[float] = []
    lost = duplicates = 0
    for stream in streams:
        seen = {object_id for object_id, _ in stream if object_id in committed}
        lost += len(committed) - len(seen)
        duplicates += len(stream) - len({object_id for object_id, _ in stream})
        latencies.extend(max(0.0, t - committed[o]) for o, t in stream if o in committed)
    return {
        "subscribers": subscribers,
        "processes": len(servers),
        "events": len(committed),
        "deliveries": len(latencies),
        "lost": lost,
        "duplicates": duplicates,
        "latency": summarise_ms(latencies),
        "idle_kb_per_subscriber": (rss_idle - rss_before) / 1024 / max(1, subscribers),
        "server_cpu": server_cpu_s / drained,
        "throughput": len(latencies) / drained,
        "client_cpu": client_cpu_s / drained,
    }


def compare_with(root: Path, args: argparse.Namespace) -> None:
    """Baseline checkout and this one, one process each, in turn (twice, ABAB, so drift shows) on
    one database: the server CPU each delivered event costs, as a ratio to the baseline."""
    with temp_dir() as folder, embedded_postgres(folder) as pg_url, embedded_redis(folder) as redis_url:

        async def prepare() -> None:
            conn = await connect(pg_url)
            try:
                await migrate(conn)
            finally:
                await conn.close()

        asyncio.run(prepare())
        rows = []
        per_delivery: dict[str, list[float]] = {"baseline": [], "this code": []}
        for turn in range(2):
            for label, code_root in (("baseline", root), ("this code", None)):
                server = start_server(pg_url, redis_url, folder / f"{label}.log", code_root)
                try:
                    r = run_case([server], pg_url, args.subscribers, args.rate, args.seconds, args.clients)
                finally:
                    stop_server(server)
                cpu_ms = r["server_cpu"] * 1000 / max(1.0, r["throughput"])
                per_delivery[label].append(cpu_ms)
                lat = r["latency"]
                rows.append([
                    f"{label} (turn {turn + 1})", r["events"], r["deliveries"], r["lost"], f"{lat['p50']:.1f}",
                    f"{lat['p99']:.1f}", f"{r['throughput']:,.0f}", f"{cpu_ms * 1000:.1f}",
                ])  # fmt: skip
    base = sum(per_delivery["baseline"]) / len(per_delivery["baseline"])
    mine = sum(per_delivery["this code"]) / len(per_delivery["this code"])
    print_table(
        f"Live events, baseline ({root}) vs this code: {args.subscribers} subscribers on 1 process, "
        f"{args.rate:.0f} writes/s for {args.seconds:.0f} s",
        ["case", "events", "deliveries", "lost", "p50 ms", "p99 ms", "deliveries/s", "server CPU µs / delivery"],
        rows,
        note=(
            f"Server CPU per delivered event, this code ÷ baseline (mean of the turns): {mine / base:.2f}. "
            "Anonymous subscribers, so the recall rules apply where the code has them. The machine is "
            "shared: compare ratios, not absolute figures."
        ),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subscribers", type=int, default=200)
    parser.add_argument("--rate", type=float, default=200.0, help="writes per second")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=2, help="client processes holding the subscriptions")
    parser.add_argument(
        "--baseline-root", type=Path, help="compare with the checkout at this path instead (see the docstring)"
    )
    args = parser.parse_args()
    if args.baseline_root is not None:
        compare_with(args.baseline_root.resolve(), args)
        return

    with temp_dir() as folder, embedded_postgres(folder) as pg_url, embedded_redis(folder) as redis_url:

        async def prepare() -> None:
            conn = await connect(pg_url)
            try:
                await migrate(conn)
            finally:
                await conn.close()

        asyncio.run(prepare())
        a = start_server(pg_url, redis_url, folder / "a.log")
        b = start_server(pg_url, redis_url, folder / "b.log")
        try:
            cases = [
                ("baseline: 1 subscriber, 1 process", [a], 1),
                (f"{args.subscribers} subscribers, 1 process", [a], args.subscribers),
                (f"{args.subscribers} subscribers, 2 processes", [a, b], args.subscribers),
            ]
            rows = []
            base_p99 = None
            idle_kb = None
            for label, servers, n in cases:
                r = run_case(servers, pg_url, n, args.rate, args.seconds, min(args.clients, n))
                lat = r["latency"]
                base_p99 = base_p99 or lat["p99"]
                if n == args.subscribers and len(servers) == 1:
                    idle_kb = r["idle_kb_per_subscriber"]
                rows.append([
                    label, r["events"], r["deliveries"], r["lost"], r["duplicates"],
                    f"{lat['p50']:.1f}", f"{lat['p99']:.1f}", f"{lat['max']:.1f}", f"{lat['p99'] / base_p99:.2f}",
                    f"{r['throughput']:,.0f}", f"{r['server_cpu']:.2f}", f"{r['client_cpu']:.2f}",
                ])  # fmt: skip
        finally:
            stop_server(a)
            stop_server(b)

    print_table(
        f"Live events: commit → delivery over GraphQL WebSocket, {args.rate:.0f} writes/s for {args.seconds:.0f} s",
        [
            "case",
            "events",
            "deliveries",
            "lost",
            "duplicates",
            "p50 ms",
            "p99 ms",
            "max ms",
            "p99 ratio vs baseline",
            "deliveries/s",
            "server CPU cores busy",
            "client CPU cores busy",
        ],
        rows,
        note=(
            f"Memory per idle subscriber (server RSS growth / subscribers, 1 process): {idle_kb:.1f} KiB. "
            "Lost = events a subscriber never received once arrivals had stalled for 10 s (or after 300 s). "
            f"Writes commit through the write service from the bench process; latency is from the commit "
            f"returning to the message arriving at a client process ({os.cpu_count()} CPUs shared by "
            "PostgreSQL, Redis, the servers and the clients; load average at the end "
            f"{os.getloadavg()[0]:.1f} — CPU columns are the share each side actually got)."
        ),
    )


if __name__ == "__main__":
    main()
