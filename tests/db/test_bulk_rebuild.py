"""A load that sets the secondary indexes aside (db/load/indexes.py): every index is back after it,
exactly as the catalogue had it (pg_get_indexdef, name by name), whether the load finished or was
SIGKILLed mid-way; the interrupted load left nothing, and run again it loads every record once.
``auto`` takes this path only for an initial load."""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import orjson
import pytest

from db import bulk, generate
from db.errors import NewsfactsError
from db.load import indexes
from db.migrate import migrate
from db.pool import Conn, connect
from tests.services import run

NEWSFACTS = str(Path(sys.executable).parent / "newsfacts")
pytestmark = pytest.mark.anyio
URL_VARIABLES = ("DATABASE_URL", "REDIS_URL", "TEST_DATABASE_URL", "TEST_REDIS_URL")


async def index_oids(conn: Conn) -> dict[str, int]:
    rows = await conn.fetch(
        "SELECT indexrelid::regclass::text AS name, indexrelid::int8 AS oid FROM pg_index"
        " WHERE indrelid = ANY($1::regclass[])",
        bulk.written_tables(),
    )
    return {r["name"]: r["oid"] for r in rows}


def write_corpus(path: Path, articles: int, claims: int, seed: int) -> list[dict[str, Any]]:
    records = [{k: v for k, v in r.items() if v is not None} for r in generate.records(articles, claims, seed=seed)]
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    return records


async def assert_loaded_once(conn: Conn, records: list[dict[str, Any]]) -> None:
    """Each record stored once, with one revision, one history row and one event, events in input order."""
    ids = [r["id"] for r in records]
    stored = 0
    for kind in ("actors", "articles", "claims", "deployments", "incidents"):
        stored += await conn.fetchval(f"SELECT count(*) FROM {kind} WHERE id = ANY($1::text[])", ids)
        history = await conn.fetchval(f"SELECT count(*) FROM {kind}_history WHERE id = ANY($1::text[])", ids)
        assert history == await conn.fetchval(f"SELECT count(*) FROM {kind} WHERE id = ANY($1::text[])", ids)
    assert stored == len(ids)
    for table, column in (("revisions", "fact_id"), ("events", "object_id")):
        assert await conn.fetchval(
            f"SELECT count(DISTINCT {column}) FROM {table} WHERE {column} = ANY($1::text[])", ids
        ) == len(ids)
        assert await conn.fetchval(f"SELECT count(*) FROM {table} WHERE {column} = ANY($1::text[])", ids) == len(ids)
    order = await conn.fetch("SELECT object_id FROM events WHERE object_id = ANY($1::text[]) ORDER BY sequence", ids)
    position = {r["id"]: n for n, r in enumerate(records)}
    for kind in ("act", "art", "clm"):
        seen = [position[r["object_id"]] for r in order if r["object_id"].startswith(kind)]
        assert seen == sorted(seen), kind


async def test_a_rebuild_load_builds_every_secondary_index_again_as_the_catalogue_had_it(
    conn: Conn, tmp_path: Path
) -> None:
    tables = bulk.written_tables()
    # What pg_get_indexdef leaves out and the rebuild carries over: a comment, a CLUSTER mark.
    await conn.execute("COMMENT ON INDEX claims_status_idx IS 'keyset pages by status'")
    await conn.execute("ALTER TABLE claims_history CLUSTER ON claims_history_id_idx")
    before, oids = await indexes.definitions(conn, tables), await index_oids(conn)
    path = tmp_path / "corpus.ndjson"
    records = write_corpus(path, 12, 240, seed=8_101)

    report = await bulk.load_file(conn, path, changed_by="test", batch_size=50, indexes="rebuild")

    assert report.total_loaded == len(records) and not report.rejected
    assert await indexes.definitions(conn, tables) == before
    assert await conn.fetchval("SELECT obj_description('claims_status_idx'::regclass, 'pg_class')") == (
        "keyset pages by status"
    )
    assert await conn.fetchval(
        "SELECT indisclustered FROM pg_index WHERE indexrelid = 'claims_history_id_idx'::regclass"
    )
    await conn.execute("COMMENT ON INDEX claims_status_idx IS NULL")
    await conn.execute("ALTER TABLE claims_history SET WITHOUT CLUSTER")
    after = await index_oids(conn)
    set_aside = {i.name for i in await indexes.secondary(conn, tables)}
    assert {"claims_search_idx", "claims_article_ids_idx_history", "events_type_idx"} <= set_aside
    # The secondary indexes are new ones (built after the rows), the unique ones the same.
    assert {name for name in before if after[name] != oids[name]} == set_aside
    await assert_loaded_once(conn, records)
    # Every written table vacuumed after the commit, not left for autovacuum and the first readers.
    vacuumed = await conn.fetch(
        "SELECT relname FROM pg_stat_user_tables WHERE last_vacuum IS NOT NULL AND relname = ANY($1::text[])", tables
    )
    assert {r["relname"] for r in vacuumed} == set(tables)
    # The rebuilt indexes answer: a search and a relation probe find the loaded claims.
    claim = next(r for r in records if r["object"] == "claim")
    await conn.execute("SET enable_seqscan = off")
    cited = [claim["references"][0]["article"]]
    assert await conn.fetchval("SELECT count(*) FROM claims WHERE article_ids && $1::text[]", cited) >= 1
    await conn.execute("RESET enable_seqscan")
    # The load folded its facet and sum deltas once, before its commit (0018's triggers fold at
    # most once per transaction): nothing is left for readers to add up.
    assert await conn.fetchval("SELECT count(*) FROM facet_count_deltas") == 0
    assert await conn.fetchval("SELECT count(*) FROM sum_count_deltas") == 0
    assert await conn.fetchval("SELECT count(*) FROM sum_counts WHERE kind = 'incident'") > 0


async def test_a_rebuild_load_whose_connection_dies_midway_raises_and_leaves_every_index(
    database_url: str, conn: Conn
) -> None:
    before = await indexes.definitions(conn, bulk.written_tables())
    loader = await connect(database_url)
    records = list(generate.records(10, 400, seed=8_105))

    async def items() -> AsyncIterator[bulk.Item]:
        for i, record in enumerate(records):
            if i == 250:
                await conn.execute("SELECT pg_terminate_backend($1)", loader.get_server_pid())
            yield i, record.pop("object"), record

    loop = asyncio.get_running_loop()
    previous = loop.get_exception_handler()

    def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        # asyncpg (0.32) creates an operation's waiter before it checks the protocol's state, so
        # an operation refused on the dying connection leaves a waiter nobody awaits, and the
        # connection's loss is set on it: "Future exception was never retrieved". Only that is
        # asyncpg's; anything else still reaches the test runner's handler.
        exc = context.get("exception")
        if str(context.get("message", "")).startswith("Future exception was never retrieved") and isinstance(
            exc, asyncpg.ConnectionDoesNotExistError | ConnectionError
        ):
            return
        if previous is not None:
            previous(loop, context)
        else:
            loop.default_exception_handler(context)

    loop.set_exception_handler(handler)
    try:
        with pytest.raises((asyncpg.PostgresError, asyncpg.InterfaceError, ConnectionError, NewsfactsError)):
            load = bulk.load(loader, items(), changed_by="test", batch_size=50, rebuild_indexes=True)
            await asyncio.wait_for(load, timeout=30)
    finally:
        await loader.close()
        gc.collect()  # the orphaned waiter, if any, is reported now, to the handler above
        await asyncio.sleep(0)
        loop.set_exception_handler(previous)
    assert await indexes.definitions(conn, bulk.written_tables()) == before
    assert not await conn.fetchval("SELECT count(*) FROM claims WHERE id = ANY($1::text[])", [r["id"] for r in records])


async def test_auto_rebuilds_for_an_initial_load_only(
    empty_database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bulk, "AUTO_REBUILD_BYTES", 0)  # a small file stands for a large one
    conn = await connect(empty_database)
    try:
        await migrate(conn)
        assert await bulk.initial(conn)
        oids = await index_oids(conn)
        path = tmp_path / "first.ndjson"
        write_corpus(path, 3, 30, seed=8_102)
        await bulk.load_file(conn, path, changed_by="test")
        rebuilt = await index_oids(conn)
        assert oids["claims_search_idx"] != rebuilt["claims_search_idx"]
        assert oids["claims_pkey"] == rebuilt["claims_pkey"]

        assert not await bulk.initial(conn)
        path = tmp_path / "second.ndjson"
        write_corpus(path, 3, 30, seed=8_103)
        await bulk.load_file(conn, path, changed_by="test")
        assert await index_oids(conn) == rebuilt  # the graph held facts: the indexes were kept
    finally:
        await conn.close()


def test_a_rebuild_load_killed_midway_leaves_every_index_and_nothing_loaded_and_reruns_whole(
    database_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "corpus.ndjson"
    records = write_corpus(path, 40, 2_400, seed=8_104)
    env = {**{k: v for k, v in os.environ.items() if k not in URL_VARIABLES}, "DATABASE_URL": database_url}
    command = [NEWSFACTS, "load", str(path), "--batch-size", "40", "--indexes", "rebuild"]

    async def state() -> tuple[dict[str, str], int]:
        conn = await connect(database_url)
        try:
            ids = [r["id"] for r in records]
            stored = await conn.fetchval("SELECT count(*) FROM claims WHERE id = ANY($1::text[])", ids)
            return await indexes.definitions(conn, bulk.written_tables()), int(stored)
        finally:
            await conn.close()

    before, _ = run(state())
    loader = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    progress = bytearray()

    def read_progress() -> None:
        assert loader.stderr is not None
        while chunk := loader.stderr.read1(4096):
            progress.extend(chunk)

    reader = threading.Thread(target=read_progress, daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 120
        # The progress line counts written batches; in this mode they are not committed yet.
        while (done := _loaded(progress)) < 400:
            assert loader.poll() is None, bytes(progress)
            assert time.monotonic() < deadline, "the load wrote nothing in two minutes"
            time.sleep(0.02)
        assert done < len(records)
        loader.send_signal(signal.SIGKILL)
    finally:
        loader.wait(timeout=30)
        reader.join(timeout=30)
        if loader.stderr is not None:
            loader.stderr.close()
    assert loader.returncode == -signal.SIGKILL

    definitions, stored = run(state())
    assert definitions == before  # every index there, as it was
    assert stored == 0  # the one transaction rolled back whole

    again = subprocess.run([*command, "--quiet"], env=env, capture_output=True, timeout=300, check=False)
    report = orjson.loads(again.stdout)
    assert again.returncode == 0, report["rejected"][:3]
    assert report["totalLoaded"] == len(records)
    definitions, stored = run(state())
    assert definitions == before
    assert stored == sum(r["object"] == "claim" for r in records)

    async def check() -> None:
        conn = await connect(database_url)
        try:
            await assert_loaded_once(conn, records)
        finally:
            await conn.close()

    run(check())


def _loaded(progress: bytearray) -> int:
    """The last count of the loader's progress line (``\\rloaded 1,234 · …``)."""
    lines = bytes(progress).split(b"\r")
    for line in reversed(lines):
        if line.startswith(b"loaded ") and b"\xc2\xb7" in line:
            return int(line.split()[1].replace(b",", b""))
    return 0
