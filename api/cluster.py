"""``make cluster``: the production topology as local processes, from the embedded binaries — a
PostgreSQL primary and a streaming replica (api/embedded_cluster.py), Redis, two API processes
reading from the replica, and a webhook worker. Prints the URLs; Ctrl-C stops everything."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from api.embedded import EmbeddedRedis, free_port
from api.embedded_cluster import EmbeddedCluster
from db.migrate import migrate
from db.pool import connect
from db.seed import seed


async def _prepare(admin_url: str, url: str) -> None:
    import asyncpg

    admin = await asyncpg.connect(admin_url)
    try:
        if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = 'newsfacts'"):
            await admin.execute("CREATE DATABASE newsfacts")
    finally:
        await admin.close()
    conn = await connect(url)
    try:
        await migrate(conn)
        await seed(conn)
    finally:
        await conn.close()


def _wait_http(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1.0).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f}s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make cluster", description=__doc__)
    parser.add_argument("--data-dir", type=Path, default=Path(".data/cluster"))
    parser.add_argument("--ports", default="8001,8002", help="ports of the two API processes")
    args = parser.parse_args(argv)
    folder: Path = args.data_dir
    ports = [int(p) for p in args.ports.split(",")]
    cluster = EmbeddedCluster(folder / "postgres").start()
    cluster.wait_replicating()
    redis = EmbeddedRedis(
        folder / "redis",
        port=int((folder / "redis.port").read_text()) if (folder / "redis.port").exists() else free_port(),
    )
    redis.start()
    (folder / "redis.port").write_text(str(redis.port))
    primary, replica = cluster.primary.url("newsfacts"), cluster.standbys[0].url("newsfacts")
    children: list[subprocess.Popen[bytes]] = []
    try:
        asyncio.run(_prepare(cluster.primary.url(), primary))
        env = {**os.environ, "DATABASE_URL": primary, "DATABASE_REPLICA_URLS": replica, "REDIS_URL": redis.url}
        logs = folder / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        for i, port in enumerate(ports):
            with open(logs / f"api{i + 1}.log", "ab") as log:
                command = [sys.executable, "-m", "api.cli", "serve"]
                child_env = {**env, "PORT": str(port)}
                children.append(
                    subprocess.Popen(command, env=child_env, stdout=log, stderr=log, start_new_session=True)
                )
        with open(logs / "worker.log", "ab") as log:
            children.append(
                subprocess.Popen(
                    [sys.executable, "-m", "api.cli", "worker"], env=env, stdout=log, stderr=log, start_new_session=True
                )
            )
        for port in ports:
            _wait_http(f"http://127.0.0.1:{port}/healthz")
        print("newsfacts cluster is up:")
        print(f"  PostgreSQL primary   {primary}")
        print(f"  PostgreSQL replica   {replica}   (streaming from the primary)")
        print(f"  Redis                {redis.url}")
        for i, port in enumerate(ports):
            print(f"  API process {i + 1}        http://127.0.0.1:{port}   (/graphql, /v1/claims, /metrics)")
        print(f"  webhook worker       pid {children[-1].pid}")
        print(f"  logs                 {logs}/")
        print("Ctrl-C stops everything; data stays in", folder)
        sys.stdout.flush()
        stop = {"now": False}
        signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))
        try:
            while not stop["now"]:
                for child in children:
                    if child.poll() is not None:
                        print(f"process {child.pid} exited with {child.returncode}; stopping", file=sys.stderr)
                        stop["now"] = True
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        return 0
    finally:
        for child in children:
            if child.poll() is None:
                os.killpg(child.pid, signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
        redis.stop()
        cluster.stop()


if __name__ == "__main__":
    sys.exit(main())
