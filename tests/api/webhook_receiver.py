"""A webhook receiver for the tests (outside the product, so a stand-in is fine): a real HTTP server
in a thread that records every request and answers as the test's ``respond`` callable says."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import asyncpg
import httpx
import orjson
import pytest

from api.embedded import free_port
from api.settings import Settings
from api.webhooks.worker import Worker
from db import keys
from db.pool import create_pool
from tests.services import TEST_SECRET_KEYS, LiveServer, run


@dataclass
class Received:
    at: float
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]

    def json(self) -> Any:
        return orjson.loads(self.body)


@dataclass
class Answer:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"ok"
    delay: float = 0.0  # seconds to wait before answering (a slow or hanging receiver)


Respond = Callable[[Received, int], Answer]  # (request, how many requests came before it) -> answer


class Receiver:
    """Start/stop keep the port, so a stopped receiver looks like a server that is down."""

    def __init__(self, respond: Respond | None = None) -> None:
        self.port = free_port()
        self.respond: Respond = respond or (lambda r, n: Answer())
        self.received: list[Received] = []
        self.overlaps: list[str] = []  # webhook-ids seen while the same id was still in flight
        self._in_flight: dict[str, int] = {}
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length)
                item = Received(time.monotonic(), self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                wid = item.headers.get("webhook-id", "")
                with receiver._lock:
                    count = len(receiver.received)
                    receiver.received.append(item)
                    if receiver._in_flight.get(wid, 0) > 0:
                        receiver.overlaps.append(wid)
                    receiver._in_flight[wid] = receiver._in_flight.get(wid, 0) + 1
                try:
                    answer = receiver.respond(item, count)
                    if answer.delay:
                        time.sleep(answer.delay)
                    self.send_response(answer.status)
                    for k, v in answer.headers.items():
                        self.send_header(k, v)
                    self.send_header("content-length", str(len(answer.body)))
                    self.end_headers()
                    self.wfile.write(answer.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                finally:
                    with receiver._lock:
                        receiver._in_flight[wid] -= 1

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def ids(self) -> list[str]:
        with self._lock:
            return [r.webhook_id for r in self.received]


async def eventually(check: Callable[[], Any] | Callable[[], Awaitable[Any]], timeout: float = 15.0) -> Any:
    """Poll ``check`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if asyncio.iscoroutine(last):
            last = await last
        if last:
            return last
        await asyncio.sleep(0.05)
    raise AssertionError(f"condition not met within {timeout}s (last value: {last!r})")


def webhook_settings(settings: Settings, **overrides: Any) -> Settings:
    """The session settings with webhooks allowed to reach this machine and a retry schedule in tenths of seconds."""
    values: dict[str, Any] = {
        "webhook_allowed_networks": ("127.0.0.0/8",),
        "webhook_require_https": False,
        "webhook_retry_schedule": ("0", "0.2", "0.4", "0.6", "0.8", "1", "1", "1", "1", "1"),
        "webhook_timeout_ms": 1500,
        **overrides,
    }
    return replace(settings, **values)


def worker_env(database_url: str, redis_url: str, **extra: str) -> dict[str, str]:
    """Environment for a ``newsfacts worker`` subprocess matching webhook_settings."""
    return {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
        "WEBHOOK_REQUIRE_HTTPS": "false",
        "WEBHOOK_RETRY_SCHEDULE": "0,0.2,0.4,0.6,0.8,1,1,1,1,1",
        "WEBHOOK_TIMEOUT_MS": "1500",
        "LOG_LEVEL": "warning",
        "WEBHOOK_SECRET_KEYS": TEST_SECRET_KEYS,
        **extra,
    }


class WorkerProcess:
    """``python -m api.cli worker`` in its own process group, killable like a crashed host."""

    def __init__(self, env: dict[str, str], concurrency: int = 8) -> None:
        self.env = {**os.environ, **env}
        self.concurrency = concurrency
        self.process: subprocess.Popen[bytes] | None = None
        self.log = tempfile.TemporaryFile()

    def start(self) -> WorkerProcess:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "api.cli", "worker", "--concurrency", str(self.concurrency)],
            env=self.env, stdout=subprocess.DEVNULL, stderr=self.log, start_new_session=True,
        )  # fmt: skip
        return self

    def output(self) -> str:
        """What the worker logged (for failure messages)."""
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-4000:]

    def close(self) -> None:
        self.kill()
        self.log.close()

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, sig)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)


@contextlib.asynccontextmanager
async def running_worker(settings: Settings, database_url: str, concurrency: int = 8) -> AsyncIterator[Worker]:
    """A Worker in this event loop (for fine-grained cases); stopped and drained on exit."""
    pool = await create_pool(database_url, min_size=1, max_size=concurrency + 2)
    worker = Worker(settings, pool, database_url, concurrency=concurrency)
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        yield worker
    finally:
        stop.set()
        try:
            await asyncio.wait_for(task, 15)
        finally:
            await pool.close()


# --- fixtures shared by the webhook test modules (import them by name) --------------------


@pytest.fixture(scope="module")
def wh_settings(settings: Settings) -> Settings:
    return webhook_settings(settings)


@pytest.fixture(scope="module")
def wh_api(wh_settings: Settings) -> Iterator[LiveServer]:
    """An API server whose settings let endpoints point at this machine (the receiver)."""
    live = LiveServer(wh_settings).start()
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture(scope="module")
def wh_admin(database_url: str) -> dict[str, str]:
    async def make() -> str:
        conn = await asyncpg.connect(database_url)
        try:
            _, secret = await keys.create(conn, name="webhook-tests", scope="admin")
        finally:
            await conn.close()
        return secret

    return {"Authorization": f"Bearer {run(make())}"}


@pytest.fixture
async def wh_client(wh_api: LiveServer, wh_admin: dict[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=wh_api.url, headers=wh_admin, timeout=10) as c:
        yield c
        # Leave no endpoint behind to be retried against a receiver that is gone.
        listing = (await c.get("/v1/webhook-endpoints", params={"limit": 100})).json()
        for endpoint in listing["data"]:
            await c.delete(f"/v1/webhook-endpoints/{endpoint['id']}")


@pytest.fixture
def wh_receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    try:
        yield r
    finally:
        r.stop()


async def register(client: httpx.AsyncClient, url: str, **fields: Any) -> dict[str, Any]:
    """Create an endpoint through the API; returns it with its secret."""
    response = await client.post("/v1/webhook-endpoints", json={"url": url, **fields})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body
