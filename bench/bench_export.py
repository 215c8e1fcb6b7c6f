"""NDJSON export benchmark: one uvicorn worker (pinned to one core) streams every claim of a
generated corpus as `GET /v1/claims?format=ndjson`, read by curl, against its baseline measured in
the same run: `COPY (SELECT …) TO STDOUT` of the same documents (the export's own statement, lens
and COPY options, so the bytes are the same) straight to an asyncpg client. Reports rows/s, the
ratio, the server's CPU per 1,000 rows and its peak RSS (against its RSS before the export), for
an anonymous caller (the recall-rule relation), an admin key (the table) and an admin export with
`fields`; and, for reference, COPY of the same documents built by `claim_doc` (jsonb, as text), as
the export built them before.

    .venv/bin/python -m bench.bench_export                          # 10,000 articles / 100,000 claims
    .venv/bin/python -m bench.bench_export --claims 1000000         # the issue's 1,000,000 claims
    .venv/bin/python -m bench.bench_export --database-url URL       # an already loaded database
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import psutil

from api.embedded import free_port
from api.rest.export import CSV_DELIMITER, CSV_QUOTE
from bench.common import RssSampler, embedded_postgres, embedded_redis, load_corpus, print_table, server_env, temp_dir
from bench.http import cpu_seconds, serve, uvicorn_cmd
from db import keys
from db.export import export_sql
from db.lens import FULL, Lens
from db.pool import connect

PUBLIC = Lens(public=True)
FIELDS = "statement,speaker,references"


@dataclass(frozen=True)
class Scenario:
    name: str
    lens: Lens
    fields: str | None = None


SCENARIOS = [
    Scenario("anonymous (recall rules)", PUBLIC),
    Scenario("admin key", FULL),
    Scenario(f"admin key, fields={FIELDS}", FULL, FIELDS),
]


def jsonb_statement(sql: str) -> str:
    """The export's statement with each document built as before: ``claim_doc(c)::text`` (jsonb)."""
    built = sql.removeprefix("SELECT ").partition("::text FROM ")[0]
    return sql.replace(built, "claim_doc(c)", 1)


async def copy_baseline(database_url: str, s: Scenario, *, jsonb: bool = False) -> tuple[int, int, float]:
    """Rows, bytes and seconds of COPY (the export's statement) TO STDOUT into this process;
    ``jsonb``: of the same documents built by ``claim_doc`` (the statement before db/export.py)."""
    fields = frozenset({*s.fields.split(","), "id", "object"}) if s.fields else None
    sql, args = export_sql("claim", {}, "createdAt", lens=s.lens, fields=fields)
    if jsonb:
        sql = jsonb_statement(sql)
    conn = await connect(database_url)
    rows = size = 0

    async def sink(chunk: bytes) -> None:
        nonlocal rows, size
        rows += chunk.count(b"\n")
        size += len(chunk)

    try:
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            started = time.perf_counter()
            await conn.copy_from_query(
                sql, *args, output=sink, timeout=86_400, format="csv", delimiter=CSV_DELIMITER, quote=CSV_QUOTE
            )
            seconds = time.perf_counter() - started
    finally:
        await conn.close()
    return rows, size, seconds


def export(url: str, pid: int, s: Scenario, key: str) -> dict[str, float]:
    """Rows, bytes, seconds, server CPU seconds and peak/before RSS (MB) of one export read by curl."""
    query = {"format": "ndjson", **({"fields": s.fields} if s.fields else {})}
    headers = [] if s.lens.public else ["-H", f"Authorization: Bearer {key}"]
    cmd = ["curl", "-sS", "--fail", "-H", "Accept-Encoding: identity", *headers, f"{url}/v1/claims?{urlencode(query)}"]
    before_mb = psutil.Process(pid).memory_info().rss / 1_048_576
    rows = size = 0
    cpu = cpu_seconds(pid)
    with RssSampler(pid, interval=0.02) as rss:
        started = time.perf_counter()
        with subprocess.Popen(cmd, stdout=subprocess.PIPE) as curl:
            assert curl.stdout is not None
            while chunk := curl.stdout.read(1 << 20):
                rows += chunk.count(b"\n")
                size += len(chunk)
        seconds = time.perf_counter() - started
    if curl.returncode:
        raise SystemExit(f"curl failed ({curl.returncode}): {' '.join(cmd)}")
    return {
        "rows": rows, "bytes": size, "seconds": seconds, "cpu_s": cpu_seconds(pid) - cpu,
        "peak_mb": rss.peak_mb, "before_mb": before_mb,
    }  # fmt: skip


@contextlib.contextmanager
def database(args: argparse.Namespace) -> Iterator[tuple[str, str, float]]:
    """The database URL, a Redis URL and the load's seconds (0 for --database-url)."""
    with temp_dir() as folder, embedded_redis(folder) as redis_url:
        if args.database_url:
            yield args.database_url, redis_url, 0.0
            return
        with embedded_postgres(folder) as database_url:
            started = time.perf_counter()
            asyncio.run(load_corpus(database_url, args.articles or args.claims // 10, args.claims))
            yield database_url, redis_url, time.perf_counter() - started


async def admin_key(database_url: str) -> str:
    conn = await connect(database_url)
    try:
        _, secret = await keys.create(conn, name="bench-export", scope="admin")
        return secret
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--articles", type=int, default=0, help="default: a tenth of --claims")
    parser.add_argument("--claims", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=2, help="COPY then export, this many times; the best of each")
    parser.add_argument("--database-url", help="export from this loaded database instead of generating one")
    args = parser.parse_args()

    with database(args) as (database_url, redis_url, load_s):
        key = asyncio.run(admin_key(database_url))
        env = server_env(database_url, redis_url, CACHE_ENABLED="false")
        port = free_port()
        cmd = uvicorn_cmd("api.asgi:app_from_environ", port, factory=True)
        table: list[list[Any]] = []
        with serve(cmd, {**env, "PORT": str(port)}, port, "/healthz") as (url, pid):
            for s in SCENARIOS:
                copies: list[tuple[int, int, float]] = []
                before: list[float] = []
                exports: list[dict[str, float]] = []
                for _ in range(args.rounds):
                    copies.append(asyncio.run(copy_baseline(database_url, s)))
                    exports.append(export(url, pid, s, key))
                    if s.fields is None:
                        before.append(asyncio.run(copy_baseline(database_url, s, jsonb=True))[2])
                rows, size, copy_s = min(copies, key=lambda c: c[2])
                best = min(exports, key=lambda e: e["seconds"])
                if (best["rows"], best["bytes"]) != (rows, size):
                    raise SystemExit(f"{s.name}: the export sent {best['bytes']:,} bytes, COPY {size:,}")
                table.append([
                    s.name, rows, size / 1e6, rows / min(before) if before else "—", rows / copy_s, best["rows"] / best["seconds"],
                    copy_s / best["seconds"], best["cpu_s"] * 1000 * 1000 / best["rows"],
                    f"{best['before_mb']:.0f} → {max(e['peak_mb'] for e in exports):.0f}",
                ])  # fmt: skip
        print_table(
            f"NDJSON export of {rows:,} claims: one uvicorn worker, curl reading",
            ["export", "rows", "MB", "COPY of claim_doc::text rows/s", "COPY rows/s", "export rows/s", "ratio vs COPY", "server CPU ms / 1,000 rows",
             "server RSS MB (before → peak)"],
            table,
            note=(
                f"Best of {args.rounds} rounds each; COPY: the export's own statement and options (the same bytes) "
                "to an asyncpg client in the bench process; COPY of claim_doc::text: the same statement with each "
                "document built as jsonb by claim_doc, as the export did before; server pinned to one core"
                + (f"; corpus loaded in {load_s:.0f} s" if load_s else "")
                + ". Aims (issue 25): ≥ 200,000 rows/s and ≥ 0.8 of COPY, in flat memory."
            ),
        )  # fmt: skip


if __name__ == "__main__":
    main()
