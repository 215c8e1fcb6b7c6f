"""The access log of a real ``newsfacts serve`` process: one JSON line per request, written in
batches (api/middleware/request_id.py) that leave within a fraction of a second while the server
runs, and all of them when it stops."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import orjson

from tests.services import server_process


def _access_lines(log: Path) -> list[dict[str, Any]]:
    return [orjson.loads(x) for x in log.read_text().splitlines() if x.startswith('{"ts"') and '"access"' in x]


def _mine(log: Path, prefix: str) -> list[dict[str, Any]]:
    return [line for line in _access_lines(log) if line["requestId"].startswith(prefix)]


def test_access_lines_leave_while_the_server_runs_and_all_when_it_stops(
    database_url: str, redis_url: str, tmp_path: Path
) -> None:
    log = tmp_path / "server.log"
    env = {"DATABASE_URL": database_url, "REDIS_URL": redis_url}
    with server_process(env, log_path=log) as server, httpx.Client(base_url=server.url, timeout=10) as client:
        answer = client.get("/v1/claims?first=1&token=secret", headers={"X-Request-Id": "access-1"})
        deadline = time.monotonic() + 5
        while not _mine(log, "access-1") and time.monotonic() < deadline:
            time.sleep(0.05)  # a batch leaves FLUSH_SECONDS (0.1 s) after its first line
        [line] = _mine(log, "access-1")
        assert line == {
            "ts": line["ts"], "type": "access", "requestId": "access-1", "method": "GET", "path": "/v1/claims",
            "query": "first=1&token=REDACTED", "status": answer.status_code, "bytes": len(answer.content),
            "durationMs": line["durationMs"], "client": "127.0.0.1", "keyId": None,
        }  # fmt: skip
        assert line["durationMs"] >= 0 and line["ts"].endswith("Z")
        for i in range(30):
            client.post("/graphql", json={"query": "{ __typename }"}, headers={"X-Request-Id": f"access-2-{i}"})
    # Stopped (SIGTERM) right after the last answer: the lines still waiting were written on exit.
    assert sorted(line["requestId"] for line in _mine(log, "access-2-")) == sorted(f"access-2-{i}" for i in range(30))
