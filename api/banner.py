"""The start-up banner of `newsfacts serve`: once the server answers, where everything is — the
API, GraphiQL, the REST reference, metrics, the explorer — where the data lives, and the command
for a first API key. Printed for people (plain text on stderr), after uvicorn's own lines."""

from __future__ import annotations

import socket
import sys
import threading
import time
from urllib.parse import urlsplit

from api.embedded import EmbeddedStack
from api.settings import Settings

READY_TIMEOUT_SECONDS = 120.0


def _redact(url: str) -> str:
    """A URL without its password, for the log."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return parts._replace(netloc=netloc).geturl()
    return url


def text(settings: Settings, stack: EmbeddedStack, host: str, port: int, *, worker: bool) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    base = f"http://{shown}:{port}"
    if stack.postgres is not None:
        postgres = f"embedded PostgreSQL 16 in {stack.postgres.folder.resolve()} (DATABASE_URL unset)"
    else:
        postgres = f"PostgreSQL at {_redact(stack.database_url)} (DATABASE_URL)"
    if stack.redis is not None:
        redis = f"embedded Redis on {stack.redis.url}, data in {stack.redis.folder.resolve()} (REDIS_URL unset)"
    else:
        redis = f"Redis at {_redact(stack.redis_url)} (REDIS_URL)"
    delivery = (
        "webhooks are delivered by a worker inside this server (WEBHOOK_WORKER_IN_SERVER)"
        if worker
        else "webhooks need a separate `newsfacts worker` (WEBHOOK_WORKER_IN_SERVER=true runs one here)"
    )
    lines = [
        "",
        f"  newsfacts is ready ({settings.environment})",
        f"    API           {base}/v1/claims",
        f"    GraphQL       {base}/graphql" + ("  (GraphiQL in a browser)" if settings.graphiql_enabled else ""),
        f"    REST docs     {base}/docs",
        f"    metrics       {base}/metrics",
        f"    explorer      {base}/explore",
        f"    overview      {base}/explore/overview",
        f"    data          {postgres}",
        f"                  {redis}",
        f"    delivery      {delivery}",
        "    first API key make key   (or: .venv/bin/newsfacts keys create --scope write)",
        "    stop          Ctrl-C here; `make stop` ends anything left running",
        "",
    ]
    return "\n".join(lines)


def announce_when_ready(settings: Settings, stack: EmbeddedStack, host: str, port: int, *, worker: bool) -> None:
    """Prints the banner from a daemon thread once the port accepts connections (uvicorn binds it
    after the app's start-up completed), or never if it does not."""
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host

    def wait_and_print() -> None:
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((shown.strip("[]"), port), timeout=1.0):
                    pass
            except OSError:
                time.sleep(0.2)
                continue
            print(text(settings, stack, host, port, worker=worker), file=sys.stderr, flush=True)
            return

    threading.Thread(target=wait_and_print, name="banner", daemon=True).start()
