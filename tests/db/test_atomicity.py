"""A write and its revision and event commit together or not at all: an update leaves all three; a
transaction killed halfway (rolled back, cancelled, or its backend terminated) leaves none."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import pytest

from db import writes
from db.pool import Conn, connect
from tests.factories import make_claim

pytestmark = pytest.mark.anyio

Counts = Callable[[Conn], Coroutine[Any, Any, dict[str, int]]]


async def _state(conn: Conn, claim_id: str) -> tuple[Any, ...]:
    row = await conn.fetchrow("SELECT status, version FROM claims WHERE id = $1", claim_id)
    revisions = await conn.fetchval("SELECT count(*) FROM revisions WHERE fact_id = $1", claim_id)
    events = await conn.fetchval("SELECT count(*) FROM events WHERE object_id = $1", claim_id)
    assert row is not None
    return row["status"], row["version"], revisions, events


async def test_an_update_keeps_a_revision_and_emits_an_event_with_the_same_snapshot(conn: Conn) -> None:
    claim = await make_claim(conn)
    updated = await writes.update(
        conn, "claim", claim["id"], {"status": "disputed"}, changed_by="editor", reason="new source"
    )
    assert updated["version"] == 2 and updated["status"] == "disputed"
    revs = await conn.fetch(
        "SELECT version, change_kind, reason, changed_by, snapshot FROM revisions WHERE fact_id = $1 ORDER BY version",
        claim["id"],
    )
    assert [(r["version"], r["change_kind"]) for r in revs] == [(1, "created"), (2, "updated")]
    assert (revs[1]["reason"], revs[1]["changed_by"]) == ("new source", "editor")
    assert revs[0]["snapshot"]["status"] == "reported"  # the previous version is kept as it was
    assert revs[1]["snapshot"] == updated
    evts = await conn.fetch(
        "SELECT type, object_version, data FROM events WHERE object_id = $1 ORDER BY sequence", claim["id"]
    )
    assert [(e["type"], e["object_version"]) for e in evts] == [("claim.created", 1), ("claim.updated", 2)]
    assert evts[1]["data"] == updated


async def test_a_correction_needs_a_reason_and_emits_a_corrected_event(conn: Conn) -> None:
    claim = await make_claim(conn)
    corrected = await writes.update(
        conn, "claim", claim["id"], {"statement": "The minister vowed not to retreat."}, changed_by="editor",
        reason="misquoted", correction=True,
    )  # fmt: skip
    last = await conn.fetchrow(
        "SELECT type FROM events WHERE object_id = $1 ORDER BY sequence DESC LIMIT 1", claim["id"]
    )
    assert last is not None and last["type"] == "claim.corrected"
    assert corrected["version"] == 2


async def test_rolling_back_an_enclosing_transaction_leaves_no_change_revision_or_event(
    conn: Conn, counts: Counts
) -> None:
    claim = await make_claim(conn)
    before, totals = await _state(conn, claim["id"]), await counts(conn)

    class Abort(Exception):
        pass

    with pytest.raises(Abort):
        async with conn.transaction():
            updated = await writes.update(conn, "claim", claim["id"], {"status": "denied"}, changed_by="test")
            assert updated["version"] == 2  # written inside the transaction...
            raise Abort  # ...which then dies before committing
    assert await _state(conn, claim["id"]) == before
    assert await counts(conn) == totals


@asynccontextmanager
async def _event_counter_held(database_url: str) -> AsyncIterator[Conn]:
    """Holds the outbox counter row lock: any writer blocks at its last statement (the event
    append), with its change and revision already written but not committed."""
    blocker = await connect(database_url)
    tx = blocker.transaction()
    await tx.start()
    await blocker.execute("SELECT last FROM event_counter FOR UPDATE")
    try:
        yield blocker
    finally:
        await tx.rollback()
        await blocker.close()


async def _wait_until_blocked(observer: Conn, pid: int) -> None:
    for _ in range(200):
        waiting = await observer.fetchval("SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = $1", pid)
        if waiting:
            written = await observer.fetchval(
                "SELECT count(*) FROM pg_locks WHERE pid = $1 AND locktype = 'transactionid' AND granted", pid
            )
            assert written, "the writer should hold a transaction id: it has written rows"
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the writer never reached the event append")


async def test_cancelling_a_write_midway_leaves_no_change_revision_or_event(
    conn: Conn, database_url: str, counts: Counts
) -> None:
    claim = await make_claim(conn)
    before = await _state(conn, claim["id"])
    writer = await connect(database_url)
    try:
        async with _event_counter_held(database_url) as blocker:
            totals = await counts(conn)
            task = asyncio.create_task(
                writes.update(writer, "claim", claim["id"], {"status": "denied"}, changed_by="test")
            )
            await _wait_until_blocked(blocker, writer.get_server_pid())
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await asyncio.wait_for(task, timeout=10)
        assert await _state(conn, claim["id"]) == before
        assert await counts(conn) == totals
        # The cancelled writer's connection is still usable and writes cleanly afterwards.
        again = await writes.update(writer, "claim", claim["id"], {"status": "denied"}, changed_by="test")
        assert again["version"] == 2
    finally:
        await writer.close()


async def test_terminating_the_backend_midway_leaves_no_change_revision_or_event(
    conn: Conn, database_url: str, counts: Counts
) -> None:
    claim = await make_claim(conn)
    before = await _state(conn, claim["id"])
    writer = await connect(database_url)
    try:
        async with _event_counter_held(database_url) as blocker:
            totals = await counts(conn)
            task = asyncio.create_task(
                writes.update(writer, "claim", claim["id"], {"status": "denied"}, changed_by="test")
            )
            pid = writer.get_server_pid()
            await _wait_until_blocked(blocker, pid)
            assert await blocker.fetchval("SELECT pg_terminate_backend($1)", pid)
            with pytest.raises((asyncpg.PostgresError, asyncpg.InterfaceError, ConnectionError)):
                await asyncio.wait_for(task, timeout=10)
        assert await _state(conn, claim["id"]) == before
        assert await counts(conn) == totals
    finally:
        await writer.close()
