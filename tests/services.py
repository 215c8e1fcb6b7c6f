"""Real services for the tests: PostgreSQL and Redis (embedded ones, unless TEST_DATABASE_URL /
TEST_REDIS_URL point elsewhere), a live in-process uvicorn, and ``newsfacts serve`` subprocesses."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from api.app import create_app
from api.embedded import free_port
from api.http_protocol import HTTP_PROTOCOL
from api.settings import Settings
from api.ws_protocol import WS_PROTOCOL
from db.pool import Timeouts
from db.secrets import SecretBox

# One sealing key for the whole session, in the test process and every server or worker it starts
# (a development key generated per DATA_DIR would differ between them).
TEST_SECRET_KEYS = SecretBox.new_key_spec("test")

# How long test servers and pools wait on PostgreSQL (see ServerProcess.start).
TEST_DB_TIMEOUT_S = 30.0
TEST_DB_TIMEOUTS = Timeouts(statement_s=TEST_DB_TIMEOUT_S, acquire_s=TEST_DB_TIMEOUT_S)


def wait_for_http(url: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    # One client for every probe: each new one loads the CA bundle (about 30 ms of CPU), which every
    # 50 ms took a good part of a core from the server starting alongside.
    with httpx.Client(timeout=1.0) as client:
        while time.monotonic() < deadline:
            try:
                if client.get(url).status_code < 500:
                    return
            except httpx.HTTPError as exc:
                last = exc
            time.sleep(0.05)
    raise TimeoutError(f"{url} did not answer within {timeout}s ({last})")


@dataclass
class LiveServer:
    """A uvicorn server running create_app(settings) in a thread of the test process."""

    settings: Settings
    port: int = 0
    threaded: ThreadedServer | None = None
    # uvicorn's WebSocket keepalive (its default, 20 s): a client that answers no ping is closed
    # (1011) one more interval later. None turns it off, for tests of a client that reads nothing.
    ws_ping_interval: float | None = 20.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LiveServer:
        self.port = self.port or free_port()
        config = uvicorn.Config(
            create_app(self.settings), host="127.0.0.1", port=self.port, log_level="warning", lifespan="on",
            http=HTTP_PROTOCOL, server_header=False, access_log=False,  # as `newsfacts serve` runs
            ws=WS_PROTOCOL, ws_ping_interval=self.ws_ping_interval,
        )  # fmt: skip
        self.threaded = ThreadedServer(config)
        self.threaded.start()
        return self

    def stop(self) -> None:
        if self.threaded is not None:
            self.threaded.stop()


@dataclass
class ServerProcess:
    """``newsfacts serve`` in its own process (as in production), on a free port."""

    env: dict[str, str]
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> ServerProcess:
        self.port = self.port or free_port()
        # No webhook worker inside test servers unless asked: webhook tests run their own workers.
        env = {
            **os.environ,
            "WEBHOOK_SECRET_KEYS": TEST_SECRET_KEYS,
            "WEBHOOK_WORKER_IN_SERVER": "false",
            # The product's bounds (5 s) are for telling a hung PostgreSQL from a slow one in
            # production; on a test machine at load 10 a differential's query can legitimately take
            # longer. The hung-database tests pass their own, short bounds.
            "DB_STATEMENT_TIMEOUT_S": str(TEST_DB_TIMEOUT_S),
            "DB_ACQUIRE_TIMEOUT_S": str(TEST_DB_TIMEOUT_S),
            **self.env,
            "PORT": str(self.port),
            "HOST": "127.0.0.1",
        }
        log = open(self.log_path or os.devnull, "ab")
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "api.cli", "serve"], env=env, stdout=log, stderr=log, start_new_session=True
            )
        finally:
            log.close()  # the child holds its own copy of the descriptor
        wait_for_http(self.url + "/healthz", timeout=timeout)
        return self

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, sig)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                # A graceful stop that a loaded machine made slow must not fail the test (nor
                # leave the process behind): end it for good.
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)

    def stop(self) -> None:
        self.kill(signal.SIGTERM)


@contextmanager
def server_process(env: dict[str, str], log_path: Path | None = None) -> Iterator[ServerProcess]:
    proc = ServerProcess(env, log_path=log_path).start()
    try:
        yield proc
    finally:
        proc.stop()


@contextmanager
def server_processes(*envs: dict[str, str]) -> Iterator[list[ServerProcess]]:
    """One ``newsfacts serve`` per env, started and stopped side by side (each start and stop is
    mostly waiting: for imports and the lifespan, for the shutdown)."""
    procs = [ServerProcess(env) for env in envs]
    try:
        with ThreadPoolExecutor(len(procs)) as pool:
            list(pool.map(ServerProcess.start, procs))
        yield procs
    finally:
        with ThreadPoolExecutor(len(procs)) as pool:
            list(pool.map(ServerProcess.stop, procs))


class ThreadedServer:
    """uvicorn serving ``config`` (its port must be set) in a thread of this process."""

    def __init__(self, config: uvicorn.Config) -> None:
        self.url = f"http://127.0.0.1:{config.port}"
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self, probe: str = "/healthz") -> str:
        """Starts it; returns its base URL once ``probe`` answers."""
        self.thread.start()
        wait_for_http(self.url + probe)
        return self.url

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@contextmanager
def serving(config: uvicorn.Config, probe: str = "/healthz") -> Iterator[str]:
    """A ThreadedServer until the block ends; yields its base URL once ``probe`` answers."""
    threaded = ThreadedServer(config)
    try:
        yield threaded.start(probe)
    finally:
        threaded.stop()


def port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def run(coro: Any) -> Any:
    """Run a coroutine to completion from synchronous test code."""
    return asyncio.run(coro)
