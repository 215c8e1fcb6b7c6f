"""REST ``q=…&sort=relevance`` over real HTTP and PostgreSQL: matches most relevant first (the
GraphQL ``search`` ranking), keyset pages through tied ranks by nextCursor, and RFC 9457 problems
for a relevance sort without ``q``, a descending one, an export, and foreign cursors."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import asyncpg
import httpx
import pytest

from db.pool import connect
from tests.factories import make_article, make_claim
from tests.services import LiveServer

WORD = "wombat"
TIES = 4


@pytest.fixture(scope="module")
def facts(database_url: str) -> dict[str, Any]:
    """Articles and claims mentioning WORD with different weights; claims with equal ranks."""

    async def build() -> dict[str, Any]:
        conn: asyncpg.Connection[Any] = await connect(database_url)
        try:
            weak = await make_article(conn, headline="Farm notes", body=f"A {WORD} dug under the fence.")
            between = (await conn.fetchval("SELECT clock_timestamp()")).isoformat()
            strong = await make_article(conn, headline=f"{WORD.capitalize()} {WORD} everywhere", body="Text.")
            middle = await make_article(conn, headline="Outback", summary=f"The {WORD} burrow", body="Text.")
            ties = [(await make_claim(conn, statement=f"The {WORD} slept."))["id"] for _ in range(TIES)]
            return {"articles": [strong["id"], middle["id"], weak["id"]], "ties": ties, "between": between}
        finally:
            await conn.close()

    return asyncio.run(build())


@pytest.fixture
def client(server: LiveServer, facts: dict[str, Any]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=10) as c:
        yield c


def _problem(r: httpx.Response, code: str) -> dict[str, Any]:
    assert r.status_code == 400, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = r.json()
    assert body["code"] == "BAD_USER_INPUT"
    (error,) = body["errors"]
    assert error["code"] == code, error
    return error  # type: ignore[no-any-return]


def test_relevance_puts_the_most_weighted_match_first(client: httpx.Client, facts: dict[str, Any]) -> None:
    r = client.get("/v1/articles", params={"q": WORD, "sort": "relevance", "fields": "headline"})
    assert r.status_code == 200, r.text
    # Headline (weight A) twice, then summary (B), then body (C).
    assert [d["id"] for d in r.json()["data"]] == facts["articles"]
    newest = client.get("/v1/articles", params={"q": WORD, "sort": "-createdAt"}).json()["data"]
    assert [d["id"] for d in newest] != facts["articles"], "relevance must not just be another stored order"


def test_next_cursor_walks_tied_ranks_once_each(client: httpx.Client, facts: dict[str, Any]) -> None:
    whole = client.get("/v1/claims", params={"q": WORD, "sort": "relevance"}).json()["data"]
    # Equal ranks: the newest id first, as GraphQL's search breaks ties.
    assert [d["id"] for d in whole] == sorted(facts["ties"], reverse=True)
    seen: list[str] = []
    params: dict[str, str] = {"q": WORD, "sort": "relevance", "limit": "1"}
    for _ in range(TIES + 1):
        r = client.get("/v1/claims", params=params)
        assert r.status_code == 200, r.text
        body = r.json()
        seen += [d["id"] for d in body["data"]]
        if not body["hasMore"]:
            assert body["nextCursor"] is None
            break
        assert 'rel="next"' in r.headers["link"]
        params["cursor"] = body["nextCursor"]
    assert seen == [d["id"] for d in whole]


def test_relevance_without_q_is_a_problem_saying_so(client: httpx.Client) -> None:
    error = _problem(client.get("/v1/claims", params={"sort": "relevance"}), "QUERY_REQUIRED")
    assert error["parameter"] == "sort" and "q" in error["detail"]


def test_descending_relevance_and_relevance_exports_are_refused(client: httpx.Client) -> None:
    error = _problem(client.get("/v1/claims", params={"q": WORD, "sort": "-relevance"}), "INVALID_SORT")
    assert "relevance" in error["detail"]
    _problem(client.get("/v1/claims", params={"q": WORD, "sort": "relevance", "format": "ndjson"}), "NOT_FOR_EXPORT")


def test_a_cursor_of_another_sort_is_refused(client: httpx.Client) -> None:
    other = client.get("/v1/claims", params={"q": WORD, "limit": "1"}).json()["nextCursor"]
    error = _problem(
        client.get("/v1/claims", params={"q": WORD, "sort": "relevance", "cursor": other}), "INVALID_CURSOR"
    )
    assert error["parameter"] == "cursor"
    ranked = client.get("/v1/claims", params={"q": WORD, "sort": "relevance", "limit": "1"}).json()["nextCursor"]
    _problem(client.get("/v1/claims", params={"q": WORD, "cursor": ranked}), "INVALID_CURSOR")


def test_relevance_as_of_a_time_ranks_the_facts_as_they_stood(client: httpx.Client, facts: dict[str, Any]) -> None:
    params = {"q": WORD, "sort": "relevance", "asOf": facts["between"], "fields": "headline"}
    r = client.get("/v1/articles", params=params)
    assert r.status_code == 200, r.text
    assert [d["id"] for d in r.json()["data"]] == [facts["articles"][2]]
