"""GraphQL benchmark: one uvicorn worker (pinned to one core) serving /graphql over a generated
corpus, loaded by wrk (pinned to the other core) with POST bodies. Reports req/s and p50/p99 for
(a) ``{ __typename }``, (b) one claim by id with speaker and references, (c) 20 articles x their
5 claims x each claim's speaker — each as a ratio of the ceiling measured in the same run (a
constant-JSON Starlette route on the same server stack) — then a cProfile of (c) in-process.

    .venv/bin/python -m bench.bench_graphql                                   # 2,000 / 10,000
    .venv/bin/python -m bench.bench_graphql --articles 100000 --claims 1000000 --duration 20
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import os
import pstats
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import psutil

from api.embedded import free_port
from bench.common import embedded_postgres, embedded_redis, print_table, temp_dir
from db import bulk, generate
from db.migrate import migrate
from db.pool import connect, create_pool

QUERIES = {
    "(a) { __typename }": ("{ __typename }", {}),
    "(b) claim + speaker + references": (
        """query($id: ID!) { claim(id: $id) { id statement quote quoteType speaker { id name }
           references { charStart charEnd quoteText article { id headline } } } }""",
        {},
    ),
    "(c) 20 articles x 5 claims x speaker": (
        """{ articles(first: 20) { nodes { id headline claims(first: 5) {
             nodes { id statement speaker { id name } } } } } }""",
        {},
    ),
}
LUA = """wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = io.open("%s", "rb"):read("*a")
"""


def _pin(core: int) -> list[str]:
    return ["taskset", "-c", str(core)] if shutil.which("taskset") and (os.cpu_count() or 1) > 1 else []


async def load_corpus(database_url: str, articles: int, claims: int) -> str:
    """Migrate, bulk-load the generated corpus, and return one claim id for query (b)."""
    conn = await connect(database_url)
    try:
        await migrate(conn)
        items = ((i, r.pop("object"), r) for i, r in enumerate(generate.records(articles, claims, seed=7)))
        report = await bulk.load(conn, items, changed_by="bench", batch_size=5_000)
        assert not report.rejected, report.rejected[:3]
        await conn.execute("ANALYZE")
        claim_id: str = await conn.fetchval("SELECT id FROM claims ORDER BY id OFFSET $1 LIMIT 1", claims // 2)
        return claim_id
    finally:
        await conn.close()


@contextlib.contextmanager
def serve(cmd: list[str], env: dict[str, str], port: int) -> Iterator[tuple[str, psutil.Process]]:
    log = tempfile.NamedTemporaryFile(prefix="bench-graphql-", suffix=".log", delete=False)
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=log, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.post(url + "/graphql", json={"query": "{ __typename }"}, timeout=1)
                break
            except httpx.HTTPError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(
                        f"server did not start: {proc.stderr.read().decode()[-2000:] if proc.stderr else ''}"
                    ) from None
                time.sleep(0.1)
        yield url, psutil.Process(proc.pid)
    finally:
        print(f"<!-- server log: {log.name} -->", file=sys.stderr)
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def uvicorn_cmd(target: str, port: int, *, factory: bool) -> list[str]:
    cmd = [*_pin(0), sys.executable, "-m", "uvicorn", target, "--port", str(port), "--loop", "uvloop"]
    cmd += ["--http", "httptools", "--no-access-log", "--log-level", "warning", "--workers", "1"]
    return cmd + (["--factory"] if factory else [])


def cpu_seconds(proc: psutil.Process) -> float:
    times = proc.cpu_times()
    return float(times.user + times.system)


def wrk(
    url: str, body: bytes, duration: int, connections: int, folder: Path, server: psutil.Process | None = None
) -> dict[str, float]:
    """Throughput and latency from wrk, and the server's CPU time per request (robust on a busy
    machine, where wall-clock numbers also measure the neighbours)."""
    cpu_before = cpu_seconds(server) if server else 0.0
    body_path = folder / f"body-{abs(hash(body))}.json"
    body_path.write_bytes(body)
    script = folder / f"post-{abs(hash(body))}.lua"
    script.write_text(LUA % body_path)
    out = subprocess.run(
        [*_pin(1), "wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--timeout", "60s", "--latency", "-s", str(script), url + "/graphql"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    cpu = cpu_seconds(server) - cpu_before if server else float("nan")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    failed = sum(int(n) for n in re.findall(r"(?:Non-2xx or 3xx responses:|timeout) (\d+)", out))
    cpu_ms = cpu * 1000 / requests if requests else float("nan")
    return {"rps": rps, "p50": _ms(out, "50%"), "p99": _ms(out, "99%"), "errors": failed, "cpu_ms": cpu_ms}


def _ms(out: str, label: str) -> float:
    m = re.search(rf"^\s+{re.escape(label)}\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
    if m is None:
        return float("nan")
    value, unit = float(m.group(1)), m.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


def check(url: str, body: bytes) -> None:
    """Each benchmarked query must succeed before it is timed."""
    r = httpx.post(url + "/graphql", content=body, headers={"content-type": "application/json"}, timeout=10).json()
    if r.get("errors"):
        raise SystemExit(f"query failed: {r['errors']}")


async def profile_c(database_url: str, rounds: int) -> list[tuple[str, float]]:
    """cProfile of (c) executed in-process through the schema (no HTTP): own time by package."""
    from schema import build_schema
    from schema.context import Context

    schema = build_schema()
    pool = await create_pool(database_url, min_size=2, max_size=4)
    query = QUERIES["(c) 20 articles x 5 claims x speaker"][0]
    try:
        for _ in range(20):
            await schema.execute(query, context_value=Context(pool=pool))
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(rounds):
            result = await schema.execute(query, context_value=Context(pool=pool))
            assert not result.errors, result.errors
        profiler.disable()
    finally:
        await pool.close()
    stats = pstats.Stats(profiler)
    by_package: dict[str, float] = defaultdict(float)
    for (filename, _, _), (_, _, tottime, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        by_package[_package(filename)] += tottime
    total = sum(by_package.values())
    return [(k, v / total * 100) for k, v in sorted(by_package.items(), key=lambda kv: -kv[1])]


def _package(filename: str) -> str:
    for name in ("strawberry", "graphql", "asyncpg", "orjson", "asyncio"):
        if f"/{name}/" in filename:
            return name
    for name in ("schema", "db", "api"):
        if f"/main/{name}/" in filename:
            return f"newsfacts {name}/"
    if filename.startswith("~") or filename == "<built-in>":
        return "builtins (C)"
    return "other Python"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--articles", type=int, default=2_000)
    parser.add_argument("--claims", type=int, default=10_000)
    parser.add_argument("--duration", type=int, default=8, help="seconds of load per query")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--profile-rounds", type=int, default=200)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed: apt-get install -y wrk")

    with temp_dir() as folder, embedded_postgres(folder) as database_url, embedded_redis(folder) as redis_url:
        started = time.perf_counter()
        claim_id = asyncio.run(load_corpus(database_url, args.articles, args.claims))
        load_s = time.perf_counter() - started
        env = {
            **os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url, "LOG_LEVEL": "warning",
            "ENVIRONMENT": "production", "ANONYMOUS_READS": "true", "RATE_LIMIT_ANONYMOUS": "1000000000",
            "RATE_LIMIT_KEY": "1000000000", "DB_POOL_MAX": "10", "CACHE_ENABLED": "false",
        }  # fmt: skip
        bodies = {
            name: orjson.dumps({"query": q, "variables": {"id": claim_id} if "$id" in q else v})
            for name, (q, v) in QUERIES.items()
        }
        rows: list[list[Any]] = []
        with tempfile.TemporaryDirectory() as scratch:
            work = Path(scratch)
            port = free_port()
            with serve(uvicorn_cmd("bench.ceiling_app:app", port, factory=False), env, port) as (url, proc):
                wrk(url, bodies["(a) { __typename }"], 2, args.connections, work)  # warm-up
                ceiling = wrk(url, bodies["(a) { __typename }"], args.duration, args.connections, work, proc)
            rows.append(
                ["ceiling: constant JSON (Starlette)", ceiling["rps"], ceiling["p50"], ceiling["p99"], 1.0,
                 ceiling["cpu_ms"], 1.0]
            )  # fmt: skip
            port = free_port()
            with serve(
                uvicorn_cmd("api.asgi:app_from_environ", port, factory=True), {**env, "PORT": str(port)}, port
            ) as (url, proc):
                for name, body in bodies.items():
                    check(url, body)
                    wrk(url, body, 2, args.connections, work)  # warm-up: caches, pool, JIT-free paths
                    m = wrk(url, body, args.duration, args.connections, work, proc)
                    if m["errors"]:
                        raise SystemExit(f"{name}: {m['errors']} non-2xx responses")
                    rows.append(
                        [name, m["rps"], m["p50"], m["p99"], m["rps"] / ceiling["rps"], m["cpu_ms"],
                         ceiling["cpu_ms"] / m["cpu_ms"]]
                    )  # fmt: skip
        print_table(
            f"GraphQL: one uvicorn worker, {args.articles:,} articles / {args.claims:,} claims",
            [
                "query",
                "req/s",
                "p50 ms",
                "p99 ms",
                "req/s ratio vs ceiling",
                "server CPU ms/req",
                "CPU ratio vs ceiling",
            ],
            rows,
            note=(
                f"wrk -t1 -c{args.connections} -d{args.duration}s; server and wrk pinned to separate cores; "
                "server CPU ms/req is the worker's user+system time over the run divided by requests served "
                "(ceiling CPU / query CPU is the ratio that holds on a shared machine); "
                f"corpus loaded in {load_s:.0f} s. Reference points from the issue for (c): "
                "PostGraphile v4 ≈ 1,000 req/s, plain Starlette + 3 batched queries ≈ 2,000."
            ),
        )
        shares = asyncio.run(profile_c(database_url, args.profile_rounds))
        print_table(
            "Where (c) spends its time (cProfile, in-process schema.execute, own time by package)",
            ["package", "% of own time"],
            [[name, share] for name, share in shares if share >= 0.5],
        )


if __name__ == "__main__":
    main()
