"""Bad input of every kind gets a typed ``extensions.code`` and never a 500; limits refuse hostile
queries before they run; one failing field leaves the rest of the data intact."""

from __future__ import annotations

import httpx
import pytest
from graphql import GraphQLError, parse

from schema.errors import format_error
from schema.limits import cost_is_fixed
from tests.schema.gql import codes, gql
from tests.services import LiveServer

CANDY = "clm_01K8B1E4EJJ4YDVT3E4602WPWC"
UNKNOWN_CLAIM = "clm_0SEED00000000000000000ZZZZ"


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        ("{ claim(id: ", None),  # syntax error
        ('{ claim(id: "%s") { nope } }' % CANDY, None),  # noqa: UP031 - unknown field
        ("query($n: Int!) { claims(first: $n) { nodes { id } } }", {"n": "ten"}),  # wrong variable type
        ("query($n: Int!) { claims(first: $n) { nodes { id } } }", {}),  # missing variable
        ("{ claims(filter: {status: MAYBE}) { nodes { id } } }", None),  # unknown enum value
        ('{ claims(filter: {claimDateFrom: "2025-13-45"}) { nodes { id } } }', None),  # bad scalar literal
        ("query($d: Date) { claims(filter: {claimDateFrom: $d}) { nodes { id } } }", {"d": "yesterday"}),
        ('{ claims(filter: {speaker: "not-an-id"}) { nodes { id } } }', None),  # bad filter value
        ('{ claim(id: "garbage") { id } }', None),  # garbage id
        ('{ claim(id: "act_01K8B1E2G12Z4MP14DZVS18EHJ") { id } }', None),  # id of another kind
        ('{ node(id: "zzz_0SEED000000000000000000001") { id } }', None),  # unknown prefix
        ("{ article { id } }", None),  # neither id nor uri
        ('{ claim(id: "%s", asOf: "last tuesday") { id } }' % CANDY, None),  # noqa: UP031
        ('{ search(query: "x", first: 1000) { __typename } }', None),
        ("", None),
        ("subscription { x }", None),
    ],
)
def test_bad_input_is_bad_user_input(server: LiveServer, query: str, variables: dict[str, object] | None) -> None:
    response = httpx.post(server.url + "/graphql", json={"query": query, "variables": variables}, timeout=10)
    assert response.status_code in (200, 400), response.text
    body = response.json()
    assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"] * len(body["errors"])
    assert body["errors"], body
    assert all(e["message"] for e in body["errors"])


def test_unknown_id_is_not_found_and_siblings_survive(server: LiveServer) -> None:
    r = gql(server.url, "query($a: ID!, $b: ID!) { a: claim(id: $a) { id } b: claim(id: $b) { id } }",
            {"a": CANDY, "b": UNKNOWN_CLAIM})  # fmt: skip
    assert r["data"] == {"a": {"id": CANDY}, "b": None}
    assert codes(r) == ["NOT_FOUND"]
    assert r["errors"][0]["path"] == ["b"]


def test_field_errors_name_the_bad_filter(server: LiveServer) -> None:
    r = gql(server.url, '{ claims(filter: {speaker: "clm_01K8B1E4EJJ4YDVT3E4602WPWC"}) { nodes { id } } }')
    assert codes(r) == ["BAD_USER_INPUT"]
    assert r["errors"][0]["extensions"]["errors"][0]["path"] == ["filter", "speaker"]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"{not json", "INVALID_JSON"),
        (b"[1, 2]", "BODY_NOT_OBJECT"),
        (b'{"query": 5}', "BAD_USER_INPUT"),
        (b'{"query": "{ __typename }", "variables": [1]}', "BAD_USER_INPUT"),
    ],
)
def test_malformed_bodies_are_typed_errors(server: LiveServer, body: bytes, code: str) -> None:
    response = httpx.post(
        server.url + "/graphql", content=body, headers={"content-type": "application/json"}, timeout=10
    )
    assert 400 <= response.status_code < 500 or response.status_code == 200, response.text
    assert response.json()["errors"][0]["extensions"]["code"] == code


def test_unsupported_content_type(server: LiveServer) -> None:
    response = httpx.post(server.url + "/graphql", content=b"{ __typename }", headers={"content-type": "text/plain"})
    assert response.status_code == 415
    assert response.json()["errors"][0]["extensions"]["code"] == "UNSUPPORTED_MEDIA_TYPE"


def test_depth_limit(server: LiveServer) -> None:
    inner = "reportedBy { claimsReported(first: 1) { nodes { " * 5 + "id" + " } } }" * 5
    nested = f'claim(id: "{CANDY}") {{ {inner} }}'
    r = gql(server.url, "{ " + nested + " }")
    assert codes(r) == ["QUERY_TOO_COMPLEX"]
    assert "depth" in r["errors"][0]["message"]
    assert r.get("data") is None


def test_fragment_cycles_and_fragment_fan_out_are_refused_cheaply(server: LiveServer) -> None:
    """A spread of a fragment inside itself is a validation error, not a recursion without end; a
    chain of fragments each spreading the next twice (2^n fields from 40 n bytes) costs what its
    size does, so the server goes on answering others meanwhile."""
    for query in (
        "query { ...A } fragment A on Query { ...A }",
        "query { ...A } fragment A on Query { ...B } fragment B on Query { __typename ...A }",
        f'{{ claim(id: "{CANDY}") {{ ...C }} }} fragment C on Claim {{ reportedBy {{ claimsReported(first: 1) {{ nodes {{ ...C }} }} }} }}',
    ):
        r = gql(server.url, query)
        assert r.get("data") is None, query
        assert codes(r) and "INTERNAL" not in codes(r), (query, r)
    chain = "query { ...F0 } " + " ".join(f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(40))
    r = gql(server.url, chain + " fragment F40 on Query { __typename }")
    assert r == {"data": {"__typename": "Query"}, "extensions": {"cost": {"requested": 0, "limit": 5000}}}


def test_alias_limit(server: LiveServer) -> None:
    query = "{ " + " ".join(f"a{i}: __typename" for i in range(31)) + " }"
    r = gql(server.url, query)
    assert codes(r) == ["QUERY_TOO_COMPLEX"]
    assert "aliases" in r["errors"][0]["message"]
    ok = gql(server.url, "{ " + " ".join(f"a{i}: __typename" for i in range(30)) + " }")
    assert "errors" not in ok


def test_token_limit(server: LiveServer) -> None:
    r = gql(server.url, "{ " + "__typename " * 2100 + "}")
    assert codes(r) == ["QUERY_TOO_COMPLEX"]


def test_cost_budget_refuses_before_execution_and_reports_cost(server: LiveServer) -> None:
    query = """{ articles(first: 100) { nodes { claims(first: 100) { nodes { id speaker { id } } } } } }"""
    r = gql(server.url, query)
    assert codes(r) == ["QUERY_TOO_COMPLEX"]
    ext = r["errors"][0]["extensions"]
    assert ext["cost"] > ext["maxCost"] == 5000
    assert r["data"] is None
    small = gql(server.url, "{ articles(first: 2) { nodes { claims(first: 3) { nodes { id speaker { id } } } } } }")
    # 1 page + 2 articles + 2 claim pages + 6 claims + 6 speakers
    assert small["extensions"]["cost"] == {"requested": 17, "limit": 5000}


def test_cost_uses_variables(server: LiveServer) -> None:
    query = "query($n: Int) { claims(first: $n) { nodes { id } } }"
    assert gql(server.url, query, {"n": 7})["extensions"]["cost"]["requested"] == 8
    # The planner keeps one cost per document whose page sizes are literals: the same document
    # with other variables is still priced by the ones it is sent (and 3 ids cost 3 objects).
    assert gql(server.url, query, {"n": 30})["extensions"]["cost"]["requested"] == 31
    nodes = "query($ids: [ID!]!) { nodes(ids: $ids) { id } }"
    assert gql(server.url, nodes, {"ids": ["a", "b", "c"]})["extensions"]["cost"]["requested"] == 3


def test_cost_is_fixed_only_when_no_page_size_takes_a_variable() -> None:
    fixed = ["{ claims(first: 5) { nodes { id } } }", "query($id: ID!) { claim(id: $id) { speaker { id } } }",
             "query($s: ID) { claims(first: 2, filter: {speaker: $s}) { nodes { id } } }"]  # fmt: skip
    varying = ["query($n: Int) { claims(first: $n) { nodes { id } } }",
               "query($a: ID!) { nodes(ids: [$a, \"x\"]) { id } }",
               "query($n: Int) { ...F } fragment F on Query { actors(last: $n) { nodes { id } } }"]  # fmt: skip
    assert [cost_is_fixed(parse(q)) for q in fixed] == [True] * 3
    assert [cost_is_fixed(parse(q)) for q in varying] == [False] * 3


def test_internal_errors_are_masked_in_production() -> None:
    error = GraphQLError("boom", original_error=RuntimeError("secret detail"), path=["claim"])
    masked = format_error(error, production=True)
    assert masked["message"] == "internal error"
    assert masked["extensions"] == {"code": "INTERNAL"}
    assert "secret" in format_error(error, production=False)["message"]


def test_cost_counts_argument_defaults(server: LiveServer) -> None:
    # The search connection (1) and a page of its default 20 nodes, or of the 3 asked for.
    cost = '{ search(query: "x"%s) { nodes { __typename } edges { cursor } } }'
    assert gql(server.url, cost % "")["extensions"]["cost"]["requested"] == 1 + 20 + 20
    assert gql(server.url, cost % ", first: 3")["extensions"]["cost"]["requested"] == 1 + 3 + 3
