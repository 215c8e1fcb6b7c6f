"""GraphQL benchmark with PostGraphile 4.14.1 as the peer (issue 10). Over one PostgreSQL database
holding a generated corpus, five servers each pinned to core 0 (wrk, PostgreSQL, Redis and this
script on core 1) take the same queries in interleaved rounds, so noise hits them alike:
newsfacts with the read planner (``GRAPHQL_PLANNER=true``) and with per-field resolvers (``false``),
both with the response cache off; PostGraphile; a one-statement route where PostgreSQL builds the
JSON (the floor, (c)/(d)); the constant-JSON route (the ceiling, (a)). Every server's answer is
checked equal before anything is timed. Reports req/s, p50/p99 and server CPU per request, as
ratios of PostGraphile's in the same rounds, and whether the issue's aims are met; then a cProfile
of (c) through the whole app in-process with the planner on.

    .venv/bin/python -m bench.bench_graphql                           # 2,000 / 10,000, 2 rounds x 5 s
    .venv/bin/python -m bench.bench_graphql --rounds 5 --duration 15  # steadier figures
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import logging
import math
import os
import platform
import pstats
import shutil
import subprocess
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson

from api.embedded import free_port
from bench import peer
from bench.common import embedded_postgres, embedded_redis, load_corpus, print_table, server_env, temp_dir
from bench.http import pin_self, serve, uvicorn_cmd, wrk
from db.pool import connect

ROOT = Path(__file__).resolve().parents[1]
PLANNED, RESOLVERS, PEER, FLOOR, CEILING = (
    "newsfacts planned", "newsfacts resolvers", "PostGraphile 4.14.1", "floor: 1 SQL statement", "ceiling: constant JSON",
)  # fmt: skip

_NESTED = "{ articles(first: 20) { nodes { id headline claims(first: 5) { nodes { id statement speaker { id name%s } } } } } }"
_PEER_NESTED = (
    "{ articles: allArticles(first: 20, orderBy: PRIMARY_KEY_ASC) { nodes { id headline "
    "claims(first: 5) { nodes { id statement speaker { id name%s } } } } } }"
)
_SPEAKER_CLAIMS = " claimsAsSpeaker(first: 3) { nodes { id statement } }"
_PEER_SPEAKER_CLAIMS = " claimsAsSpeaker(first: 3, orderBy: PRIMARY_KEY_ASC) { nodes { id statement } }"


def _same(data: Any) -> Any:
    return data


def _peer_claim(data: Any) -> Any:
    """PostGraphile's (b) in our shape: enum values upper-cased, ``refs`` jsonb (article as an id)
    as our references (article as an object)."""
    claim = data["claim"]
    if claim is None:
        return data
    refs = [
        {
            "charStart": r["charStart"],
            "charEnd": r["charEnd"],
            "quoteText": r["quoteText"],
            "article": {"id": r["article"]},
        }
        for r in claim["references"]
    ]
    return {"claim": {**claim, "quoteType": claim["quoteType"].upper(), "references": refs}}


@dataclass(frozen=True)
class Query:
    """One benchmarked request, written for newsfacts and for PostGraphile (aliases give our field
    names where they differ), and which other servers answer it."""

    title: str
    ours: str
    theirs: str
    peer_to_ours: Callable[[Any], Any] = _same
    floor: str | None = None  # the floor route's path
    ceiling: bool = False
    variables: dict[str, str] = field(default_factory=dict)  # name -> key of load_corpus()'s ids


QUERIES = [
    Query("(a) { __typename }", "{ __typename }", "{ __typename }", ceiling=True),
    Query(
        "(b) claim + speaker + references",
        "query($id: ID!) { claim(id: $id) { id statement quote quoteType speaker { id name } "
        "references { charStart charEnd quoteText article { id } } } }",
        "query($id: String!) { claim: claimById(id: $id) { id statement quote quoteType speaker { id name } "
        "references: refs } }",
        _peer_claim,
        variables={"id": "claim"},
    ),
    Query("(c) 20 articles x 5 claims x speaker", _NESTED % "", _PEER_NESTED % "", floor="/floor/c"),
    Query(
        "(d) (c) x speaker's first 3 claims",
        _NESTED % _SPEAKER_CLAIMS,
        _PEER_NESTED % _PEER_SPEAKER_CLAIMS,
        floor="/floor/d",
    ),
]

# The aims for the planned path, as (query prefix, metric, bound, "max" | "min").
AIMS = [
    ("(a)", "cpu", 1.0, "max"),
    ("(c)", "cpu", 0.5, "max"),
    ("(c)", "rps", 1.5, "min"),
    ("(d)", "cpu", 0.5, "max"),
    ("(d)", "rps", 1.5, "min"),
]


@dataclass
class Server:
    name: str
    url: str
    pid: int

    def target(self, q: Query) -> str | None:
        """The URL this server answers ``q`` on, or None if it does not take part in it."""
        if self.name == FLOOR:
            return self.url + q.floor if q.floor else None
        if self.name == CEILING:
            return self.url + "/graphql" if q.ceiling else None
        return self.url + "/graphql"

    def body(self, q: Query, ids: dict[str, Any]) -> bytes:
        document = q.theirs if self.name == PEER else q.ours
        variables = {name: ids[key] for name, key in q.variables.items()}
        return orjson.dumps({"query": document, "variables": variables})


def answer(server: Server, q: Query, ids: dict[str, Any]) -> Any:
    """``data`` of one request, in our field names; exits on errors or an empty answer."""
    target = server.target(q)
    assert target is not None
    r = httpx.post(target, content=server.body(q, ids), headers={"content-type": "application/json"}, timeout=30)
    doc = r.json()
    if r.status_code != 200 or doc.get("errors") or not doc.get("data"):
        raise SystemExit(f"{server.name} {q.title}: HTTP {r.status_code} {str(doc)[:500]}")
    return q.peer_to_ours(doc["data"]) if server.name == PEER else doc["data"]


def difference(a: Any, b: Any, path: str = "data") -> str | None:
    """Where two JSON values first differ (path: left != right), or None."""
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return f"{path}: keys {sorted(a)} != {sorted(b)}"
        return next((d for k in a if (d := difference(a[k], b[k], f"{path}.{k}"))), None)
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return f"{path}: {len(a)} items != {len(b)}"
        return next(
            (d for i, (x, y) in enumerate(zip(a, b, strict=True)) if (d := difference(x, y, f"{path}[{i}]"))), None
        )
    return None if a == b else f"{path}: {a!r} != {b!r}"


def check_equal(servers: list[Server], ids: dict[str, Any]) -> list[str]:
    """Every server taking part in a query returns the same data as newsfacts planned (exit if
    not); returns one line per query saying what was compared."""
    lines = []
    for q in QUERIES:
        taking_part = [s for s in servers if s.target(q)]
        reference = answer(taking_part[0], q, ids)
        for s in taking_part[1:]:
            if diff := difference(reference, answer(s, q, ids)):
                raise SystemExit(f"{q.title}: {s.name} differs from {taking_part[0].name} at {diff}")
        lines.append(f"{q.title}: {', '.join(s.name for s in taking_part)} — {_size(reference)}")
    return lines


def _size(data: Any) -> str:
    """How much data a comparison covered: objects with an id, and leaf values."""
    ids = leaves = 0
    stack = [data]
    while stack:
        v = stack.pop()
        if isinstance(v, dict):
            ids += "id" in v
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
        else:
            leaves += 1
    return f"{ids} objects, {leaves} values equal"


async def prepare_database(database_url: str, articles: int, claims: int) -> dict[str, Any]:
    """The corpus, then PostGraphile's view of our relations (bench database only)."""
    ids = await load_corpus(database_url, articles, claims)
    conn = await connect(database_url)
    try:
        await conn.execute(peer.SQL)
    finally:
        await conn.close()
    return ids


def measure(
    servers: list[Server], ids: dict[str, Any], rounds: int, duration: int, connections: int, work: Path
) -> dict[tuple[str, str], list[dict[str, float]]]:
    """wrk runs per (query, server), one per round; within a round each query goes to every
    server in turn, the order rotated each round. The first round warms each pair up first."""
    runs: dict[tuple[str, str], list[dict[str, float]]] = defaultdict(list)
    for r in range(rounds):
        for q in QUERIES:
            taking_part = [s for s in servers if s.target(q)]
            for s in taking_part[r % len(taking_part) :] + taking_part[: r % len(taking_part)]:
                target, body = s.target(q), s.body(q, ids)
                assert target is not None
                if r == 0:
                    wrk(target, 1, connections, body=body, folder=work)
                m = wrk(target, duration, connections, body=body, folder=work, server_pid=s.pid)
                if m["errors"]:
                    raise SystemExit(f"{s.name} {q.title}: {m['errors']:.0f} failed responses")
                runs[(q.title, s.name)].append(m)
    return runs


def _geomean(values: list[float]) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values))


def _ratio_cell(values: list[float]) -> str:
    """Per-round ratios: their geometric mean, and their range when there are several."""
    mean = _geomean(values)
    return f"{mean:.2f}" if len(values) < 2 else f"{mean:.2f} ({min(values):.2f}-{max(values):.2f})"


def report(runs: dict[tuple[str, str], list[dict[str, float]]], servers: list[Server], args: Any, notes: str) -> None:
    rows: list[list[Any]] = []
    ratios: dict[tuple[str, str], dict[str, list[float]]] = {}
    ceiling = runs.get((QUERIES[0].title, CEILING), [])
    for q in QUERIES:
        theirs = runs[(q.title, PEER)]
        for s in servers:
            mine = runs.get((q.title, s.name))
            if not mine:
                continue
            cpu = sum(m["cpu_s"] for m in mine) * 1000 / sum(m["requests"] for m in mine)
            # Ratios pair each run with PostGraphile's in the same round: noise shared by the pair cancels.
            per_round = {
                "cpu": [m["cpu_ms"] / t["cpu_ms"] for m, t in zip(mine, theirs, strict=True)],
                "rps": [m["rps"] / t["rps"] for m, t in zip(mine, theirs, strict=True)],
            }
            ratios[(q.title, s.name)] = per_round
            vs_ceiling = [m["rps"] / c["rps"] for m, c in zip(mine, ceiling, strict=False)]
            rows.append([
                q.title, s.name, _mean(mine, "rps"), _mean(mine, "p50"), _mean(mine, "p99"), cpu,
                _ratio_cell(per_round["cpu"]), _ratio_cell(per_round["rps"]),
                _geomean(vs_ceiling) if vs_ceiling else "-",
            ])  # fmt: skip
    print_table(
        f"GraphQL vs PostGraphile: {args.articles:,} articles / {args.claims:,} claims, "
        f"{args.rounds} interleaved rounds x {args.duration} s",
        ["query", "server", "req/s", "p50 ms", "p99 ms", "server CPU ms/req", "CPU/req vs PostGraphile",
         "req/s vs PostGraphile", "req/s vs ceiling"],
        rows,
        note=notes,
    )  # fmt: skip
    aims = []
    for prefix, metric, bound, kind in AIMS:
        q = next(q for q in QUERIES if q.title.startswith(prefix))
        per_round = ratios[(q.title, PLANNED)][metric]
        value = _geomean(per_round)
        ok = value <= bound if kind == "max" else value >= bound
        held = sum((v <= bound) if kind == "max" else (v >= bound) for v in per_round)
        label = "server CPU/req" if metric == "cpu" else "req/s"
        sign = "≤" if kind == "max" else "≥"
        aims.append([f"{q.title}: planned {label} {sign} {bound}x PostGraphile's", _ratio_cell(per_round),
                     "yes" if ok else "no", f"{held}/{len(per_round)}"])  # fmt: skip
    print_table(
        "Issue 10 aims (newsfacts planned vs PostGraphile, same rounds)",
        ["aim", "measured", "met", "rounds met"],
        aims,
    )


def _mean(runs: list[dict[str, float]], key: str) -> float:
    return sum(m[key] for m in runs) / len(runs)


async def profile_c(env: dict[str, str], rounds: int) -> tuple[float, list[tuple[str, float]]]:
    """cProfile of (c) through the whole app (middleware, GraphQL view, planner or resolvers) in
    this process with the planner on, over httpx's in-process ASGI transport (no uvicorn):
    ms per request under the profiler, and own time by package."""
    from api.app import create_app
    from api.settings import Settings

    # The access line is still built (it is part of the request path) but written nowhere here.
    access = logging.getLogger("newsfacts.access")
    access.addHandler(logging.NullHandler())
    access.setLevel(logging.INFO)
    access.propagate = False
    app = create_app(Settings.from_environ({**env, "GRAPHQL_PLANNER": "true"}))
    q = next(q for q in QUERIES if q.title.startswith("(c)"))
    body = orjson.dumps({"query": q.ours})
    headers = {"content-type": "application/json"}
    profiler = cProfile.Profile()
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 4321))
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            for _ in range(20):
                (await client.post("/graphql", content=body, headers=headers)).raise_for_status()
            started = time.perf_counter()
            profiler.enable()
            for _ in range(rounds):
                r = await client.post("/graphql", content=body, headers=headers)
                assert r.status_code == 200 and "errors" not in r.json(), r.text[:300]
            profiler.disable()
            ms = (time.perf_counter() - started) * 1000 / rounds
    stats = pstats.Stats(profiler)
    by_package: dict[str, float] = defaultdict(float)
    for (filename, _, _), (_, _, tottime, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        by_package[_package(filename)] += tottime
    total = sum(by_package.values())
    return ms, [(k, v / total * 100) for k, v in sorted(by_package.items(), key=lambda kv: -kv[1])]


def _package(filename: str) -> str:
    for name in ("strawberry", "graphql", "asyncpg", "orjson", "asyncio", "starlette", "redis", "httpx", "anyio"):
        if f"/{name}/" in filename:
            return name + (" (the in-process client)" if name in ("httpx", "anyio") else "")
    for name in ("schema", "db", "api"):
        if filename.startswith(f"{ROOT}/{name}/"):
            return f"newsfacts {name}/"
    if filename.startswith("~") or filename == "<built-in>":
        return "builtins (C)"
    return "other Python"


def _version(cmd: list[str]) -> str:
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip()
    return "?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=2_000)
    parser.add_argument("--claims", type=int, default=10_000)
    parser.add_argument("--duration", type=int, default=5, help="seconds of load per query, server and round")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--profile-rounds", type=int, default=100, help="(c) requests profiled; 0: no profile")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed: apt-get install -y wrk")
    cli = peer.ensure_installed()
    pin_self(1)  # this script, and the PostgreSQL and Redis it starts, share core 1 with wrk

    with temp_dir() as folder, embedded_postgres(folder) as database_url, embedded_redis(folder) as redis_url:
        started = time.perf_counter()
        ids = asyncio.run(prepare_database(database_url, args.articles, args.claims))
        load_s = time.perf_counter() - started
        env = server_env(database_url, redis_url, ANONYMOUS_READS="true", CACHE_ENABLED="false")
        with contextlib.ExitStack() as stack:
            servers = []
            p = [free_port() for _ in range(5)]
            newsfacts = "api.asgi:app_from_environ"
            launches = [
                (PLANNED, uvicorn_cmd(newsfacts, p[0], factory=True), {**env, "GRAPHQL_PLANNER": "true"}, "/healthz"),
                (
                    RESOLVERS,
                    uvicorn_cmd(newsfacts, p[1], factory=True),
                    {**env, "GRAPHQL_PLANNER": "false"},
                    "/healthz",
                ),
                (
                    PEER,
                    peer.command(database_url, p[2], pool_size=10),
                    {**os.environ, "NODE_ENV": "production"},
                    "/graphql",
                ),
                (FLOOR, uvicorn_cmd("bench.floor_app:app", p[3], factory=False), env, "/healthz"),
                (CEILING, uvicorn_cmd("bench.ceiling_app:app", p[4], factory=False), env, "/graphql"),
            ]
            for (name, cmd, launch_env, probe), port in zip(launches, p, strict=True):
                url, pid = stack.enter_context(serve(cmd, {**launch_env, "PORT": str(port)}, port, probe))
                servers.append(Server(name, url, pid))
            compared = check_equal(servers, ids)
            with temp_dir("newsfacts-bench-wrk-") as work:
                runs = measure(servers, ids, args.rounds, args.duration, args.connections, work)
        notes = (
            f"wrk -t1 -c{args.connections} -d{args.duration}s per query, server and round, on core 1 with "
            f"PostgreSQL 16 (embedded), Redis and this script; each server one process on core 0: uvicorn "
            f"(uvloop, httptools, one write per response: api/http_protocol.py) for newsfacts (cache off, rate limits out of reach, pool 10), the floor and the "
            f"ceiling; node {_version(['node', '--version'])} for PostGraphile ({cli.parent.name} "
            f"{peer.installed_version()}, pool 10, NODE_ENV=production). req/s and p50/p99 are means over rounds; "
            "server CPU ms/req is the process's (and its children's) user+system time over the timed runs ÷ "
            "requests; ratios divide by PostGraphile's figure for the same query in the same round (geometric "
            "mean over rounds, range in brackets; the aims are judged on the mean). On a shared 2-core machine CPU per request is the steadier figure. "
            "The two newsfacts rows are the same server with GRAPHQL_PLANNER=true and false. "
            f"Corpus loaded in {load_s:.0f} s on {platform.node()}. Equal data checked first:\n\n"
            + "\n".join(f"- {line}" for line in compared)
        )
        report(runs, servers, args, notes)
        if args.profile_rounds:
            ms, shares = asyncio.run(profile_c(env, args.profile_rounds))
            print_table(
                "Where (c) spends its time, planner on (cProfile, whole app in-process, own time by package)",
                ["package", "% of own time"],
                [[name, share] for name, share in shares if share >= 0.5],
                note=f"{args.profile_rounds} requests, {ms:.1f} ms each under the profiler (no uvicorn, no wrk).",
            )


if __name__ == "__main__":
    main()
