"""HTTP load helpers shared by the server benchmarks: start a uvicorn process pinned to one core,
drive it with wrk pinned to the other (GET, or POST with a body), parse req/s and latency."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil

from api.http_protocol import HTTP_PROTOCOL

LUA_POST = """wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = io.open("%s", "rb"):read("*a")
"""


def pin(core: int) -> list[str]:
    """taskset prefix pinning a process to ``core`` (nothing on a one-core machine)."""
    return ["taskset", "-c", str(core)] if shutil.which("taskset") and (os.cpu_count() or 1) > 1 else []


def uvicorn_cmd(target: str, port: int, *, factory: bool) -> list[str]:
    cmd = [*pin(0), sys.executable, "-m", "uvicorn", target, "--port", str(port), "--loop", "uvloop"]
    cmd += [
        "--http",
        HTTP_PROTOCOL,
        "--no-server-header",
        "--no-access-log",
        "--log-level",
        "warning",
        "--workers",
        "1",
    ]
    return cmd + (["--factory"] if factory else [])


@contextlib.contextmanager
def serve(cmd: list[str], env: dict[str, str], port: int, probe: str) -> Iterator[tuple[str, int]]:
    """Run a server command until the block ends; yields its base URL and pid."""
    log = tempfile.NamedTemporaryFile(prefix="bench-server-", suffix=".log", delete=False)
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=log, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    keep_log = True
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(url + probe, timeout=1)
                break
            except httpx.HTTPError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"server did not start; see {log.name}") from None
                time.sleep(0.1)
        yield url, proc.pid
        # A server that stayed up until the end leaves no log behind (access logs grow by megabytes).
        keep_log = proc.poll() is not None
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
    if not keep_log:
        Path(log.name).unlink(missing_ok=True)


def pin_self(core: int) -> None:
    """Pin this process (and what it starts from now on: embedded PostgreSQL and Redis) to ``core``,
    leaving the other core to the server under test (nothing on a one-core machine)."""
    if (os.cpu_count() or 1) > 1 and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {core})


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process and its children (live ones, and those it has waited for)
    have used so far: a server that forks or spawns helpers is charged for them too."""
    proc = psutil.Process(pid)
    times = proc.cpu_times()
    total = times.user + times.system + times.children_user + times.children_system
    for child in proc.children(recursive=True):
        with contextlib.suppress(psutil.Error):
            t = child.cpu_times()
            total += t.user + t.system
    return float(total)


def wrk(
    url: str,
    duration: int,
    connections: int,
    *,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    folder: Path | None = None,
    server_pid: int | None = None,
) -> dict[str, float]:
    """req/s, p50/p99 (ms), failed answers (non-2xx/3xx and timeouts) and requests of a wrk run
    (POST when ``body``), and with ``server_pid`` the server's CPU (seconds, and ms per request) —
    robust on a busy machine, where wall-clock figures also measure the neighbours."""
    cmd = [*pin(1), "wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--timeout", "60s", "--latency"]
    for name, value in (headers or {}).items():
        cmd += ["-H", f"{name}: {value}"]
    if body is not None:
        target = folder or Path(tempfile.gettempdir())
        data = target / f"wrk-body-{abs(hash(body))}.json"
        data.write_bytes(body)
        script = target / f"wrk-post-{abs(hash(body))}.lua"
        script.write_text(LUA_POST % data)
        cmd += ["-s", str(script)]
    cpu_before = cpu_seconds(server_pid) if server_pid else 0.0
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    cpu = cpu_seconds(server_pid) - cpu_before if server_pid else float("nan")
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    done = re.search(r"(\d+) requests in", out)
    requests = int(done.group(1)) if done else 0
    failed = sum(int(n) for n in re.findall(r"(?:Non-2xx or 3xx responses:|timeout) (\d+)", out))
    return {
        "rps": float(rps.group(1)) if rps else 0.0,
        "p50": _ms(out, "50%"),
        "p99": _ms(out, "99%"),
        "errors": failed,
        "requests": requests,
        "cpu_s": cpu,
        "cpu_ms": cpu * 1000 / requests if requests else float("nan"),
    }


def _ms(out: str, label: str) -> float:
    m = re.search(rf"^\s+{re.escape(label)}\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
    if m is None:
        return float("nan")
    value, unit = float(m.group(1)), m.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value
