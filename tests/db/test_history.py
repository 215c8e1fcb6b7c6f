"""History: every version is kept, and a fact can be read as it stood at a given time."""

from __future__ import annotations

import asyncio

import pytest

from db import queries, writes
from db.lens import FULL, Lens
from db.pool import Conn
from tests.factories import make_claim

pytestmark = pytest.mark.anyio


async def test_as_of_a_time_between_two_revisions_returns_the_older_version(conn: Conn) -> None:
    before_creation = (await conn.fetchval("SELECT clock_timestamp()")).isoformat()
    await asyncio.sleep(0.01)
    claim = await make_claim(conn)
    await asyncio.sleep(0.01)
    between = (await conn.fetchval("SELECT clock_timestamp()")).isoformat()
    await asyncio.sleep(0.01)
    await writes.update(conn, "claim", claim["id"], {"status": "disputed"}, changed_by="editor", reason="r1")
    after = (await conn.fetchval("SELECT clock_timestamp()")).isoformat()

    assert await queries.get(conn, "claim", claim["id"], lens=Lens(before_creation)) is None
    old = await queries.get(conn, "claim", claim["id"], lens=Lens(between))
    assert old is not None and (old["version"], old["status"]) == (1, "reported")
    new = await queries.get(conn, "claim", claim["id"], lens=Lens(after))
    assert new is not None and (new["version"], new["status"]) == (2, "disputed")


async def test_revisions_list_every_version_with_who_and_why_and_a_retraction_keeps_them(conn: Conn) -> None:
    claim = await make_claim(conn)
    await writes.update(conn, "claim", claim["id"], {"status": "disputed"}, changed_by="ed", reason="second source")
    retracted = await writes.retract(conn, "claim", claim["id"], changed_by="ed", reason="fabricated")
    assert retracted["status"] == "retracted" and retracted["retractedAt"] is not None
    history = await queries.revisions(conn, claim["id"], lens=FULL)
    assert [(h["version"], h["changeKind"], h["reason"]) for h in history] == [
        (1, "created", None),
        (2, "updated", "second source"),
        (3, "retracted", "fabricated"),
    ]
    assert [h["snapshot"]["status"] for h in history] == ["reported", "disputed", "retracted"]
