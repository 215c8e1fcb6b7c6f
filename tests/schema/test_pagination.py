"""Keyset connections over a generated corpus: every claim exactly once, forwards and backwards,
in every order, with pageInfo telling the truth."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import orjson
import pytest

from tests.schema.conftest import Corpus
from tests.schema.gql import codes, gql
from tests.services import LiveServer

PAGE = """query($f: ClaimFilter, $o: ClaimOrder, $first: Int, $after: String, $last: Int, $before: String) {
  claims(filter: $f, orderBy: $o, first: $first, after: $after, last: $last, before: $before) {
    edges { cursor node { id claimDate } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  } }"""


def _walk(server: LiveServer, variables: dict[str, Any], *, backward: bool, size: int) -> list[str]:
    seen: list[str] = []
    cursor: str | None = None
    for _ in range(200):
        v = {**variables, ("last" if backward else "first"): size, ("before" if backward else "after"): cursor}
        r = gql(server.url, PAGE, v)
        assert "errors" not in r, r
        conn = r["data"]["claims"]
        ids = [e["node"]["id"] for e in conn["edges"]]
        seen = ids + seen if backward else seen + ids
        info = conn["pageInfo"]
        more = info["hasPreviousPage"] if backward else info["hasNextPage"]
        if not more:
            return seen
        assert ids, "a page that promises more must not be empty"
        cursor = info["startCursor"] if backward else info["endCursor"]
    raise AssertionError("pagination did not end")


@pytest.mark.parametrize(
    "order",
    [
        None,
        {"field": "CREATED_AT", "direction": "DESC"},
        {"field": "CLAIM_DATE"},
        {"field": "UPDATED_AT", "direction": "DESC"},
    ],
)
def test_forward_and_backward_see_every_claim_once(server: LiveServer, corpus: Corpus, order: Any) -> None:
    variables = {"f": {"reportedBy": corpus.outlet}, "o": order}
    forward = _walk(server, variables, backward=False, size=37)
    backward = _walk(server, variables, backward=True, size=23)
    assert len(forward) == len(set(forward)) == len(corpus.claims)
    assert set(forward) == set(corpus.claims)
    assert backward == forward
    if order is None:
        assert forward == sorted(corpus.claims)


def test_total_count_and_nodes(server: LiveServer, corpus: Corpus) -> None:
    r = gql(
        server.url,
        "query($o: ID!) { claims(filter: {reportedBy: $o}, first: 3) { totalCount nodes { id } edges { node { id } } } }",
        {"o": corpus.outlet},
    )
    conn = r["data"]["claims"]
    assert conn["totalCount"] == len(corpus.claims)
    assert [n["id"] for n in conn["nodes"]] == [e["node"]["id"] for e in conn["edges"]] == sorted(corpus.claims)[:3]


def test_nested_connection_pages(server: LiveServer, corpus: Corpus) -> None:
    query = """query($id: ID!, $after: String) { article(id: $id) {
        claims(first: 2, after: $after) { totalCount nodes { id } pageInfo { hasNextPage endCursor } } } }"""
    article = corpus.articles[0]
    seen: list[str] = []
    after = None
    while True:
        conn = gql(server.url, query, {"id": article, "after": after})["data"]["article"]["claims"]
        seen += [n["id"] for n in conn["nodes"]]
        if not conn["pageInfo"]["hasNextPage"]:
            break
        after = conn["pageInfo"]["endCursor"]
    assert len(seen) == len(set(seen)) == conn["totalCount"] == 5


@pytest.mark.parametrize(("first", "more"), [(4, True), (5, False), (6, False)])
def test_a_nested_page_ending_on_the_last_row_has_no_next_page(
    server: LiveServer, corpus: Corpus, first: int, more: bool
) -> None:
    # A nested page reads one row past its end to answer hasNextPage (db/plan/sql.py _page_rows):
    # that row must count, and never show.
    query = """query($id: ID!, $n: Int!) { article(id: $id) {
        claims(first: $n) { nodes { id } pageInfo { hasNextPage } } } }"""
    conn = gql(server.url, query, {"id": corpus.articles[0], "n": first})["data"]["article"]["claims"]
    assert conn["pageInfo"]["hasNextPage"] is more
    assert len(conn["nodes"]) == min(first, 5)


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        ("first: 0", "first"),
        ("first: 101", "first"),
        ("last: -1", "last"),
        ("first: 2, last: 2", "last"),
        ('after: "garbage!!"', "after"),
    ],
)
def test_bad_page_arguments_are_bad_user_input(server: LiveServer, args: str, problem: str) -> None:
    r = gql(server.url, "{ claims(%s) { nodes { id } } }" % args)  # noqa: UP031
    assert codes(r) == ["BAD_USER_INPUT"]
    assert problem in r["errors"][0]["message"]
    assert r["data"] is None


def test_cursor_of_another_order_is_refused(server: LiveServer, corpus: Corpus) -> None:
    r = gql(server.url, PAGE, {"f": {"reportedBy": corpus.outlet}, "first": 2})
    cursor = r["data"]["claims"]["pageInfo"]["endCursor"]
    r = gql(
        server.url,
        PAGE,
        {"f": {"reportedBy": corpus.outlet}, "o": {"field": "CLAIM_DATE"}, "first": 2, "after": cursor},
    )
    assert codes(r) == ["BAD_USER_INPUT"]
    assert r["errors"][0]["extensions"]["errors"][0]["code"] == "INVALID_CURSOR"


@pytest.mark.parametrize(
    "as_of", ["not-a-ts", "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "2026-01-01T00:00:00"]
)
def test_a_made_up_cursor_with_a_bad_time_is_refused_on_both_transports(server: LiveServer, as_of: str) -> None:
    """The time a cursor carries (an asOf page's) is checked as the asOf argument is."""
    made = base64.urlsafe_b64encode(orjson.dumps(["createdAt", "2026-01-01T00:00:00+00:00", "clm_x", as_of]))
    cursor = made.decode().rstrip("=")
    r = gql(server.url, "query($c: String) { claims(first: 2, after: $c) { nodes { id } } }", {"c": cursor})
    assert codes(r) == ["BAD_USER_INPUT"], r
    assert r["errors"][0]["extensions"]["errors"][0]["code"] == "INVALID_CURSOR"
    for path in ("/v1/claims", "/v1/actors"):
        rest = httpx.get(server.url + path, params={"cursor": cursor}, timeout=10)
        assert rest.status_code == 400, rest.text
        assert [(e["parameter"], e["code"]) for e in rest.json()["errors"]] == [("cursor", "INVALID_CURSOR")]


@pytest.mark.parametrize(
    ("order", "key"),
    [("claimDate", "not-a-date"), ("updatedAt", "2026-01-01"), ("updatedAt", "yesterday")],
)
def test_a_made_up_cursor_with_a_key_of_another_type_is_invalid_cursor(
    server: LiveServer, order: str, key: str
) -> None:
    """A sort key PostgreSQL could not cast to its order's type is the cursor's fault, said so."""
    cursor = base64.urlsafe_b64encode(orjson.dumps([order, key, "clm_x"])).decode().rstrip("=")
    sort = {"claimDate": "-claimDate", "updatedAt": "updatedAt"}[order]
    rest = httpx.get(server.url + "/v1/claims", params={"cursor": cursor, "sort": sort}, timeout=10)
    assert rest.status_code == 400, rest.text
    assert [(e["parameter"], e["code"]) for e in rest.json()["errors"]] == [("cursor", "INVALID_CURSOR")]
    field = {"claimDate": "CLAIM_DATE", "updatedAt": "UPDATED_AT"}[order]
    r = gql(
        server.url,
        "query($c: String) { claims(first: 2, after: $c, orderBy: {field: %s}) { nodes { id } } }" % field,  # noqa: UP031
        {"c": cursor},
    )
    assert codes(r) == ["BAD_USER_INPUT"], r
    assert r["errors"][0]["extensions"]["errors"][0]["code"] == "INVALID_CURSOR"
