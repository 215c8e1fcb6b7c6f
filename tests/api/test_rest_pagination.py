"""Cursor pagination over a generated corpus, over HTTP: following nextCursor (or the Link header)
visits every row exactly once and in order, in each sort order, while other clients insert rows."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from db import bulk, generate
from db.pool import connect
from tests.factories import make_claim
from tests.services import LiveServer

ARTICLES, CLAIMS = 30, 400


@pytest.fixture(scope="module")
def corpus(database_url: str) -> Iterator[dict[str, Any]]:
    """A corpus of its own: a random generator seed gives new ids and a new single outlet."""
    records = list(generate.records(ARTICLES, CLAIMS, seed=random.randrange(1, 2**31)))
    outlets = {r["outlet"] for r in records if r["object"] == "article"}
    assert len(outlets) == 1

    async def load() -> None:
        conn = await connect(database_url)
        try:
            items = [(i, r["object"], {k: v for k, v in r.items() if k != "object"}) for i, r in enumerate(records)]
            report = await bulk.load(conn, items, changed_by="test-rest")
            assert not report.rejected, report.rejected[:3]
        finally:
            await conn.close()

    asyncio.run(load())
    yield {"outlet": outlets.pop(), "claims": [r for r in records if r["object"] == "claim"]}


async def _walk(client: httpx.AsyncClient, params: dict[str, Any], *, via_link: bool = False) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    url: str | None = "/v1/claims"
    query: dict[str, Any] | None = params
    for _ in range(1000):
        assert url is not None
        r = await client.get(url, params=query)
        assert r.status_code == 200, r.text
        body = r.json()
        seen += body["data"]
        if not body["hasMore"]:
            assert body["nextCursor"] is None and "link" not in r.headers
            return seen
        assert len(body["data"]) == params["limit"]
        if via_link:
            link = r.headers["link"]
            assert link.endswith('>; rel="next"')
            url, query = link[1 : link.index(">")], None
        else:
            query = {**params, "cursor": body["nextCursor"]}
    raise AssertionError("pagination did not end")


@pytest.mark.anyio
async def test_forward_walk_sees_every_row_once_under_concurrent_inserts(
    server: LiveServer, corpus: dict[str, Any], database_url: str
) -> None:
    expected = {c["id"] for c in corpus["claims"]}
    stop = asyncio.Event()
    inserted: list[str] = []

    async def writer() -> None:
        conn = await connect(database_url)
        try:
            while not stop.is_set():
                inserted.append((await make_claim(conn, reportedBy=corpus["outlet"]))["id"])
                await asyncio.sleep(0.005)
        finally:
            await conn.close()

    task = asyncio.create_task(writer())
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
            seen = await _walk(client, {"reportedBy": corpus["outlet"], "limit": 17}, via_link=True)
    finally:
        stop.set()
        await task
    assert inserted, "the writer ran during the walk"
    ids = [c["id"] for c in seen]
    assert len(ids) == len(set(ids)), "no row twice"
    assert expected <= set(ids), "every row that existed before the walk"
    assert set(ids) <= expected | set(inserted)
    assert ids == sorted(ids)


@pytest.mark.anyio
@pytest.mark.parametrize("sort", ["claimDate", "-claimDate", "-updatedAt", "-createdAt"])
async def test_every_order_visits_each_row_once(server: LiveServer, corpus: dict[str, Any], sort: str) -> None:
    params = {"reportedBy": corpus["outlet"], "limit": 50, "sort": sort, "status": "reported"}
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        seen = await _walk(client, params)
    ids = [c["id"] for c in seen]
    expected = {c["id"] for c in corpus["claims"] if c["status"] == "reported"}
    assert len(ids) == len(set(ids)) and expected <= set(ids)
    field = sort.lstrip("-")
    keys = [((c[field] or "0001-01-01"), c["id"]) for c in seen]
    assert keys == sorted(keys, reverse=sort.startswith("-"))


@pytest.mark.anyio
async def test_newest_first_lists_a_new_claim_before_the_seed(server: LiveServer, conn: Any) -> None:
    claim = await make_claim(conn)
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        page = (await client.get("/v1/claims", params={"sort": "-createdAt", "limit": 100})).json()["data"]
    # The seed's ids are ULIDs of its article's date (db/fixtures/): older than anything made now.
    assert page[0]["id"] == claim["id"]
