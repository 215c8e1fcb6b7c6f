"""GraphQL ``search`` as a relevance-ranked connection, over real HTTP and PostgreSQL, on both read
paths (the planner's one statement and the resolvers): rank order, keyset paging through tied
ranks, snippets that hold the match as plain text, totalCount, and refused cursors."""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import Iterator
from typing import Any

import asyncpg
import httpx
import pytest

from api.settings import Settings
from db import pagination
from db.pool import connect
from tests.factories import make_actor, make_article, make_claim
from tests.schema.gql import codes, gql
from tests.services import LiveServer

# A word nothing in the seed says, so every match is one of this module's facts.
WORD = "quokka"
TIES = 5


@dataclasses.dataclass
class Facts:
    strong: str  # the word twice in the headline (weight A)
    weak: str  # once in the body (weight C)
    ties: list[str]  # claims saying exactly the same thing: equal ranks
    markup: str  # a claim whose text looks like HTML
    actor: str
    between: str  # a time after the weak article was written and before the strong one


@pytest.fixture(scope="module")
def facts(database_url: str) -> Facts:
    """Articles, claims and an actor mentioning WORD with different weights and counts."""

    async def build() -> Facts:
        conn: asyncpg.Connection[Any] = await connect(database_url)
        try:
            weak = await make_article(
                conn, headline="Harbour report", body=f"Officials counted boats. One {WORD} was seen near the pier."
            )
            between = (await conn.fetchval("SELECT clock_timestamp()")).isoformat()
            strong = await make_article(conn, headline=f"{WORD.capitalize()} colony: the {WORD} returns", body="Text.")
            # Withheld: anonymous callers read it as a stub whose words match nothing (recall rules).
            await make_article(conn, headline=f"{WORD} {WORD} {WORD}", body=f"{WORD}.", pubStatus="withheld")
            ties = [(await make_claim(conn, statement=f"A {WORD} crossed the road."))["id"] for _ in range(TIES)]
            markup = await make_claim(conn, statement=f"Under 5 < 6 & over, the {WORD} <b>left</b> early")
            actor = await make_actor(conn, name=f"{WORD.capitalize()} Council")
            return Facts(strong["id"], weak["id"], ties, markup["id"], actor["id"], between)
        finally:
            await conn.close()

    return asyncio.run(build())


@pytest.fixture(scope="module", params=["planned", "resolved"])
def path(request: pytest.FixtureRequest, settings: Settings, facts: Facts) -> Iterator[LiveServer]:
    """A server answering with the planner, or one with the resolvers only."""
    server = LiveServer(dataclasses.replace(settings, graphql_planner=request.param == "planned")).start()
    try:
        yield server
    finally:
        server.stop()


PAGE = """query($q: String!, $types: [SearchType!], $first: Int!, $after: String, $asOf: DateTime) {
  search(query: $q, types: $types, first: $first, after: $after, asOf: $asOf) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor rank node { __typename ... on Article { id headline } ... on Claim { id } ... on Actor { id } } }
    nodes { __typename ... on Article { id } ... on Claim { id } ... on Actor { id } }
  } }"""


def _search(server: LiveServer, q: str = WORD, **variables: Any) -> dict[str, Any]:
    r = gql(server.url, PAGE, {"q": q, "first": 20, **variables})
    assert "errors" not in r, r
    found: dict[str, Any] = r["data"]["search"]
    return found


def test_a_document_matching_more_weighted_terms_ranks_first(path: LiveServer, facts: Facts) -> None:
    page = _search(path, types=["ARTICLE"])  # anonymous: the withheld article is not found
    ids = [e["node"]["id"] for e in page["edges"]]
    assert ids == [facts.strong, facts.weak]
    ranks = [e["rank"] for e in page["edges"]]
    assert ranks[0] > ranks[1] > 0
    assert [n["id"] for n in page["nodes"]] == ids
    assert page["totalCount"] == 2
    assert page["pageInfo"]["hasNextPage"] is False and page["pageInfo"]["hasPreviousPage"] is False


def test_results_across_kinds_come_in_decreasing_rank_ties_newest_id_first(path: LiveServer, facts: Facts) -> None:
    page = _search(path)
    keys = [(e["rank"], e["node"]["id"]) for e in page["edges"]]
    assert keys == sorted(keys, reverse=True)
    assert {e["node"]["__typename"] for e in page["edges"]} == {"Article", "Claim", "Actor"}
    tied = [i for _, i in keys if i in facts.ties]
    assert tied == sorted(facts.ties, reverse=True)
    assert page["totalCount"] == len(keys) == TIES + 4


def test_paging_with_after_walks_through_tied_ranks_once_each(path: LiveServer, facts: Facts) -> None:
    whole = [e["node"]["id"] for e in _search(path, types=["CLAIM"])["edges"]]
    assert set(facts.ties) <= set(whole)
    seen: list[str] = []
    after = None
    for _ in range(10):
        page = _search(path, types=["CLAIM"], first=2, after=after)
        seen += [e["node"]["id"] for e in page["edges"]]
        assert page["pageInfo"]["hasPreviousPage"] is (after is not None)
        assert page["pageInfo"]["endCursor"] == page["edges"][-1]["cursor"]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == whole  # the same order, nothing twice, nothing left out
    assert len(seen) == TIES + 1


def test_snippets_hold_the_match_as_plain_text_parts(path: LiveServer, facts: Facts) -> None:
    r = gql(
        path.url,
        """query($q: String!) { search(query: $q, types: [CLAIM, ARTICLE], first: 20) {
             edges { node { ... on Claim { id } ... on Article { id } } snippet { text match __typename }
                     second: snippet { t: text } } } }""",
        {"q": WORD},
    )
    assert "errors" not in r, r
    edges = {e["node"]["id"]: e for e in r["data"]["search"]["edges"]}
    for edge in edges.values():
        matched = [p["text"] for p in edge["snippet"] if p["match"]]
        assert matched and all(m.lower() == WORD for m in matched), edge["snippet"]
        assert all(p["__typename"] == "SnippetPart" for p in edge["snippet"])
        assert [p["t"] for p in edge["second"]] == [p["text"] for p in edge["snippet"]]
    # ts_headline does not escape: < and & come back as stored, in plain-text parts a consumer
    # escapes (what it parses as a tag it leaves out).
    text = "".join(p["text"] for p in edges[facts.markup]["snippet"])
    assert "5 < 6 & over" in text and "<b>" not in text and "left" in text, text
    # A claim's text is its statement, then its quote (the factory's).
    tie = edges[facts.ties[0]]["snippet"]
    assert "".join(p["text"] for p in tie) == f"A {WORD} crossed the road. — We will not retreat"
    assert [p["match"] for p in tie] == [False, True, False]
    weak = "".join(p["text"] for p in edges[facts.weak]["snippet"])
    assert WORD in weak and "pier" in weak  # cut from the body, where the word is


def test_web_search_syntax_and_a_query_nothing_matches(path: LiveServer, facts: Facts) -> None:
    phrase = _search(path, q=f'"the {WORD} returns"')
    assert [e["node"]["id"] for e in phrase["edges"]] == [facts.strong]
    excluded = _search(path, q=f"{WORD} -road", types=["CLAIM"])
    assert [e["node"]["id"] for e in excluded["edges"]] == [facts.markup]
    empty = _search(path, q="nothingmatchesthis")
    assert empty == {
        "totalCount": 0,
        "pageInfo": {"hasNextPage": False, "hasPreviousPage": False, "startCursor": None, "endCursor": None},
        "edges": [],
        "nodes": [],
    }


def test_cursors_of_other_orders_and_forged_ranks_are_refused(path: LiveServer, facts: Facts) -> None:
    other = pagination.encode(pagination.Cursor("createdAt", facts.ties[0], facts.ties[0]))
    forged = pagination.encode(pagination.Cursor("relevance", "1e400", facts.ties[0]))
    for after in (other, forged, "garbage"):
        r = gql(path.url, PAGE, {"q": WORD, "first": 2, "after": after})
        assert r["data"] is None and codes(r) == ["BAD_USER_INPUT"], r
        assert r["errors"][0]["extensions"]["errors"][0]["code"] == "INVALID_CURSOR"
    r = gql(path.url, PAGE, {"q": "  ", "first": 2})
    assert codes(r) == ["BAD_USER_INPUT"]


def _planned(server: LiveServer) -> float:
    found = re.search(
        r'^newsfacts_graphql_operations_total\{path="planned"\} ([0-9.e+]+)$',
        httpx.get(server.url + "/metrics").text,
        re.M,
    )
    return float(found.group(1)) if found else 0.0


def test_both_paths_answer_the_same(facts: Facts, settings: Settings) -> None:
    """The same documents, byte for byte in meaning, from the planner and from the resolvers."""
    planned = LiveServer(dataclasses.replace(settings, graphql_planner=True)).start()
    resolved = LiveServer(dataclasses.replace(settings, graphql_planner=False)).start()
    try:
        query = PAGE.replace("edges { cursor rank", "edges { cursor rank snippet { text match }")
        before = _planned(planned)
        for variables in ({"first": 3}, {"first": 20, "types": ["CLAIM", "ACTOR"]}):
            a = gql(planned.url, query, {"q": WORD, **variables})
            b = gql(resolved.url, query, {"q": WORD, **variables})
            assert "errors" not in a and a["data"] == b["data"], (a, b)
        assert _planned(planned) == before + 2, "the planner must answer search itself, not fall back"
    finally:
        planned.stop()
        resolved.stop()


def test_as_of_searches_the_facts_as_they_stood_and_its_cursors_keep_the_time(path: LiveServer, facts: Facts) -> None:
    then = _search(path, types=["ARTICLE", "ACTOR"], asOf=facts.between, first=1)
    assert [e["node"]["id"] for e in then["edges"]] == [facts.weak] and then["totalCount"] == 1
    # Its cursor carries the time: the next page reads then too; another asOf with it is refused.
    after = then["pageInfo"]["endCursor"]
    assert _search(path, types=["ARTICLE", "ACTOR"], after=after)["edges"] == []
    r = gql(path.url, PAGE, {"q": WORD, "first": 1, "after": after, "asOf": "2020-01-01T00:00:00Z"})
    assert r["errors"][0]["extensions"]["errors"][0]["code"] == "INVALID_CURSOR", r
    assert _search(path, asOf="2020-01-01T00:00:00Z")["totalCount"] == 0
    # No cursor selected: the past page answers as well.
    bare = """query($q: String!, $at: DateTime) { search(query: $q, types: [ARTICLE], asOf: $at) {
                totalCount nodes { ... on Article { id } } } }"""
    r = gql(path.url, bare, {"q": WORD, "at": facts.between})
    assert r.get("data") == {"search": {"totalCount": 1, "nodes": [{"id": facts.weak}]}}, r
