"""Keyset pagination over a few hundred generated claims: walking forward or backward, in every
order and direction, with filters, visits each matching row exactly once and in order."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import AsyncIterator
from typing import Any

import pytest

from db import bulk, generate, queries
from db.lens import FULL
from db.pool import Conn, connect
from db.registry import fact_type

pytestmark = pytest.mark.anyio

ARTICLES, CLAIMS = 20, 300


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
async def corpus(database_url: str) -> AsyncIterator[dict[str, Any]]:
    """A generated corpus of its own (a random generator seed, so ids and uris are new)."""
    seed = random.randrange(1_000_000, 2**31)
    records = list(generate.records(ARTICLES, CLAIMS, seed=seed))
    conn = await connect(database_url)
    try:
        items = [(i, r["object"], {k: v for k, v in r.items() if k != "object"}) for i, r in enumerate(records)]
        report = await bulk.load(conn, items, changed_by="test", batch_size=97)
        assert not report.rejected and report.loaded["claim"] == CLAIMS
        actors = [r["id"] for r in records if r["object"] == "actor"]
        yield {"actors": actors, "claims": [r for r in records if r["object"] == "claim"]}
    finally:
        await conn.close()


def _sort_key(order: str, doc: dict[str, Any]) -> tuple[Any, str]:
    if order == "createdAt":
        return ("", doc["id"])
    if order == "updatedAt":
        return (dt.datetime.fromisoformat(doc["updatedAt"]), doc["id"])
    return (doc["claimDate"] or "0001-01-01", doc["id"])


async def _expected(conn: Conn, where: str, *args: Any) -> set[str]:
    rows = await conn.fetch(f"SELECT id FROM claims c WHERE {where}", *args)
    return {r["id"] for r in rows}


async def _walk(
    conn: Conn, filters: dict[str, Any], order: str, descending: bool, backward: bool
) -> list[dict[str, Any]]:
    parsed = queries.parse_filters(fact_type("claim"), filters)
    seen: list[dict[str, Any]] = []
    cursor = None
    for _ in range(3000):
        page = await queries.list_page(
            conn,
            "claim",
            parsed,
            queries.PageRequest(limit=7, cursor=cursor, order=order, descending=descending, backward=backward),
            lens=FULL,
        )
        assert len(page.docs) == len(page.cursors) <= 7
        if backward:
            seen[:0] = page.docs
            cursor = page.start_cursor
        else:
            seen += page.docs
            cursor = page.end_cursor
        if not page.has_more:
            return seen
    raise AssertionError("pagination did not terminate")


@pytest.mark.parametrize("order", ["createdAt", "updatedAt", "claimDate"])
@pytest.mark.parametrize("descending", [False, True], ids=["asc", "desc"])
async def test_keyset_pages_visit_every_filtered_row_once_forward_and_backward(
    corpus: dict[str, Any], conn: Conn, order: str, descending: bool
) -> None:
    speaker = corpus["actors"][3]
    cases: list[tuple[dict[str, Any], set[str]]] = [
        ({"speaker": speaker}, await _expected(conn, "speaker_id = $1", speaker)),
        # The whole session database matches a date range (other modules load corpora of up to
        # 20,000 claims): one month keeps the walk to a few hundred pages whatever ran before.
        (
            {"claimDateFrom": "2025-03-01", "claimDateTo": "2025-03-31", "article": None},
            await _expected(conn, "claim_date BETWEEN '2025-03-01' AND '2025-03-31'"),
        ),
        (
            {"speaker": speaker, "status": "reported"},
            await _expected(conn, "speaker_id = $1 AND status = 'reported'", speaker),
        ),
    ]
    for filters, expected in cases:
        assert len(expected) >= 5, "the corpus should give each filter several pages"
        forward = await _walk(conn, filters, order, descending, backward=False)
        ids = [d["id"] for d in forward]
        assert len(ids) == len(set(ids)), "a row appeared twice"
        assert set(ids) == expected, "a row was skipped or does not match"
        assert forward == sorted(forward, key=lambda d: _sort_key(order, d), reverse=descending)

        backward = await _walk(conn, filters, order, descending, backward=True)
        assert [d["id"] for d in backward] == ids


async def test_a_page_boundary_inside_a_run_of_equal_keys_neither_skips_nor_repeats(
    corpus: dict[str, Any], conn: Conn
) -> None:
    # Loaded in batches, hundreds of claims share one updatedAt: only the id tie-break orders them.
    ties = await conn.fetchval(
        "SELECT max(n) FROM (SELECT count(*) AS n FROM claims WHERE id = ANY($1::text[]) GROUP BY updated_at) t",
        [c["id"] for c in corpus["claims"]],
    )
    assert ties > 7
    speaker = corpus["actors"][5]
    ids = [d["id"] for d in await _walk(conn, {"speaker": speaker}, "updatedAt", False, backward=False)]
    assert set(ids) == await _expected(conn, "speaker_id = $1", speaker) and len(ids) == len(set(ids))
