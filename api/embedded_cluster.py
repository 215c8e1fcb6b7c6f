"""A PostgreSQL primary and a streaming replica made from the binaries pgserver ships (initdb,
pg_ctl, pg_basebackup), on TCP ports of 127.0.0.1: what ``make cluster``, the replica tests and
bench/bench_replicas.py run. Replication is real: the replica is a pg_basebackup of the primary
following its WAL stream, exactly what operators run."""

from __future__ import annotations

import os
import pwd
import shutil
import stat
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from api.embedded import free_port


def _bin(name: str) -> str:
    import pgserver

    return str(Path(pgserver.__file__).parent / "pginstall" / "bin" / name)


def _system_user() -> str | None:
    """PostgreSQL refuses to run as root; pgserver creates a "pgserver" user for that case, as do we."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("pgserver")
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "pgserver"], check=True)
    return "pgserver"


@dataclass
class PgNode:
    """One PostgreSQL server of the cluster: its data folder and TCP port."""

    folder: Path
    port: int
    user: str | None

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str, timeout: float = 60.0) -> None:
        done = subprocess.run(
            list(args), user=self.user, timeout=timeout, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"{Path(args[0]).name} failed ({done.returncode}): {done.stderr.decode(errors='replace')}"
            )

    def start(self) -> None:
        self._run(
            _bin("pg_ctl"), "-D", str(self.folder), "-l", str(self.folder / "server.log"), "-w", "-t", "30", "start"
        )

    def stop(self, mode: str = "fast") -> None:
        if (self.folder / "postmaster.pid").exists():
            self._run(_bin("pg_ctl"), "-D", str(self.folder), "-m", mode, "-w", "-t", "30", "stop")

    @property
    def running(self) -> bool:
        return (self.folder / "postmaster.pid").exists()


@dataclass
class EmbeddedCluster:
    """A primary and ``replicas`` streaming replicas under ``folder``; ``start()`` makes them
    (once) and starts them; data survives restarts."""

    folder: Path
    replicas: int = 1
    fast: bool = False  # fsync off: for throwaway clusters (tests), never for data worth keeping
    primary: PgNode = field(init=False)
    standbys: list[PgNode] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        self.folder = self.folder.resolve()
        user = _system_user()
        self.primary = PgNode(self.folder / "primary", self._port("primary"), user)
        self.standbys = [
            PgNode(self.folder / f"replica{i + 1}", self._port(f"replica{i + 1}"), user) for i in range(self.replicas)
        ]

    def _port(self, name: str) -> int:
        # The port is remembered beside the data, so URLs stay the same across restarts.
        remembered = self.folder / f"{name}.port"
        if remembered.exists():
            return int(remembered.read_text())
        self.folder.mkdir(parents=True, exist_ok=True)
        port = free_port()
        remembered.write_text(str(port))
        return port

    def _own(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        user = self.primary.user
        if user is not None:
            entry = pwd.getpwnam(user)
            os.chown(path, entry.pw_uid, entry.pw_gid)
        path.chmod(0o700)

    def start(self) -> EmbeddedCluster:
        self.folder.mkdir(parents=True, exist_ok=True)
        if self.primary.user is not None:
            # The server user must reach its data folders: let others traverse every parent (as pgserver does).
            for folder in [self.folder, *self.folder.parents]:
                folder.chmod(folder.stat().st_mode | stat.S_IXOTH | stat.S_IXGRP)
        p = self.primary
        if not (p.folder / "PG_VERSION").exists():
            shutil.rmtree(p.folder, ignore_errors=True)
            self._own(p.folder)
            p._run(
                _bin("initdb"), "-D", str(p.folder), "--auth=trust", "-U", "postgres", "-E", "utf8", "--no-instructions"
            )
            with open(p.folder / "postgresql.conf", "a") as conf:
                conf.write(self._conf(p.port))
        if not p.running:
            p.start()
        for standby in self.standbys:
            if not (standby.folder / "PG_VERSION").exists():
                shutil.rmtree(standby.folder, ignore_errors=True)
                self._own(standby.folder)
                # -R writes standby.signal and primary_conninfo: the copy starts as a streaming replica.
                p._run(
                    _bin("pg_basebackup"), "-h", "127.0.0.1", "-p", str(p.port), "-U", "postgres",
                    "-D", str(standby.folder), "-R", "-X", "stream", "-c", "fast",
                )  # fmt: skip
                with open(standby.folder / "postgresql.conf", "a") as conf:
                    conf.write(f"port = {standby.port}\n")
            if not standby.running:
                standby.start()
        return self

    def _conf(self, port: int) -> str:
        lines = [
            "listen_addresses = '127.0.0.1'",
            f"port = {port}",
            "unix_socket_directories = ''",
            "wal_level = replica",
            "max_wal_senders = 10",
            "hot_standby = on",
            # Without a slot the primary keeps this much WAL for a replica that falls behind.
            "wal_keep_size = '512MB'",
            # Replicas answer long reads without cancelling them for replay conflicts first.
            "max_standby_streaming_delay = '5s'",
            "hot_standby_feedback = on",
        ]
        if self.fast:
            lines += ["fsync = off", "full_page_writes = off"]
        return "\n# newsfacts cluster\n" + "\n".join(lines) + "\n"

    def stop(self) -> None:
        for node in [*self.standbys, self.primary]:
            try:
                node.stop()
            except (subprocess.SubprocessError, OSError):
                pass

    def wait_replicating(self, timeout: float = 30.0) -> None:
        """Until every standby accepts connections (it is streaming once it does: hot standby)."""
        deadline = time.monotonic() + timeout
        for standby in self.standbys:
            while True:
                done = subprocess.run(
                    [_bin("pg_isready"), "-h", "127.0.0.1", "-p", str(standby.port), "-t", "1"],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                )  # fmt: skip
                if done.returncode == 0:
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError(f"replica on port {standby.port} did not come up")
                time.sleep(0.1)
