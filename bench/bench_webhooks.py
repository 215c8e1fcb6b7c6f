"""Webhook delivery benchmark: a backlog of deliveries to 50 endpoints on a local receiver (uvicorn,
its own process), drained by one real ``newsfacts worker`` process. Against it, in the same run, a
bare client loop (its own process) posts the same signed bodies to the same endpoints with the
same number in flight: once with aiohttp, once with httpx (the worker's client is the one that
wins here). Reports deliveries/s, the ratio to the bare loop, CPU per delivery of each process,
deliveries lost and duplicated (the receiver counts webhook-ids), then fairness: the 49 healthy
endpoints' rate when the 50th hangs or refuses connections, as a slowdown against all 50 healthy
(1.0 = no slowdown). Last, commit → delivery latency for a steady trickle of writes.

    .venv/bin/python -m bench.bench_webhooks                  # 300 events to 50 endpoints, 3 rounds
    .venv/bin/python -m bench.bench_webhooks --events 600 --rounds 5 --concurrency 128
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import pickle
import resource
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from statistics import median
from typing import Any

import httpx
import orjson
import psutil
import uvicorn
import uvloop

from api.embedded import free_port
from api.webhooks import signing
from bench.common import embedded_postgres, print_table, summarise_ms
from db import webhooks, writes
from db.migrate import migrate
from db.pool import Conn, connect

Scope = dict[str, Any]
Message = dict[str, Any]
SECRET = "whsec_" + "A" * 43 + "="
ENDPOINTS = 50
PER_ENDPOINT = 4  # WEBHOOK_ENDPOINT_CONCURRENCY's default, for the worker and the bare loops alike


class Receiver:
    """An ASGI receiver: POST /ok/<n> answers 204 and records (arrival time, webhook-id); POST /hang
    never answers; GET /_count is how many /ok requests arrived, GET /_arrivals what they were. Its
    own process (``--receiver``), so it shares no GIL with the writer or the bare loops."""

    def __init__(self) -> None:
        self.arrivals: dict[str, list[tuple[float, str]]] = {}
        self.count = 0

    async def __call__(
        self, scope: Scope, receive: Callable[[], Awaitable[Message]], send: Callable[[Message], Awaitable[None]]
    ) -> None:
        if scope["type"] != "http":
            return
        while (await receive()).get("more_body"):
            pass  # the body is signed and sent; the receiver only counts it
        path: str = scope["path"]
        answer = b""
        if path == "/_arrivals":
            answer = orjson.dumps(self.arrivals)
        elif path == "/_count":
            answer = str(self.count).encode()
        elif path.startswith("/hang"):
            await asyncio.sleep(3600)
        else:
            wid = next((v.decode() for k, v in scope["headers"] if k == b"webhook-id"), "")
            self.arrivals.setdefault(path, []).append((time.time(), wid))
            self.count += 1
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
        self.client = httpx.AsyncClient(base_url=f"http://127.0.0.1:{self.port}", timeout=30)

    async def ready(self) -> None:
        for _ in range(200):
            try:
                await self.count()
                return
            except httpx.HTTPError:
                await asyncio.sleep(0.05)
        raise RuntimeError("the receiver did not start")

    async def count(self) -> int:
        return int((await self.client.get("/_count")).content)

    async def arrivals(self) -> dict[str, list[tuple[float, str]]]:
        found: dict[str, list[tuple[float, str]]] = orjson.loads((await self.client.get("/_arrivals")).content)
        return found

    async def stop(self) -> None:
        await self.client.aclose()
        self.process.kill()  # requests to /hang never finish: no graceful shutdown to wait for
        self.process.wait(timeout=10)


PROFILE: list[str] = []  # --profile: cProfile files of the worker processes go here


def start_worker(database_url: str, concurrency: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
        "WEBHOOK_REQUIRE_HTTPS": "false",
        "WEBHOOK_TIMEOUT_MS": "5000",
        "WEBHOOK_ENDPOINT_CONCURRENCY": str(PER_ENDPOINT),
        "LOG_LEVEL": "warning",
    }
    # --profile runs the worker under cProfile (one file per worker process; slower, for shares only).
    profile = ["-m", "cProfile", "-o", f"{PROFILE[0]}.{len(PROFILE)}"] if PROFILE else []
    if PROFILE:
        PROFILE.append(profile[-1])
    return subprocess.Popen(
        [sys.executable, *profile, "-m", "api.cli", "worker", "--concurrency", str(concurrency)],
        env=env, stdout=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip


def _spread(values: list[float]) -> str:
    return f"{median(values):,.0f} ({min(values):,.0f}-{max(values):,.0f})"


def cpu_seconds(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


async def postgres_cpu(conn: Conn) -> float:
    """CPU seconds of every PostgreSQL process alive now (the worker's pooled backends among them)."""
    postmaster = psutil.Process(int(await conn.fetchval("SELECT pg_backend_pid()"))).parent()
    assert postmaster is not None
    total = 0.0
    for proc in [postmaster, *postmaster.children()]:
        with contextlib.suppress(psutil.NoSuchProcess):
            total += cpu_seconds(proc.pid)
    return total


async def reset(conn: Conn) -> None:
    """No endpoints, nothing queued, cursor at the head: each case starts clean."""
    await conn.execute("DELETE FROM webhook_endpoints")
    await conn.execute("UPDATE webhook_cursor SET last_sequence = (SELECT last FROM event_counter)")


async def register(conn: Conn, url: str) -> str:
    row = await webhooks.create_endpoint(
        conn, None, url=url, description=None, enabled_events=["*"], secret=SECRET, created_by="bench"
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


async def backlog(conn: Conn, events: int) -> int:
    """Write ``events`` events and fan them out into deliveries here (the worker is stopped):
    returns how many deliveries are queued."""
    await write_events(conn, events)
    while True:
        consumed = await webhooks.dispatch(conn, batch=1000)
        if consumed == 0:
            break
        if consumed is None:  # the stopped worker was caught holding the cursor: cannot happen when idle
            raise RuntimeError("the webhook cursor is locked")
    return int(await conn.fetchval("SELECT count(*) FROM webhook_deliveries WHERE status = 'pending'"))


async def signed_bodies(conn: Conn, limit: int) -> list[tuple[str, dict[str, str], bytes]]:
    """The pending deliveries as the worker would send them: (path, headers, body), signed."""
    rows = await conn.fetch(
        """SELECT d.id, w.url, e.id AS event_id, e.type, e.created_at, e.sequence,
                  event_public_data(e.object_type, e.object_id, e.data) AS data
           FROM webhook_deliveries d JOIN webhook_endpoints w ON w.id = d.endpoint_id JOIN events e ON e.id = d.event_id
           WHERE d.status = 'pending' ORDER BY d.next_attempt_at LIMIT $1""",
        limit,
    )
    out = []
    now = int(time.time())
    for r in rows:
        body = orjson.dumps(
            {"id": r["event_id"], "type": r["type"], "timestamp": r["created_at"].isoformat(),
             "sequence": r["sequence"], "data": r["data"]}
        )  # fmt: skip
        headers = {
            **signing.headers([SECRET], r["event_id"], now, body),
            "content-type": "application/json",
            "user-agent": "newsfacts-bench/1",
        }
        out.append((r["url"], headers, body))
    return out


async def drain(
    conn: Conn, receiver: ReceiverProcess, database_url: str, concurrency: int, paths: list[str], events: int,
    seconds: float,
) -> dict[str, Any]:  # fmt: skip
    """Queue a backlog for ``paths`` with the worker paused (SIGSTOP), then let it drain: rate from
    its release to the last arrival at a healthy endpoint, its CPU over that span, lost and
    duplicated deliveries (by webhook-id, at the healthy endpoints)."""
    proc = start_worker(database_url, concurrency)
    try:
        await asyncio.sleep(2.0)  # imports, pool, LISTEN: then it idles
        await reset(conn)
        os.kill(proc.pid, signal.SIGSTOP)
        ids: dict[str, str] = {}
        for path in paths:
            url = _refused_url() if path == "/refused" else f"http://127.0.0.1:{receiver.port}{path}"
            ids[await register(conn, url)] = path
        queued = await backlog(conn, events)
        healthy = [p for p in paths if p.startswith("/ok")]
        expected_rows = await conn.fetch(
            "SELECT d.event_id, d.endpoint_id FROM webhook_deliveries d WHERE status = 'pending'"
        )
        # The webhook-id is the event's id, the same at every endpoint: count (endpoint, webhook-id).
        expected = Counter(
            (ids[r["endpoint_id"]], r["event_id"]) for r in expected_rows if ids[r["endpoint_id"]] in healthy
        )
        base = await receiver.count()
        cpu0, pg0, started = cpu_seconds(proc.pid), await postgres_cpu(conn), time.time()
        os.kill(proc.pid, signal.SIGCONT)
        deadline = time.monotonic() + seconds
        target = base + sum(expected.values())
        while time.monotonic() < deadline:
            if await receiver.count() >= target:
                break
            await asyncio.sleep(0.05)
        cpu1, pg1 = cpu_seconds(proc.pid), await postgres_cpu(conn)
        arrivals = await receiver.arrivals()
        got = [(at, (p, wid)) for p in healthy for at, wid in arrivals.get(p, []) if at >= started]
        last = max(at for at, _ in got)
        seen = Counter(key for _, key in got)
        delivered = sum(min(n, expected[w]) for w, n in seen.items() if w in expected)
        # Every outcome recorded, too: the delivery log says delivered for each healthy one.
        recorded = 0
        while time.monotonic() < deadline + 10:
            recorded = await conn.fetchval(
                "SELECT count(*) FROM webhook_deliveries WHERE status = 'delivered' AND endpoint_id = ANY($1::text[])",
                [e for e, p in ids.items() if p in healthy],
            )
            if recorded >= sum(expected.values()):
                break
            await asyncio.sleep(0.1)
        # What the bad endpoint cost in attempts (each a claim, a failed request and a record).
        bad_attempts = await conn.fetchval(
            "SELECT count(*) FROM webhook_attempts WHERE NOT (endpoint_id = ANY($1::text[]))",
            [e for e, p in ids.items() if p in healthy],
        )
        return {
            "queued": queued,
            "healthy": len(healthy),
            "delivered": delivered,
            "rate": delivered / (last - started),
            "per_endpoint": delivered / (last - started) / len(healthy),
            "cpu_us": (cpu1 - cpu0) / max(1, len(got)) * 1e6,
            "pg_us": (pg1 - pg0) / max(1, len(got)) * 1e6,
            "lost": sum(expected.values()) - delivered,
            "duplicates": sum(n - 1 for n in seen.values() if n > 1),
            "recorded": recorded,
            "bad_attempts": bad_attempts,
        }
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGCONT)
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def bare_loop(client: str, bodies: list[tuple[str, dict[str, str], bytes]], concurrency: int) -> dict[str, float]:
    """A bare client loop in its own process: posts every body, ``concurrency`` in flight and at most
    PER_ENDPOINT per endpoint, over one keep-alive pool; its wall time and CPU."""
    out = subprocess.run(
        [sys.executable, "-m", "bench.bench_webhooks", "--bare", client, str(concurrency)],
        input=pickle.dumps(bodies), capture_output=True, check=True,
    )  # fmt: skip
    result: dict[str, float] = orjson.loads(out.stdout.splitlines()[-1])
    return result


async def _bare(client: str, bodies: list[tuple[str, dict[str, str], bytes]], concurrency: int) -> None:
    total = asyncio.Semaphore(concurrency)
    per: dict[str, asyncio.Semaphore] = {url: asyncio.Semaphore(PER_ENDPOINT) for url, _, _ in bodies}
    failures = 0

    if client == "aiohttp":
        import aiohttp

        session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=concurrency * 2, keepalive_timeout=30), trust_env=False
        )

        async def post(url: str, headers: dict[str, str], body: bytes) -> int:
            async with session.post(url, data=body, headers=headers, allow_redirects=False) as r:
                await r.read()
                return r.status

        close: Callable[[], Awaitable[None]] = session.close
    else:
        limits = httpx.Limits(max_connections=concurrency * 2, max_keepalive_connections=concurrency * 2)
        hx = httpx.AsyncClient(limits=limits, trust_env=False, follow_redirects=False)

        async def post(url: str, headers: dict[str, str], body: bytes) -> int:
            return (await hx.post(url, content=body, headers=headers)).status_code

        close = hx.aclose

    async def one(url: str, headers: dict[str, str], body: bytes) -> None:
        nonlocal failures
        async with total, per[url]:
            if await post(url, headers, body) != 204:
                failures += 1

    before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    await asyncio.gather(*(one(*b) for b in bodies))
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    await close()
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    print(orjson.dumps({"n": len(bodies), "seconds": seconds, "cpu": cpu, "failures": failures}).decode())


_REFUSED_PORT = free_port()


def _refused_url() -> str:
    return f"http://127.0.0.1:{_REFUSED_PORT}/refused"  # nothing listens there


async def latency(
    conn: Conn, receiver: ReceiverProcess, database_url: str, concurrency: int, events: int, rate: float
) -> dict[str, float]:
    proc = start_worker(database_url, concurrency)
    try:
        await asyncio.sleep(2.0)
        await reset(conn)
        await register(conn, f"http://127.0.0.1:{receiver.port}/ok/latency")
        committed: dict[str, float] = {}
        ids: dict[str, str] = {}
        for i in range(events):
            doc = await writes.create(conn, "actor", {"kind": "person", "name": f"Trickle {i}"}, changed_by="bench")
            committed[doc["id"]] = time.time()
            await asyncio.sleep(1 / rate)
        rows = await conn.fetch(
            "SELECT id, object_id FROM events WHERE object_id = ANY($1::text[]) AND type = 'actor.created'",
            list(committed),
        )
        ids = {r["id"]: r["object_id"] for r in rows}
        deadline = time.monotonic() + 30
        arrivals: dict[str, list[tuple[float, str]]] = {}
        while time.monotonic() < deadline:
            arrivals = await receiver.arrivals()
            if len({w for _, w in arrivals.get("/ok/latency", []) if w in ids}) >= events:
                break
            await asyncio.sleep(0.2)
        first: dict[str, float] = {}
        for at, wid in arrivals.get("/ok/latency", []):
            if wid in ids:
                first.setdefault(wid, at)
        return summarise_ms([at - committed[ids[w]] for w, at in first.items()])
    finally:
        proc.terminate()
        proc.wait(timeout=20)


async def main(args: argparse.Namespace) -> None:
    with embedded_postgres() as database_url:
        conn = await connect(database_url)
        await migrate(conn)
        receiver = ReceiverProcess()
        try:
            await receiver.ready()
            c, n = args.concurrency, args.events
            paths = [f"/ok/{i}" for i in range(ENDPOINTS)]

            # The bare loops: the same signed bodies (a backlog queued and read back, then dropped).
            await reset(conn)
            for path in paths:
                await register(conn, f"http://127.0.0.1:{receiver.port}{path}")
            await backlog(conn, n)
            bodies = await signed_bodies(conn, n * ENDPOINTS)
            await reset(conn)  # no worker is to deliver this backlog: it only supplied the bodies
            small = {client: bare_loop(client, bodies[: args.compare], c) for client in ("httpx", "aiohttp")}

            # Rounds: the bare loop and the three drains each round, the order of the drains rotated,
            # so the machine's drift lands on every case alike; medians of the per-round ratios.
            cases = [("healthy", paths), ("hangs", [*paths[:-1], "/hang"]), ("refuses", [*paths[:-1], "/refused"])]
            bares: list[dict[str, float]] = []
            runs: dict[str, list[dict[str, Any]]] = {name: [] for name, _ in cases}
            for r in range(args.rounds):
                bares.append(bare_loop("aiohttp", bodies, c))
                for name, case_paths in cases[r % 3 :] + cases[: r % 3]:
                    runs[name].append(await drain(conn, receiver, database_url, c, case_paths, n, args.timeout))
            bare_rates = [b["n"] / b["seconds"] for b in bares]
            ratios = [h["rate"] / br for h, br in zip(runs["healthy"], bare_rates, strict=True)]
            healthy = runs["healthy"]
            lost = sum(x["lost"] for xs in runs.values() for x in xs)
            duplicates = sum(h["duplicates"] for h in healthy)
            delivered = sum(h["delivered"] for h in healthy)
            rows: list[list[Any]] = [
                [f"bare aiohttp loop, {ENDPOINTS} endpoints", bares[0]["n"], _spread(bare_rates), "1.00",
                 round(median([b["cpu"] / b["n"] * 1e6 for b in bares])), "—", "—", "—"],
                [f"newsfacts worker, {ENDPOINTS} endpoints (backlog drained)", healthy[0]["delivered"],
                 _spread([h["rate"] for h in healthy]), f"{median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f})",
                 _spread([h["cpu_us"] for h in healthy]), _spread([h["pg_us"] for h in healthy]), lost,
                 f"{duplicates} ({duplicates / max(1, delivered):.2%})"],
            ]  # fmt: skip
            print_table(
                f"Webhook deliveries per second (one worker process, concurrency {c}, {PER_ENDPOINT} per endpoint; "
                f"median (min-max) of {args.rounds} rounds)",
                ["case", "deliveries per round", "deliveries/s", "ratio vs bare loop", "client CPU µs/delivery",
                 "PostgreSQL CPU µs/delivery", "lost (all cases)", "duplicates"],
                rows,
                note="The worker's rate runs from its release (SIGCONT, the backlog already queued) to the last "
                "arrival; its CPU is the worker process's over that span (claims, signing, sending, recording), PostgreSQL's "
                "that of all its processes over the span (claim and record statements, WAL writer, autovacuum). "
                f"Recorded as delivered in the log: {sum(h['recorded'] for h in healthy)} of {delivered}. The bare "
                "loop sends the same signed bodies with nothing else to do, in the same round.",
            )  # fmt: skip
            print_table(
                f"HTTP client for the worker: bare loops over the same {args.compare} signed bodies",
                ["client", "requests/s", "CPU µs/request", "ratio of aiohttp's CPU"],
                [
                    [
                        k,
                        round(v["n"] / v["seconds"]),
                        round(v["cpu"] / v["n"] * 1e6),
                        f"{v['cpu'] / small['aiohttp']['cpu']:.1f}",
                    ]
                    for k, v in small.items()
                ],
                note="Each in its own process on uvloop (as the worker), one keep-alive pool, the same concurrency and "
                "per-endpoint cap.",
            )
            fair_rows: list[list[Any]] = []
            for name, label in (("healthy", f"{ENDPOINTS} healthy"), ("hangs", f"{ENDPOINTS - 1} healthy, 1 hangs"),
                                ("refuses", f"{ENDPOINTS - 1} healthy, 1 refuses connections")):  # fmt: skip
                slow = [h["per_endpoint"] / x["per_endpoint"] for h, x in zip(healthy, runs[name], strict=True)]
                fair_rows.append(
                    [label, runs[name][0]["delivered"], _spread([x["per_endpoint"] for x in runs[name]]),
                     "1.00 (baseline)" if name == "healthy" else f"{median(slow):.2f} ({min(slow):.2f}-{max(slow):.2f})",
                     _spread([x["cpu_us"] for x in runs[name]]), _spread([x["pg_us"] for x in runs[name]]),
                     "—" if name == "healthy" else _spread([x["bad_attempts"] for x in runs[name]]),
                     sum(x["lost"] for x in runs[name]), sum(x["duplicates"] for x in runs[name])]
                )  # fmt: skip
            print_table(
                f"Fairness: the healthy endpoints' rate with one bad endpoint (median (min-max) of {args.rounds} rounds)",
                ["case", "deliveries to healthy endpoints per round", "deliveries/s per healthy endpoint",
                 "slowdown vs all healthy in the same round (≤ 1.1 aimed)", "worker CPU µs/delivery",
                 "PostgreSQL CPU µs/delivery", "attempts at the bad endpoint", "lost", "duplicates"],
                fair_rows,
                note=f"A hanging endpoint holds its {PER_ENDPOINT} slots until the 5 s timeout, then its deliveries "
                "wait for their retry; a refusing one fails at once and waits likewise. CPU per delivery counts the "
                "deliveries that arrived at healthy endpoints (a bad endpoint's failed attempts cost without counting).",
            )  # fmt: skip
            print_table(
                "Each round (a slow round shows here, not in a median)",
                ["round", "bare loop deliveries/s", "worker deliveries/s", "worker CPU µs/delivery",
                 "PostgreSQL CPU µs/delivery", "slowdown: 1 hangs", "slowdown: 1 refuses"],
                [[r + 1, round(bare_rates[r]), round(h["rate"]), round(h["cpu_us"]), round(h["pg_us"]),
                  f"{h['per_endpoint'] / runs['hangs'][r]['per_endpoint']:.2f}",
                  f"{h['per_endpoint'] / runs['refuses'][r]['per_endpoint']:.2f}"]
                 for r, h in enumerate(healthy)],
            )  # fmt: skip
            lat = await latency(conn, receiver, database_url, c, args.trickle, args.trickle_rate)
            print_table(
                f"Commit → delivery latency ({args.trickle} writes at {args.trickle_rate:g}/s, idle worker)",
                ["p50 ms", "p99 ms", "mean ms", "max ms"],
                [[lat["p50"], lat["p99"], lat["mean"], lat["max"]]],
                note="NOTIFY wakes the dispatcher, which wakes the delivery loop: no polling delay on the happy path.",
            )
        finally:
            await receiver.stop()
            await conn.close()


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--receiver":
        uvicorn.run(Receiver(), host="127.0.0.1", port=int(sys.argv[2]), log_level="error", lifespan="off")
        sys.exit(0)
    if len(sys.argv) == 4 and sys.argv[1] == "--bare":
        uvloop.run(
            _bare(sys.argv[2], pickle.loads(sys.stdin.buffer.read()), int(sys.argv[3]))
        )  # the worker's event loop too
        sys.exit(0)
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=300, help="events per case (each goes to 50 endpoints)")
    parser.add_argument("--concurrency", type=int, default=128)
    parser.add_argument("--compare", type=int, default=1000, help="bodies per bare loop in the client comparison")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=120)
    parser.add_argument("--trickle", type=int, default=200)
    parser.add_argument("--trickle-rate", type=float, default=50)
    parser.add_argument("--profile", help="write a cProfile file of each worker process to PROFILE.<n>")
    parsed = parser.parse_args()
    if parsed.profile:
        PROFILE.append(parsed.profile)
    asyncio.run(main(parsed))
