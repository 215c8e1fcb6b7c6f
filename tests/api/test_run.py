"""`newsfacts serve` as `make run` runs it, on embedded PostgreSQL and Redis in a fresh data folder:
the banner names every URL, where the data lives and the first-key command; webhook delivery runs
alongside in development; stopping the server stops what it started, and `newsfacts stop` ends
what a killed server left behind. The development webhook defaults, and the settings each refusal
names, are checked against the real URL validation."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from api.embedded import free_port
from api.settings import Settings
from api.webhooks.delivery import validate_url
from db.errors import ValidationFailed
from tests.services import wait_for_http

NEWSFACTS = str(Path(sys.executable).parent / "newsfacts")
URL_VARIABLES = ("DATABASE_URL", "REDIS_URL", "TEST_DATABASE_URL", "TEST_REDIS_URL")


@pytest.fixture
def data_dir() -> Iterator[Path]:
    """A fresh data folder (not tmp_path: pgserver runs postgres as its own user, who must reach it)."""
    with tempfile.TemporaryDirectory(prefix="newsfacts-run-") as folder:
        yield Path(folder)


def _serve(data_dir: Path, port: int) -> tuple[subprocess.Popen[bytes], Path]:
    env = {k: v for k, v in os.environ.items() if k not in URL_VARIABLES}
    env.update({"DATA_DIR": str(data_dir), "PORT": str(port), "HOST": "127.0.0.1", "LOG_LEVEL": "info"})
    log_path = data_dir / "serve.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [NEWSFACTS, "serve", "--seed"], env=env, stdout=log, stderr=log, start_new_session=True
        )
    return process, log_path


def _wait_for(predicate: object, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(predicate) and predicate():
            return
        time.sleep(0.1)
    raise AssertionError("timed out")


def _children(process: subprocess.Popen[bytes]) -> dict[str, int]:
    """The embedded servers and the webhook worker of a running `serve`, by role."""
    found: dict[str, int] = {}
    for p in psutil.Process(process.pid).children(recursive=True):
        cmd = " ".join(p.cmdline())
        if "worker --in-server" in cmd:
            found["worker"] = p.pid
        elif "redis-server" in cmd:
            found["redis"] = p.pid
    return found


def _postgres_pid(data_dir: Path) -> int:
    return int((data_dir / "postgres" / "postmaster.pid").read_text().split()[0])


@pytest.mark.slow
# Ctrl-C in a terminal; SIGTERM from docker stop, systemd or a process manager, which uvicorn
# re-raised after its shutdown and so ended the process before it stopped what it had started.
@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_serve_prints_a_banner_runs_a_worker_and_stops_everything_it_started(
    data_dir: Path, stop_signal: signal.Signals
) -> None:
    port = free_port()
    process, log_path = _serve(data_dir, port)
    try:
        wait_for_http(f"http://127.0.0.1:{port}/healthz", timeout=60)
        _wait_for(lambda: "newsfacts is ready" in log_path.read_text())
        children = _children(process)
        postgres = _postgres_pid(data_dir)
    finally:
        os.killpg(process.pid, stop_signal)
        process.wait(timeout=30)
    logged = log_path.read_text()
    for url in ("/v1/claims", "/graphql", "/docs", "/metrics", "/explore", "/explore/overview"):
        assert f"http://127.0.0.1:{port}{url}" in logged, url
    assert f"embedded PostgreSQL 16 in {(data_dir / 'postgres').resolve()}" in logged
    assert "make key" in logged and ".venv/bin/newsfacts keys create --scope write" in logged
    # The server resolved DATABASE_URL itself: no line may claim it was given.
    assert "using PostgreSQL at DATABASE_URL" not in logged
    assert "webhook worker" in logged and set(children) == {"worker", "redis"}
    _wait_for(lambda: not any(psutil.pid_exists(pid) for pid in (postgres, *children.values())))
    assert not (data_dir / "serve.pid").exists()  # its clean-up ran to the end


@pytest.mark.slow
def test_stop_ends_what_a_killed_server_left_running(data_dir: Path) -> None:
    port = free_port()
    process, _ = _serve(data_dir, port)
    wait_for_http(f"http://127.0.0.1:{port}/healthz", timeout=60)
    children = _children(process)
    postgres = _postgres_pid(data_dir)
    process.kill()  # SIGKILL: nothing of its own clean-up runs
    process.wait(timeout=10)
    _wait_for(lambda: not psutil.pid_exists(children["worker"]))  # the worker notices its server is gone
    assert psutil.pid_exists(postgres) and psutil.pid_exists(children["redis"])
    env = {k: v for k, v in os.environ.items() if k not in URL_VARIABLES} | {"DATA_DIR": str(data_dir)}
    stopped = subprocess.run([NEWSFACTS, "stop"], env=env, capture_output=True, text=True, timeout=60, check=True)
    assert "embedded PostgreSQL" in stopped.stdout and "embedded Redis" in stopped.stdout, stopped.stdout
    assert not psutil.pid_exists(postgres) and not psutil.pid_exists(children["redis"])
    again = subprocess.run([NEWSFACTS, "stop"], env=env, capture_output=True, text=True, timeout=60, check=True)
    assert again.stdout.startswith("nothing of newsfacts running")


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("environment", "url", "accepted", "names"),
    [
        ("development", "http://127.0.0.1:9000/hook", True, None),
        ("development", "http://[::1]:9000/hook", True, None),
        ("development", "http://93.184.215.14/hook", False, "WEBHOOK_REQUIRE_HTTPS"),
        ("production", "http://127.0.0.1:9000/hook", False, "WEBHOOK_REQUIRE_HTTPS"),
        ("production", "https://127.0.0.1:9000/hook", False, "WEBHOOK_ALLOWED_NETWORKS"),
        ("production", "https://10.1.2.3/hook", False, "WEBHOOK_ALLOWED_NETWORKS"),
        ("production", "https://93.184.215.14/hook", True, None),
    ],
)
async def test_webhook_url_defaults_by_environment_and_refusals_name_their_setting(
    environment: str, url: str, accepted: bool, names: str | None
) -> None:
    settings = Settings(environment=environment)
    if accepted:
        assert await validate_url(url, settings) == url
        return
    with pytest.raises(ValidationFailed) as refused:
        await validate_url(url, settings)
    assert names is not None and names in refused.value.errors[0].message


def test_development_settings_can_still_be_made_strict() -> None:
    strict = Settings(environment="development", webhook_allowed_networks=(), webhook_require_https=True)
    assert strict.webhook_networks == () and strict.webhook_http_allowed == "none"
    assert not Settings(environment="production").webhook_worker_enabled
    assert Settings().webhook_worker_enabled and Settings().webhook_networks == ("127.0.0.0/8", "::1/128")
