"""Live-event benchmark on real ``newsfacts serve`` processes, subscribers in separate client
processes. It prints three tables:

1. Fan-out: server CPU per delivered event with ``--fanout-subscribers`` (1,000) GraphQL
   WebSocket subscribers of one ``events`` subscription, against a bare Starlette app
   (bench/bare_broadcast.py) sending frames of the same shape and size to the same number of
   sockets of the same clients (``websockets``, offering permessage-deflate as browsers do),
   measured in the same run.
2. Latency: commit → delivery p50/p99/max and events lost (must be 0) with ``--subscribers``
   (200) at ``--rate`` (200) writes/s, on one process and split over two, against a
   one-subscriber baseline measured in the same run. The subscribers are bench/raw_subscriber.py
   clients, cheap enough to read 40,000 messages a second, so the latency is the server's.
3. Idle memory: the server's RSS growth over its idle baseline per subscriber with ``--idle``
   (10,000) idle subscribers on one process, half GraphQL WebSocket and half SSE.

    .venv/bin/python -m bench.bench_events                                   # all three tables
    .venv/bin/python -m bench.bench_events --idle 2000 --fanout-subscribers 500   # lighter
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
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.synchronize import Event as MpEvent
from pathlib import Path
from typing import Any

import httpx
import orjson
import psutil
import uvloop
import websockets

from api.embedded import free_port
from bench.common import embedded_postgres, embedded_redis, print_table, summarise_ms, temp_dir
from bench.raw_subscriber import subscribe
from db import writes
from db.ids import new_id
from db.migrate import migrate
from db.pool import connect, create_pool

QUERY = "subscription { events(types: [ACTOR_CREATED]) { sequence objectId } }"
ROOT = Path(__file__).resolve().parent.parent


# ---- client processes -------------------------------------------------------------------------


def client_worker(urls: list[str], ready: MpEvent, stop: MpEvent, results: Any, counter: Any) -> None:
    """Runs in a child process: opens one subscription per url (bench/raw_subscriber.py, cheap to
    read with, so the latency measured is the server's), records (objectId, arrival)."""

    async def main() -> None:
        streams: list[list[tuple[str, float]]] = [[] for _ in urls]

        def on_next(stream: list[tuple[str, float]]) -> Callable[[dict[str, Any]], None]:
            def arrived(payload: dict[str, Any]) -> None:
                stream.append((payload["data"]["events"]["objectId"], time.time()))
                counter.value += 1

            return arrived

        connections = await asyncio.gather(
            *(subscribe(u, QUERY, on_next(s)) for u, s in zip(urls, streams, strict=True))
        )
        ready.set()
        cpu_start = time.process_time()
        await asyncio.get_running_loop().run_in_executor(None, stop.wait)
        for c in connections:
            if c.transport is not None:
                c.transport.close()
        results.put((streams, time.process_time() - cpu_start))

    uvloop.run(main())


async def _subscriber(url: str, out: list[tuple[str, float]], opened: list[int], counter: Any) -> None:
    async with websockets.connect(
        url, subprotocols=[websockets.Subprotocol("graphql-transport-ws")], max_queue=None, open_timeout=120
    ) as ws:
        await ws.send(orjson.dumps({"type": "connection_init", "payload": {}}).decode())
        await ws.recv()
        await ws.send(orjson.dumps({"id": "1", "type": "subscribe", "payload": {"query": QUERY}}).decode())
        opened.append(1)
        async for raw in ws:
            message = orjson.loads(raw)
            if message["type"] == "next":
                out.append((message["payload"]["data"]["events"]["objectId"], time.time()))
                counter.value += 1
            elif message["type"] == "ping":
                await ws.send('{"type":"pong"}')


def browser_like_worker(urls: list[str], ready: MpEvent, stop: MpEvent, results: Any, counter: Any) -> None:
    """Runs in a child process: opens one subscription per url with the ``websockets`` library,
    which offers permessage-deflate as browsers do (the fan-out table: the bare broadcast then
    compresses each frame per socket, as it would for browsers), records (objectId, arrival)."""

    async def main() -> None:
        streams: list[list[tuple[str, float]]] = [[] for _ in urls]
        opened: list[int] = []
        tasks = [asyncio.create_task(_subscriber(u, s, opened, counter)) for u, s in zip(urls, streams, strict=True)]
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


async def _idle_websocket(url: str, opened: list[int]) -> None:
    # The client's defaults (it offers permessage-deflate, as browsers do).
    async with websockets.connect(
        url, subprotocols=[websockets.Subprotocol("graphql-transport-ws")], open_timeout=300
    ) as ws:
        await ws.send('{"type":"connection_init","payload":{}}')
        await ws.recv()
        await ws.send(orjson.dumps({"id": "1", "type": "subscribe", "payload": {"query": QUERY}}).decode())
        opened.append(1)
        async for raw in ws:
            if '"ping"' in str(raw):
                await ws.send('{"type":"pong"}')


async def _idle_sse(port: int, opened: list[int]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(
            b"GET /v1/events/stream?type=actor.created HTTP/1.1\r\nHost: bench\r\nAccept: text/event-stream\r\n\r\n"
        )
        await reader.readuntil(b": connected")
        opened.append(1)
        while await reader.read(65536):
            pass
    finally:
        writer.close()


def idle_worker(ws_urls: list[str], sse_ports: list[int], ready: MpEvent, stop: MpEvent) -> None:
    """Runs in a child process: holds idle WebSocket subscriptions and SSE streams until ``stop``."""

    async def main() -> None:
        opened: list[int] = []
        tasks = [asyncio.create_task(_idle_websocket(u, opened)) for u in ws_urls]
        tasks += [asyncio.create_task(_idle_sse(p, opened)) for p in sse_ports]
        while len(opened) < len(tasks):
            failed = [t for t in tasks if t.done() and t.exception()]
            if failed:
                raise RuntimeError(f"{len(failed)} idle subscribers failed: {failed[0].exception()!r}")
            await asyncio.sleep(0.05)
        ready.set()
        await asyncio.get_running_loop().run_in_executor(None, stop.wait)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

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

    def cpu(self) -> float:
        return float(sum(psutil.Process(self.process.pid).cpu_times()[:2]))


def _wait_healthy(proc: subprocess.Popen[bytes], port: int, log: Path) -> Server:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return Server(proc, port)
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"server did not start; see {log}")


def start_server(database_url: str, redis_url: str, log: Path, root: Path | None = None) -> Server:
    """``newsfacts serve`` of this checkout, or of the one at ``root`` (its code first on the path)."""
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url, "PORT": str(port),
           "LOG_LEVEL": "warning", "SUBSCRIPTIONS_PER_CONNECTION": "5", "ANONYMOUS_READS": "true"}  # fmt: skip
    if root is not None:
        env["PYTHONPATH"] = str(root)
    with open(log, "ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "api.cli", "serve"], env=env, stdout=out, stderr=out, cwd=root)
    return _wait_healthy(proc, port, log)


def start_bare(log: Path) -> Server:
    """bench/bare_broadcast.py under uvicorn: the stack's floor for a broadcast."""
    port = free_port()
    cmd = [sys.executable, "-m", "uvicorn", "bench.bare_broadcast:app", "--loop", "uvloop", "--http", "httptools",
           "--port", str(port), "--log-level", "warning", "--no-access-log"]  # fmt: skip
    with open(log, "ab") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=out, cwd=ROOT)
    return _wait_healthy(proc, port, log)


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
        # Writes beyond the pool wait here, not in the pool's acquire (which times out): on a
        # loaded machine the rate then falls behind, and each latency still counts from its commit.
        slots = asyncio.Semaphore(16)

        async def one() -> None:
            async with slots, pool.acquire() as conn:
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


def bare_broadcast(server: Server, rate: float, seconds: float) -> dict[str, float]:
    """Have the bare app send ``rate * seconds`` frames to its sockets; objectId → time asked."""
    ids = [new_id("actor") for _ in range(int(rate * seconds))]
    asked = time.time()
    httpx.post(f"http://127.0.0.1:{server.port}/broadcast", json={"ids": ids, "rate": rate}, timeout=600)
    return dict.fromkeys(ids, asked)


# ---- one scenario -----------------------------------------------------------------------------


def run_case(
    servers: list[Server],
    subscribers: int,
    clients: int,
    drive: Callable[[], dict[str, float]],
    worker: Callable[..., None] = client_worker,
    client_nice: int = 0,
) -> dict[str, Any]:
    """``subscribers`` subscriptions spread over ``servers``; ``drive()`` makes the events happen
    and returns objectId → commit time. Counts what each subscriber got and the servers' CPU."""
    ctx = mp.get_context("spawn")
    urls = [servers[i % len(servers)].ws for i in range(subscribers)]
    shares = [urls[i::clients] for i in range(clients)]
    shares = [s for s in shares if s]
    stop = ctx.Event()
    results: Any = ctx.Queue()
    readies = [ctx.Event() for _ in shares]
    counters = [ctx.RawValue("q", 0) for _ in shares]
    procs = [
        ctx.Process(target=worker, args=(share, ready, stop, results, counter))
        for share, ready, counter in zip(shares, readies, counters, strict=True)
    ]
    for p in procs:
        p.start()
        if client_nice and p.pid is not None:
            # Clients on machines of their own read a frame as it arrives; on this shared box they wait
            # for a core behind the server, PostgreSQL and Redis unless they are scheduled first.
            os.setpriority(os.PRIO_PROCESS, p.pid, client_nice)
    deadline = time.monotonic() + 180
    for ready in readies:
        if not ready.wait(max(0.0, deadline - time.monotonic())):
            raise RuntimeError("subscribers did not connect")
    time.sleep(1.0)
    cpu_before = sum(s.cpu() for s in servers)
    started = time.perf_counter()
    committed = drive()
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
    server_cpu_s = sum(s.cpu() for s in servers) - cpu_before
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
        "server_cpu": server_cpu_s / drained,
        "cpu_us_per_delivery": server_cpu_s * 1e6 / max(1, len(latencies)),
        "throughput": len(latencies) / drained,
        "client_cpu": client_cpu_s / drained,
    }


def idle_case(server: Server, websockets_n: int, sse_n: int, clients: int) -> dict[str, float]:
    """The server's RSS growth per idle subscriber: ``websockets_n`` GraphQL subscriptions first,
    then ``sse_n`` SSE streams on top, each step measured after the server settles."""
    ctx = mp.get_context("spawn")
    stop = ctx.Event()
    procs: list[Any] = []

    def open_(ws_urls: list[str], sse_ports: list[int]) -> None:
        readies = []
        for i in range(clients):
            ws_share, sse_share = ws_urls[i::clients], sse_ports[i::clients]
            if not ws_share and not sse_share:
                continue
            ready = ctx.Event()
            readies.append(ready)
            procs.append(ctx.Process(target=idle_worker, args=(ws_share, sse_share, ready, stop)))
            procs[-1].start()
        deadline = time.monotonic() + 600
        for ready in readies:
            if not ready.wait(max(0.0, deadline - time.monotonic())):
                raise RuntimeError("idle subscribers did not connect")
        time.sleep(3.0)

    try:
        open_([server.ws], [server.port])  # warm up: code paths and first allocations
        base = server.rss()
        open_([server.ws] * websockets_n, [])
        after_ws = server.rss()
        open_([], [server.port] * sse_n)
        after_sse = server.rss()
    finally:
        stop.set()
        for p in procs:
            p.join(timeout=60)
    return {
        "ws_kib": (after_ws - base) / 1024 / max(1, websockets_n),
        "sse_kib": (after_sse - after_ws) / 1024 / max(1, sse_n),
        "all_kib": (after_sse - base) / 1024 / max(1, websockets_n + sse_n),
        "base_mib": base / 2**20,
        "peak_mib": after_sse / 2**20,
    }


async def _migrate(database_url: str) -> None:
    conn = await connect(database_url)
    try:
        await migrate(conn)
    finally:
        await conn.close()


def compare_with(root: Path, args: argparse.Namespace) -> None:
    """Baseline checkout and this one, one process each, in turn (twice, ABAB, so drift shows) on
    one database: the server CPU each delivered event costs, as a ratio to the baseline."""
    with temp_dir() as folder, embedded_postgres(folder) as pg_url, embedded_redis(folder) as redis_url:
        asyncio.run(_migrate(pg_url))
        rows = []
        per_delivery: dict[str, list[float]] = {"baseline": [], "this code": []}
        for turn in range(2):
            for label, code_root in (("baseline", root), ("this code", None)):
                server = start_server(pg_url, redis_url, folder / f"{label}.log", code_root)
                try:
                    r = run_case(
                        [server], args.subscribers, args.clients,
                        lambda: asyncio.run(write_at_rate(pg_url, args.rate, args.seconds)),
                    )  # fmt: skip
                finally:
                    stop_server(server)
                per_delivery[label].append(r["cpu_us_per_delivery"])
                lat = r["latency"]
                rows.append([
                    f"{label} (turn {turn + 1})", r["events"], r["deliveries"], r["lost"], f"{lat['p50']:.1f}",
                    f"{lat['p99']:.1f}", f"{r['throughput']:,.0f}", f"{r['cpu_us_per_delivery']:.1f}",
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


def fanout_table(pg_url: str, redis_url: str, folder: Path, args: argparse.Namespace) -> None:
    n, rate, seconds = args.fanout_subscribers, args.fanout_rate, args.seconds
    ours = start_server(pg_url, redis_url, folder / "fanout.log")
    try:
        mine = run_case(
            [ours], n, args.clients, lambda: asyncio.run(write_at_rate(pg_url, rate, seconds)), browser_like_worker
        )
    finally:
        stop_server(ours)
    bare = start_bare(folder / "bare.log")
    try:
        floor = run_case([bare], n, args.clients, lambda: bare_broadcast(bare, rate, seconds), browser_like_worker)
    finally:
        stop_server(bare)
    rows = []
    for label, r in (("newsfacts: events subscription, shared", mine), ("bare Starlette broadcast", floor)):
        rows.append([
            label, r["events"], r["deliveries"], r["lost"], f"{r['throughput']:,.0f}",
            f"{r['server_cpu']:.2f}", f"{r['cpu_us_per_delivery']:.1f}",
            f"{r['cpu_us_per_delivery'] / floor['cpu_us_per_delivery']:.2f}",
        ])  # fmt: skip
    print_table(
        f"Fan-out: {n:,} GraphQL WebSocket subscribers on 1 process, {rate:.0f} events/s for {seconds:.0f} s",
        [
            "server",
            "events",
            "deliveries",
            "lost",
            "deliveries/s",
            "server CPU cores busy",
            "server CPU µs / delivery",
            "ratio vs bare broadcast",
        ],
        rows,
        note=(
            "Server CPU = the server process's utime+stime while the events were delivered, divided by "
            "the deliveries the clients received. The bare broadcast sends frames of the same shape and "
            "size (`next` of `events { sequence objectId }`) with `await websocket.send_text` to the "
            "same number of sockets of the same client code (bench/bare_broadcast.py), `websockets` "
            "clients offering permessage-deflate as browsers do; newsfacts' figure also includes committing each event's outbox relay and broadcaster work."
        ),
    )


def latency_table(pg_url: str, redis_url: str, folder: Path, args: argparse.Namespace) -> None:
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
        for label, servers, n in cases:
            r = run_case(
                servers, n, min(args.clients, n),
                lambda: asyncio.run(write_at_rate(pg_url, args.rate, args.seconds)),
                client_nice=args.client_nice,
            )  # fmt: skip
            lat = r["latency"]
            base_p99 = base_p99 or lat["p99"]
            rows.append([
                label, r["events"], r["deliveries"], r["lost"], r["duplicates"],
                f"{lat['p50']:.1f}", f"{lat['p99']:.1f}", f"{lat['max']:.1f}", f"{lat['p99'] / base_p99:.2f}",
                f"{r['throughput']:,.0f}", f"{r['server_cpu']:.2f}", f"{r['client_cpu']:.2f}",
            ])  # fmt: skip
    finally:
        stop_server(a)
        stop_server(b)
    print_table(
        f"Latency: commit → delivery over GraphQL WebSocket, {args.rate:.0f} writes/s for {args.seconds:.0f} s",
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
            "Lost = events a subscriber never received once arrivals had stalled for 10 s (or after 300 s). "
            "Writes commit through the write service from the bench process; latency is from the commit "
            f"returning to the message arriving at a client process ({os.cpu_count()} CPUs shared by "
            "PostgreSQL, Redis, the servers and the clients; load average at the end "
            f"{os.getloadavg()[0]:.1f} — CPU columns are the share each side actually got)."
            + (f" Client processes at nice {args.client_nice}." if args.client_nice else "")
        ),
    )


def idle_table(pg_url: str, redis_url: str, folder: Path, args: argparse.Namespace) -> None:
    ws_n = args.idle // 2
    sse_n = args.idle - ws_n
    server = start_server(pg_url, redis_url, folder / "idle.log")
    try:
        r = idle_case(server, ws_n, sse_n, args.idle_clients)
    finally:
        stop_server(server)
    rows = [
        [f"{ws_n:,} GraphQL WebSocket subscriptions", f"{r['ws_kib']:.1f}"],
        [f"{sse_n:,} SSE streams", f"{r['sse_kib']:.1f}"],
        [f"all {args.idle:,}", f"{r['all_kib']:.1f}"],
    ]
    print_table(
        f"Idle memory: {args.idle:,} subscribers on 1 process, half WebSocket, half SSE",
        ["subscribers", "server RSS growth KiB / subscriber"],
        rows,
        note=(
            f"RSS of the server process: {r['base_mib']:.0f} MiB idle (after one subscriber of each kind "
            f"came and went), {r['peak_mib']:.0f} MiB with every subscriber connected. WebSocket clients "
            "offer permessage-deflate, as browsers do; SSE clients are anonymous `type=actor.created` streams."
        ),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subscribers", type=int, default=200, help="subscribers of the latency table")
    parser.add_argument("--rate", type=float, default=200.0, help="writes per second of the latency table")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--fanout-subscribers", type=int, default=1000)
    parser.add_argument("--fanout-rate", type=float, default=5.0, help="events per second of the fan-out table")
    parser.add_argument("--idle", type=int, default=10_000, help="idle subscribers (half WebSocket, half SSE)")
    parser.add_argument("--clients", type=int, default=2, help="client processes holding the subscriptions")
    parser.add_argument(
        "--client-nice",
        type=int,
        default=0,
        help="the latency table's client processes at this nice value (negative: scheduled before the server; root)",
    )
    parser.add_argument("--idle-clients", type=int, default=4, help="client processes holding idle subscribers")
    parser.add_argument(
        "--only", choices=["fanout", "latency", "idle"], action="append", help="print only these tables"
    )
    parser.add_argument(
        "--baseline-root", type=Path, help="compare with the checkout at this path instead (see the docstring)"
    )
    args = parser.parse_args()
    if args.baseline_root is not None:
        compare_with(args.baseline_root.resolve(), args)
        return
    tables = args.only or ["fanout", "latency", "idle"]
    with temp_dir() as folder, embedded_postgres(folder) as pg_url, embedded_redis(folder) as redis_url:
        asyncio.run(_migrate(pg_url))
        if "fanout" in tables:
            fanout_table(pg_url, redis_url, folder, args)
        if "latency" in tables:
            latency_table(pg_url, redis_url, folder, args)
        if "idle" in tables and args.idle > 0:
            idle_table(pg_url, redis_url, folder, args)


if __name__ == "__main__":
    main()
