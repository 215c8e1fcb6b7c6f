"""Shared benchmark helpers: markdown tables, latency percentiles, peak RSS of a process tree, and
embedded PostgreSQL / Redis under a temporary folder. Stable API: other bench scripts import it."""

from __future__ import annotations

import contextlib
import os
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from api.embedded import EmbeddedPostgres, EmbeddedRedis
from db import bulk, generate
from db.migrate import migrate
from db.pool import connect
from db.secrets import SecretBox

__all__ = [
    "RssSampler",
    "embedded_postgres",
    "embedded_redis",
    "load_corpus",
    "markdown_table",
    "percentile",
    "print_table",
    "summarise_ms",
    "temp_dir",
]


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub markdown table; floats get thousands separators and at most 2 decimals."""

    def cell(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:,.2f}"
        if isinstance(value, int) and not isinstance(value, bool):
            return f"{value:,}"
        return str(value).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def print_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[Any]], *, note: str = "") -> str:
    """Print ``### title``, the table and an optional note; returns the same markdown."""
    text = f"### {title}\n\n{markdown_table(headers, rows)}\n"
    if note:
        text += f"\n{note}\n"
    print(text, flush=True)
    return text


def percentile(samples: Sequence[float], p: float) -> float:
    """The ``p``-th percentile (0-100) by nearest rank; samples need not be sorted."""
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def summarise_ms(samples_s: Sequence[float]) -> dict[str, float]:
    """p50 / p99 / mean / max of durations given in seconds, in milliseconds."""
    ms = [s * 1000 for s in samples_s]
    return {
        "p50": percentile(ms, 50),
        "p99": percentile(ms, 99),
        "mean": statistics.fmean(ms) if ms else float("nan"),
        "max": max(ms) if ms else float("nan"),
    }


@dataclass
class RssSampler:
    """Samples the resident memory of a process and its children every ``interval`` seconds in a
    background thread; ``peak_mb`` is the largest total seen. Use as a context manager."""

    pid: int
    interval: float = 0.05
    include_children: bool = True
    peak_bytes: int = 0
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)

    @property
    def peak_mb(self) -> float:
        return self.peak_bytes / 1_048_576

    def sample(self) -> int:
        try:
            proc = psutil.Process(self.pid)
            procs = [proc, *(proc.children(recursive=True) if self.include_children else [])]
        except psutil.Error:
            return 0
        total = 0
        for p in procs:
            with contextlib.suppress(psutil.Error):
                total += p.memory_info().rss
        self.peak_bytes = max(self.peak_bytes, total)
        return total

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def __enter__(self) -> RssSampler:
        self.sample()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)


@contextlib.contextmanager
def temp_dir(prefix: str = "newsfacts-bench-") -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix=prefix) as folder:
        yield Path(folder)


@contextlib.contextmanager
def embedded_postgres(folder: Path | None = None) -> Iterator[str]:
    """A fresh embedded PostgreSQL 16 (pgserver); yields its URL and stops it afterwards."""
    with contextlib.ExitStack() as stack:
        base = folder or stack.enter_context(temp_dir())
        pg = EmbeddedPostgres(base / "postgres").start()
        stack.callback(pg.stop)
        yield pg.url


@contextlib.contextmanager
def embedded_redis(folder: Path | None = None) -> Iterator[str]:
    """A fresh embedded Redis (no persistence); yields its URL and stops it afterwards."""
    with contextlib.ExitStack() as stack:
        base = folder or stack.enter_context(temp_dir())
        server = EmbeddedRedis(base / "redis", persist=False).start()
        stack.callback(server.stop)
        yield server.url


async def load_corpus(
    database_url: str, articles: int, claims: int, *, incidents: int | None = None, keep_outbox: bool = False
) -> dict[str, Any]:
    """Migrate, bulk-load the generated corpus (``incidents``: of deployments and of incidents
    each, else one per 100 articles) and ``settle`` it (``keep_outbox``: its events left for a
    server's relay to publish); return the ids the requests use."""
    conn = await connect(database_url)
    try:
        await migrate(conn)
        records = generate.records(articles, claims, seed=7, incidents=incidents)
        items = ((i, r.pop("object"), r) for i, r in enumerate(records))
        report = await bulk.load(conn, items, changed_by="bench", batch_size=5_000)
        assert not report.rejected, report.rejected[:3]
        await settle(database_url, outbox=not keep_outbox)
        middle = await conn.fetchrow("SELECT id, version FROM claims ORDER BY id OFFSET $1 LIMIT 1", claims // 2)
        deep = await conn.fetchval("SELECT id FROM claims ORDER BY id OFFSET $1 LIMIT 1", max(0, claims - 100))
        speaker = await conn.fetchval(
            "SELECT speaker_id FROM claims WHERE speaker_id IS NOT NULL GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"
        )
        return {"claim": middle["id"], "version": middle["version"], "deep": deep, "speaker": speaker}
    finally:
        await conn.close()


async def settle(database_url: str, *, outbox: bool = True) -> None:
    """Leaves a loaded database as a running service has it. Vacuumed and analyzed, as
    ``newsfacts load`` leaves an initial load (db/bulk.vacuum): else autovacuum sets about every
    table the load wrote while the first measurement runs. And (``outbox``) its events taken as
    published: else the first server started on it publishes them to Redis, one per fact, on its
    own core while it is measured (about 10 s for 110,400 events), which made bench_export's first
    scenario, the anonymous export, measure half as fast as the admin one after it, where the two
    statements run at par. bench_replicas keeps the outbox: it measures that publishing."""
    conn = await connect(database_url)
    try:
        if outbox:
            await conn.execute("UPDATE relay_state SET published_sequence = (SELECT last FROM event_counter)")
        await conn.execute("VACUUM (ANALYZE)")
    finally:
        await conn.close()


async def median_ms(conn: Any, sql: str, args: Sequence[Any], runs: int) -> float:
    """PostgreSQL's round trip for one statement on ``conn``, in ms: the median of ``runs`` after
    one warming run."""
    await conn.fetchval(sql, *args)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        await conn.fetchval(sql, *args)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def elapsed(start: float) -> float:
    """Seconds since ``start`` (a time.perf_counter() value)."""
    return time.perf_counter() - start


def server_env(database_url: str, redis_url: str, **settings: str) -> dict[str, str]:
    """The environment of a benchmarked newsfacts server: production mode, logs at warning, a
    fresh sealing key for webhook secrets, rate limits out of reach and a pool of 10; ``settings``
    add or override variables (``CACHE_ENABLED="false"``)."""
    return {
        **os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url, "LOG_LEVEL": "warning",
        "ENVIRONMENT": "production", "WEBHOOK_SECRET_KEYS": SecretBox.new_key_spec(),
        "RATE_LIMIT_ANONYMOUS": "1000000000", "RATE_LIMIT_KEY": "1000000000", "DB_POOL_MAX": "10", **settings,
    }  # fmt: skip
