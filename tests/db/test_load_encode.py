"""The binary COPY payload the loader's worker thread builds (db/load/encode.py) stages exactly the
rows asyncpg's own encoding stages, and a load whose batches are written while the next ones are
read, checked and encoded keeps its events in load order and its report exact."""

from __future__ import annotations

import io
import uuid
from typing import Any

import orjson
import pytest

from db import bulk
from db.load import encode, stage
from db.pool import Conn
from db.registry import LOAD_ORDER

pytestmark = pytest.mark.anyio

AWKWARD = ["", "plain", "tab\there", "new\nline", "back\\slash", 'quote"d', "astral 𝄞 😀", "é" * 300, "NULL", "\\N"]


def _value(type_: str, n: int) -> Any:
    """A value of staged ``type_`` for row ``n``: NULLs, empty arrays and NULL elements included."""
    if n % 5 == 4:
        return None
    text = AWKWARD[n % len(AWKWARD)]
    return {
        "integer": n * 7919 - 2**31 + 1 if n % 2 else n,
        "boolean": n % 3 == 0,
        "text": text,
        "text[]": [] if n % 3 == 1 else [text, None, AWKWARD[(n + 1) % len(AWKWARD)]],
        "integer[]": [] if n % 3 == 1 else [n, None, 2**31 - 1, -(2**31)],
    }[type_]


@pytest.mark.parametrize("kind", LOAD_ORDER)
async def test_a_payload_stages_the_rows_asyncpg_would(conn: Conn, kind: str) -> None:
    staged = await stage.create(conn, kind)
    columns = encode.encoders(staged.copy_types)
    assert columns is not None, staged.copy_types
    # pos and ok are NOT NULL; every other column gets NULLs too.
    types = staged.copy_types[2:]
    rows = [(n, n % 2 == 0, *(_value(t, n + i) for i, t in enumerate(types))) for n in range(40)]
    order = f"SELECT * FROM {staged.name} ORDER BY pos"
    async with conn.transaction():
        await stage.copy(conn, staged, rows)
        by_asyncpg = [tuple(r) for r in await conn.fetch(order)]
        await stage.copy(conn, staged, rows, encode.payload(columns, rows))
        by_payload = [tuple(r) for r in await conn.fetch(order)]
    assert by_payload == by_asyncpg
    assert len(by_payload) == len(rows)


def test_a_stage_with_a_type_it_does_not_encode_gets_no_payload() -> None:
    assert encode.encoders(["text", "jsonb"]) is None
    assert encode.encoders(["text", "text[]", "integer", "integer[]", "boolean"]) is not None


async def test_small_batches_keep_load_order_and_references_across_batches(conn: Conn) -> None:
    """Batches of two: each claim's speaker is an actor of an earlier batch (or, for the bad ones, an
    actor defined only after it), so the checks of a batch must see what the batches before it
    committed, while the batches after it are already read and encoded."""
    tag = uuid.uuid4().hex[:8].upper()
    actors = [f"act_01JENC{tag}{n:012d}" for n in range(9)]
    lines: list[dict[str, Any]] = []
    expected_rejected: set[int] = set()
    for n, actor in enumerate(actors):
        lines.append({"object": "actor", "id": actor, "kind": "person", "name": f"Speaker {n}"})
        lines.append({"object": "claim", "statement": f"said {n}", "quoteType": "analysis", "speaker": actor})
        if n + 1 < len(actors):
            # A speaker the file defines only later: refused, whatever the batches around it.
            expected_rejected.add(len(lines))
            lines.append({"object": "claim", "statement": f"early {n}", "quoteType": "analysis", "speaker": actors[n + 1]})  # fmt: skip
    stream = io.BytesIO(b"\n".join(orjson.dumps(line) for line in lines))
    before = await conn.fetchval("SELECT last FROM event_counter")

    report = await bulk.load(conn, bulk.read_records(stream), changed_by="test", batch_size=2)

    assert {r.index for r in report.rejected} == expected_rejected
    assert {(r.kind, r.code) for r in report.rejected} == {("claim", "BAD_USER_INPUT")}
    assert all(e.path == ("speaker",) for r in report.rejected for e in r.errors)
    assert report.loaded["actor"] == len(actors) and report.loaded["claim"] == len(actors)
    events = await conn.fetch(
        "SELECT e.type, coalesce(a.name, c.statement) AS what FROM events e"
        " LEFT JOIN actors a ON a.id = e.object_id LEFT JOIN claims c ON c.id = e.object_id"
        " WHERE e.sequence > $1 ORDER BY e.sequence",
        before,
    )
    # Actors before the claims that cite them; each kind in input order.
    actor_events = [e["what"] for e in events if e["type"] == "actor.created"]
    claim_events = [e["what"] for e in events if e["type"] == "claim.created"]
    assert actor_events == [f"Speaker {n}" for n in range(len(actors))]
    assert claim_events == [f"said {n}" for n in range(len(actors))]
    seen: set[str] = set()
    for e in events:
        if e["type"] == "actor.created":
            seen.add(e["what"])
        else:
            assert e["what"].replace("said", "Speaker") in seen
