"""Concurrent writers: two updates of one fact both apply in order, or — made conditional on the same
version — exactly one wins and the other gets VersionConflict. Never a silent lost update. Event
sequences stay gap-free and in commit order while many writers race."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

import asyncpg
import pytest

from db import events, writes
from db.errors import VersionConflict
from db.pool import Conn, create_pool
from tests.factories import make_actor, make_claim

pytestmark = pytest.mark.anyio


async def test_two_concurrent_updates_of_one_fact_both_apply_in_order(pool: asyncpg.Pool, conn: Conn) -> None:
    claim = await make_claim(conn)

    async def patch(status: str) -> dict[str, Any]:
        async with pool.acquire() as c:
            return await writes.update(c, "claim", claim["id"], {"status": status}, changed_by=status)

    a, b = await asyncio.wait_for(asyncio.gather(patch("disputed"), patch("denied")), timeout=20)
    assert sorted([a["version"], b["version"]]) == [2, 3]
    last = a if a["version"] == 3 else b
    revs = await conn.fetch(
        "SELECT version, changed_by, snapshot FROM revisions WHERE fact_id = $1 ORDER BY version", claim["id"]
    )
    assert [r["version"] for r in revs] == [1, 2, 3]
    # Version 3 was applied on top of version 2: its history shows both statuses, in order.
    assert [r["snapshot"]["status"] for r in revs[1:]] == [r["changed_by"] for r in revs[1:]]
    evts = await conn.fetch("SELECT object_version FROM events WHERE object_id = $1 ORDER BY sequence", claim["id"])
    assert [e["object_version"] for e in evts] == [1, 2, 3]
    stored = await conn.fetchrow("SELECT status, version FROM claims WHERE id = $1", claim["id"])
    assert stored is not None and (stored["status"], stored["version"]) == (last["status"], 3)


async def test_two_conditional_updates_from_the_same_version_one_wins_the_other_conflicts(
    pool: asyncpg.Pool, conn: Conn
) -> None:
    claim = await make_claim(conn)

    async def patch(status: str) -> dict[str, Any] | VersionConflict:
        async with pool.acquire() as c:
            try:
                return await writes.update(
                    c, "claim", claim["id"], {"status": status}, changed_by=status, expected_version=1
                )
            except VersionConflict as exc:
                return exc

    results = await asyncio.wait_for(asyncio.gather(patch("disputed"), patch("denied")), timeout=20)
    won = [r for r in results if isinstance(r, dict)]
    lost = [r for r in results if isinstance(r, VersionConflict)]
    assert len(won) == 1 and len(lost) == 1
    assert lost[0].extra["current_version"] == 2 and lost[0].status == 412
    stored = await conn.fetchrow("SELECT status, version FROM claims WHERE id = $1", claim["id"])
    assert stored is not None and (stored["status"], stored["version"]) == (won[0]["status"], 2)
    assert await conn.fetchval("SELECT count(*) FROM revisions WHERE fact_id = $1", claim["id"]) == 2
    assert await conn.fetchval("SELECT count(*) FROM events WHERE object_id = $1", claim["id"]) == 2


async def test_concurrent_writers_produce_gap_free_sequences_in_commit_order(database_url: str, conn: Conn) -> None:
    tasks, writes_each = 8, 20
    shared = [await make_actor(conn, name=f"Shared {i}") for i in range(3)]
    start = await events.last_sequence(conn)
    stop = asyncio.Event()
    violations: list[str] = []

    async def consumer() -> None:
        # What a resuming consumer relies on: whenever it sees sequence N, every sequence up to N
        # is already visible. A sequence committed out of order would show up as a hole here.
        async with await create_pool(database_url, min_size=1, max_size=1) as p:
            while not stop.is_set():
                seqs = [r["sequence"] for r in await p.fetch("SELECT sequence FROM events WHERE sequence > $1", start)]
                if seqs and sorted(seqs) != list(range(start + 1, start + 1 + len(seqs))):
                    violations.append(f"hole in {sorted(seqs)[:5]}…")
                await asyncio.sleep(0)

    async def writer(n: int, p: asyncpg.Pool) -> None:
        async with p.acquire() as c:
            for i in range(writes_each):
                if i % 2:
                    await writes.update(
                        c, "actor", shared[i % 3]["id"], {"description": f"w{n}-{i}"}, changed_by=f"w{n}"
                    )
                else:
                    await writes.create(c, "actor", {"kind": "group", "name": f"W{n} {i}"}, changed_by=f"w{n}")

    watcher = asyncio.create_task(consumer())
    async with await create_pool(database_url, min_size=tasks, max_size=tasks) as p:
        await asyncio.wait_for(asyncio.gather(*(writer(n, p) for n in range(tasks))), timeout=60)
    stop.set()
    await asyncio.wait_for(watcher, timeout=10)
    assert not violations

    rows = await conn.fetch(
        "SELECT sequence, object_id, object_version FROM events WHERE sequence > $1 ORDER BY sequence", start
    )
    assert [r["sequence"] for r in rows] == list(range(start + 1, start + 1 + tasks * writes_each))
    versions: dict[str, list[int]] = defaultdict(list)
    for r in rows:
        versions[r["object_id"]].append(r["object_version"])
    for object_id, seen in versions.items():
        assert seen == sorted(seen) and len(set(seen)) == len(seen), object_id
    # The shared actors were updated 80 times between them: each version exactly once.
    assert sum(len(versions[a["id"]]) for a in shared) == tasks * writes_each // 2
    assert await events.last_sequence(conn) == start + tasks * writes_each
