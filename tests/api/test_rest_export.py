"""NDJSON export of a large table from a real server process: every row arrives exactly once, and
the server's memory stays flat (it passes PostgreSQL's COPY output on as it comes instead of
building the body)."""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import psutil
import pytest

from db import bulk, generate
from db.pool import connect
from tests.services import server_process

ARTICLES, CLAIMS = 200, 20_000

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def big_corpus(database_url: str) -> Iterator[dict[str, Any]]:
    seed = random.randrange(1, 2**31)
    outlet: set[str] = set()
    ids: list[str] = []

    def items() -> Iterator[tuple[int, str, Any]]:
        for i, r in enumerate(generate.records(ARTICLES, CLAIMS, seed=seed)):
            kind = r.pop("object")
            if kind == "claim":
                ids.append(r["id"])
            elif kind == "article":
                outlet.add(r["outlet"])
            yield i, kind, r

    async def load() -> None:
        conn = await connect(database_url)
        try:
            report = await bulk.load(conn, items(), changed_by="test-export", batch_size=5_000)
            assert not report.rejected and report.loaded["claim"] == CLAIMS
        finally:
            await conn.close()

    asyncio.run(load())
    assert len(outlet) == 1
    yield {"outlet": outlet.pop(), "ids": ids}


def _peak_rss(pid: int, stop: threading.Event, out: list[int]) -> None:
    proc = psutil.Process(pid)
    while not stop.is_set():
        out.append(proc.memory_info().rss)
        time.sleep(0.01)


def test_ndjson_export_is_complete_and_flat_in_memory(
    big_corpus: dict[str, Any], database_url: str, redis_url: str
) -> None:
    env = {"DATABASE_URL": database_url, "REDIS_URL": redis_url, "RATE_LIMIT_ANONYMOUS": "100000"}
    with server_process(env) as server, httpx.Client(base_url=server.url, timeout=60) as client:
        assert server.process is not None
        params = {"reportedBy": big_corpus["outlet"]}
        headers = {"Accept": "application/x-ndjson", "Accept-Encoding": "gzip"}
        # Warm up (imports, codecs, pool) so the measurement sees only the export itself.
        client.get("/v1/claims", params={**params, "limit": 100})
        with client.stream("GET", "/v1/actors", headers=headers) as r:
            r.read()
        baseline = psutil.Process(server.process.pid).memory_info().rss
        samples: list[int] = []
        stop = threading.Event()
        sampler = threading.Thread(target=_peak_rss, args=(server.process.pid, stop, samples))
        sampler.start()
        seen: list[str] = []
        size = 0
        try:
            with client.stream("GET", "/v1/claims", params=params, headers=headers) as r:
                assert r.status_code == 200 and "content-encoding" not in r.headers
                for line in r.iter_lines():
                    size += len(line)
                    seen.append(orjson.loads(line)["id"])
        finally:
            stop.set()
            sampler.join()
    assert seen == big_corpus["ids"], "every claim once, in id order"
    growth = max(samples) - baseline
    # The body is ~17 MB; a server that built it in memory would grow by more than the body (text
    # plus the decoded rows); streaming holds one chunk of rows and the socket buffers.
    assert growth < size / 2, f"server RSS grew {growth / 1e6:.1f} MB for a {size / 1e6:.1f} MB export"
