"""The ``newsfacts`` command: serve, worker, stop, listen, migrate, seed, load, generate, keys, secrets. Each
command resolves its services the same way as the server: the URLs in the environment, or the embedded stack."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import sys
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import orjson

from api import banner
from api.embedded import EmbeddedStack, ensure_services, stop_strays
from api.settings import Settings
from api.webhooks import keyring
from db import bulk, generate, keys, webhooks
from db.migrate import migrate
from db.pool import Conn, connect
from db.secrets import SecretBox
from db.seed import seed

log = logging.getLogger("newsfacts")


def _configure_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level.upper(),
        format='{"ts":"%(asctime)s","level":"%(levelname)s","logger":"%(name)s","message":"%(message)s"}',
        stream=sys.stderr,
    )
    logging.getLogger("pgserver").setLevel(logging.WARNING)  # it logs every initdb line at INFO
    # Every request writes an access line; our formats use none of the caller, thread or process
    # fields, and finding the caller walks the stack (a tenth of a { __typename } request's time).
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    # pgserver's platformdirs call warns on every command where XDG_RUNTIME_DIR is unset: noise.
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")


@contextlib.asynccontextmanager
async def _database(settings: Settings, stack: EmbeddedStack) -> AsyncIterator[asyncpg.Connection[Any]]:
    conn = await connect(stack.database_url)
    try:
        await migrate(conn)
        yield conn
    finally:
        await conn.close()


def _with_db(
    settings: Settings, body: Callable[[asyncpg.Connection[Any]], Awaitable[int]], *, need_redis: bool = False
) -> int:
    # Commands that only need PostgreSQL do not start an embedded Redis.
    stack = ensure_services(settings.database_url, settings.redis_url, settings.data_dir, need_redis=need_redis)
    try:
        return _on_stack(settings, stack, body)
    finally:
        stack.stop()


def _on_stack(
    settings: Settings, stack: EmbeddedStack, body: Callable[[asyncpg.Connection[Any]], Awaitable[int]]
) -> int:
    async def run() -> int:
        async with _database(settings, stack) as conn:
            return await body(conn)

    return asyncio.run(run())


def cmd_migrate(settings: Settings, args: argparse.Namespace) -> int:
    async def body(conn: Conn) -> int:
        print("schema is current", file=sys.stderr)
        return 0

    return _with_db(settings, body)


def cmd_seed(settings: Settings, args: argparse.Namespace) -> int:
    async def body(conn: Conn) -> int:
        report = await seed(conn)
        if report is None:
            print("seed article already present; nothing to do", file=sys.stderr)
            return 0
        print(orjson.dumps(report.as_dict(), option=orjson.OPT_INDENT_2).decode())
        return 1 if report.rejected else 0

    return _with_db(settings, body)


def _progress(report: bulk.LoadReport) -> None:
    rate = report.total_loaded / report.seconds if report.seconds else 0.0
    print(
        f"\rloaded {report.total_loaded:,} · rejected {len(report.rejected):,} · {rate:,.0f} facts/s",
        end="",
        file=sys.stderr,
        flush=True,
    )


def cmd_load(settings: Settings, args: argparse.Namespace) -> int:
    async def body(conn: Conn) -> int:
        report = await bulk.load_file(
            conn, Path(args.file), changed_by=args.changed_by, batch_size=args.batch_size,
            progress=None if args.quiet else _progress, indexes=args.indexes,
        )  # fmt: skip
        if not args.quiet:
            print(file=sys.stderr)
        summary = report.as_dict()
        summary["rejected"] = summary["rejected"][: args.show_rejected]
        summary["rejectedCount"] = len(report.rejected)
        print(orjson.dumps(summary, option=orjson.OPT_INDENT_2).decode())
        return 2 if report.rejected else 0

    return _with_db(settings, body)


def cmd_generate(settings: Settings, args: argparse.Namespace) -> int:
    out = sys.stdout.buffer if args.out == "-" else open(args.out, "wb")
    try:
        n = generate.write_ndjson(out, args.articles, args.claims, seed=args.seed)
    finally:
        if out is not sys.stdout.buffer:
            out.close()
    print(f"wrote {n:,} records", file=sys.stderr)
    return 0


def cmd_keys_create(settings: Settings, args: argparse.Namespace) -> int:
    async def body(conn: Conn) -> int:
        key, secret = await keys.create(conn, name=args.name, scope=args.scope)
        print(f"created {key.id} ({key.scope}); this secret is shown once:", file=sys.stderr)
        print(secret)
        return 0

    return _with_db(settings, body)


def cmd_secrets_new_key(settings: Settings, args: argparse.Namespace) -> int:
    print(SecretBox.new_key_spec(args.id))
    return 0


def cmd_secrets_rotate_key(settings: Settings, args: argparse.Namespace) -> int:
    """Re-seal every webhook secret under the first key of WEBHOOK_SECRET_KEYS (the others must
    still be listed, to open what they sealed); afterwards the old keys can be removed."""
    box = keyring.secret_box(settings)

    async def body(conn: Conn) -> int:
        changed = await webhooks.reseal(conn, box, only_unsealed=False)
        print(f"re-sealed {changed} webhook endpoint(s) under key {box.current!r}", file=sys.stderr)
        return 0

    return _with_db(settings, body)


def _exit_on_signal(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from api.http_protocol import HTTP_PROTOCOL
    from api.ws_protocol import WS_PROTOCOL

    stack = ensure_services(settings.database_url, settings.redis_url, settings.data_dir)
    # Worker processes re-read the environment: hand them the resolved URLs (embedded or given).
    os.environ["DATABASE_URL"] = stack.database_url
    os.environ["REDIS_URL"] = stack.redis_url
    host, port = args.host or settings.host, args.port or settings.port
    pid_file = settings.data_dir / "serve.pid"
    worker: subprocess.Popen[bytes] | None = None
    try:
        if args.seed:
            _on_stack(settings, stack, _seed_quietly)  # the same stack: no second start, no second log line
        if settings.webhook_worker_enabled:
            # Webhook delivery next to the server (development): a `newsfacts worker` child in our
            # process group, so Ctrl-C reaches it too; production runs workers apart (docs/operations/deployment.md).
            worker = subprocess.Popen([sys.executable, "-m", "api.cli", "worker", "--in-server"])
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        pid_file.write_text(f"{os.getpid()}\n")  # `newsfacts stop` ends a stray server by this
        banner.announce_when_ready(settings, stack, host, port, worker=worker is not None)
        # uvicorn shuts down gracefully on SIGTERM, then restores the handler it found and raises
        # the signal again: with Python's default handler the process ended there, before this
        # function's clean-up, leaving the embedded PostgreSQL and Redis running. This handler
        # turns it into SystemExit, so the clean-up below runs as it does on Ctrl-C.
        signal.signal(signal.SIGTERM, _exit_on_signal)
        uvicorn.run(
            "api.asgi:app_from_environ",
            factory=True,
            host=host,
            port=port,
            workers=args.workers or settings.workers,
            loop="uvloop",
            http=HTTP_PROTOCOL,  # httptools, one write per response (api/http_protocol.py)
            ws=WS_PROTOCOL,  # frames encoded once per fan-out, written to each transport (api/ws_protocol.py)
            log_level=settings.log_level,
            access_log=False,  # the app writes its own structured access log
            server_header=False,  # no "server: uvicorn" to advertise, nor to build into every response
            proxy_headers=True,
            # SSE streams and WebSockets never end by themselves: give them a few seconds, then close.
            timeout_graceful_shutdown=5,
        )
    finally:
        if worker is not None:
            worker.terminate()
            try:
                worker.wait(timeout=10)
            except subprocess.TimeoutExpired:
                worker.kill()
        pid_file.unlink(missing_ok=True)
        stack.stop()
    return 0


def cmd_listen(settings: Settings, args: argparse.Namespace) -> int:
    from api.devhook import listen

    logging.getLogger("httpx").setLevel(logging.WARNING)  # it logs each request; the listener says what it did
    events = [e.strip() for e in args.events.split(",") if e.strip()] if args.events else None
    return listen(
        args.host, args.port, secret=args.secret, count=args.count,
        api=args.api, key=args.key, events=events, background=args.background,
    )  # fmt: skip


def cmd_stop(settings: Settings, args: argparse.Namespace) -> int:
    ended = stop_strays(settings.data_dir)
    print("\n".join(f"stopped {what}" for what in ended) or f"nothing of newsfacts running in {settings.data_dir}")
    return 0


def cmd_worker(settings: Settings, args: argparse.Namespace) -> int:
    import signal

    import uvloop

    from api.webhooks.worker import Worker
    from db.pool import create_pool

    if args.in_server:  # the server already said where PostgreSQL is; DATABASE_URL is its resolved URL
        logging.getLogger("newsfacts.embedded").setLevel(logging.WARNING)
    stack = ensure_services(settings.database_url, settings.redis_url, settings.data_dir, need_redis=False)
    concurrency = args.concurrency or settings.webhook_concurrency

    async def run() -> None:
        pool = await create_pool(
            stack.database_url, min_size=1, max_size=min(concurrency, 20) + 2,
            timeouts=settings.db_timeouts,
        )  # fmt: skip
        try:
            async with pool.acquire() as conn:
                await migrate(conn)
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, stop.set)
            watch = asyncio.create_task(_stop_with_parent(stop)) if args.in_server else None
            await Worker(settings, pool, stack.database_url, concurrency=concurrency).run(stop)
            if watch is not None:
                watch.cancel()
        finally:
            await pool.close()

    try:
        # uvloop: the worker is an HTTP client loop, and uvloop's transports cost less CPU per request.
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(run())
    finally:
        stack.stop()
    return 0


async def _stop_with_parent(stop: asyncio.Event) -> None:
    """A worker started by `serve` ends when its server is gone, even one killed with SIGKILL."""
    parent = os.getppid()
    # Polling: no event tells a process that its parent died (its parent becomes pid 1 or a reaper).
    while os.getppid() == parent:  # noqa: ASYNC110
        await asyncio.sleep(1.0)
    log.warning("the server that started this worker is gone; stopping")
    stop.set()


async def _seed_quietly(conn: Conn) -> int:
    report = await seed(conn)
    log.info("seed: %s", "already present" if report is None else f"loaded {report.total_loaded} facts")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="newsfacts", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the API server (uvicorn)")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--workers", type=int, help="server processes (default WORKERS or 1)")
    serve.add_argument("--seed", action="store_true", help="load the seed article first (idempotent)")
    serve.set_defaults(func=cmd_serve)

    worker = sub.add_parser("worker", help="deliver webhooks (run any number of these)")
    worker.add_argument("--concurrency", type=int, help="deliveries in flight (default WEBHOOK_CONCURRENCY)")
    worker.add_argument("--in-server", action="store_true", help=argparse.SUPPRESS)  # started by serve
    worker.set_defaults(func=cmd_worker)

    sub.add_parser(
        "stop", help="end a server, worker, embedded PostgreSQL and Redis left running under DATA_DIR"
    ).set_defaults(func=cmd_stop)
    listen_parser = sub.add_parser("listen", help="a local webhook receiver that prints each delivery")
    listen_parser.add_argument("--host", default="127.0.0.1")
    listen_parser.add_argument("--port", type=int, default=9000)
    listen_parser.add_argument("--secret", help="the endpoint's whsec_… secret, to verify signatures")
    listen_parser.add_argument("--count", type=int, help="exit after this many deliveries")
    listen_parser.add_argument(
        "--api", help="register this receiver as a webhook endpoint of the API at this URL (deleted on exit)"
    )
    listen_parser.add_argument("--key", help="an admin API key, to register the endpoint with --api")
    listen_parser.add_argument("--events", help="with --api: comma-separated event types (default: all)")
    listen_parser.add_argument(
        "--background", action="store_true", help="return once listening (and registered); deliveries print later"
    )
    listen_parser.set_defaults(func=cmd_listen)
    sub.add_parser("migrate", help="apply pending migrations").set_defaults(func=cmd_migrate)
    sub.add_parser("seed", help="load the seed article and its facts (idempotent)").set_defaults(func=cmd_seed)

    load = sub.add_parser("load", help="bulk-load a JSON or NDJSON document through the write service")
    load.add_argument("file")
    load.add_argument("--batch-size", type=int, default=2_000)
    load.add_argument("--changed-by", default="cli:load")
    load.add_argument("--show-rejected", type=int, default=100, help="how many rejections to print in full")
    load.add_argument("--quiet", action="store_true")
    load.add_argument(
        "--indexes",
        choices=("auto", "rebuild", "keep"),
        default="auto",
        help="rebuild: one transaction that drops the written tables' secondary indexes and builds them"
        " again at the end (much faster; those tables are locked against readers until it commits);"
        " keep: maintain them, each batch committed on its own; auto (default): rebuild for an initial"
        " load (every fact table empty) of a file of 4 MB or more",
    )
    load.set_defaults(func=cmd_load)

    gen = sub.add_parser("generate", help="write a deterministic synthetic corpus as NDJSON")
    gen.add_argument("--articles", type=int, default=1_000)
    gen.add_argument("--claims", type=int, default=10_000)
    gen.add_argument("--seed", type=int, default=42)
    gen.add_argument("--out", default="-")
    gen.set_defaults(func=cmd_generate)

    keys_parser = sub.add_parser("keys", help="API keys")
    keys_sub = keys_parser.add_subparsers(dest="keys_command", required=True)
    create = keys_sub.add_parser("create", help="create a key; prints its secret once")
    create.add_argument("--scope", choices=keys.SCOPES, required=True)
    create.add_argument("--name", default="cli")
    create.set_defaults(func=cmd_keys_create)

    secrets_parser = sub.add_parser("secrets", help="the key that seals webhook signing secrets")
    secrets_sub = secrets_parser.add_subparsers(dest="secrets_command", required=True)
    new_key = secrets_sub.add_parser("new-key", help="print a fresh id:key entry for WEBHOOK_SECRET_KEYS")
    new_key.add_argument("--id", default=None, help="the key's id (default: random)")
    new_key.set_defaults(func=cmd_secrets_new_key)
    rotate = secrets_sub.add_parser("rotate-key", help="re-seal every webhook secret under the first key")
    rotate.set_defaults(func=cmd_secrets_rotate_key)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = Settings.from_environ()
    _configure_logging(settings)
    result: int = args.func(settings, args)
    return result


if __name__ == "__main__":
    sys.exit(main())
