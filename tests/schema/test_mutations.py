"""GraphQL mutations over real HTTP: writes through the one service, typed userErrors naming the
field and catalogue code, optimistic concurrency, corrections emitting *.corrected, scope checks."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from tests.api.live_events import api_key, bearer
from tests.services import LiveServer

ARTICLE = "art_01K8B1E3F9FPCM47JBPJSG0VT9"


@pytest.fixture(scope="module")
def write_key(database_url: str) -> str:
    return asyncio.run(api_key(database_url, "write"))


@pytest.fixture(scope="module")
def read_key(database_url: str) -> str:
    return asyncio.run(api_key(database_url, "read"))


def gql(server: LiveServer, query: str, variables: dict[str, Any], key: str | None) -> dict[str, Any]:
    response = httpx.post(
        server.url + "/graphql",
        json={"query": query, "variables": variables},
        headers=bearer(key) if key else {},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


CREATE_ACTOR = """mutation($input: CreateActorInput!) {
  createActor(input: $input) { actor { id name version } userErrors { path code message } }
}"""


def test_create_update_correct_retract(server: LiveServer, write_key: str) -> None:
    created = gql(server, CREATE_ACTOR, {"input": {"kind": "PERSON", "name": "Gql Person"}}, write_key)
    payload = created["data"]["createActor"]
    assert payload["userErrors"] == [] and payload["actor"]["name"] == "Gql Person"
    actor_id = payload["actor"]["id"]

    update = """mutation($id: ID!, $v: Int) {
      updateActor(id: $id, patch: {description: "from graphql"}, expectedVersion: $v) {
        actor { version description } userErrors { path code }
      }
    }"""
    ok = gql(server, update, {"id": actor_id, "v": 1}, write_key)["data"]["updateActor"]
    assert ok["actor"] == {"version": 2, "description": "from graphql"} and ok["userErrors"] == []
    stale = gql(server, update, {"id": actor_id, "v": 1}, write_key)["data"]["updateActor"]
    assert stale["actor"] is None and stale["userErrors"] == [{"path": ["expectedVersion"], "code": "VERSION_CONFLICT"}]

    correct = """mutation($id: ID!) {
      correctActor(id: $id, patch: {name: "Gql Person (fixed)"}, reason: "misspelt") { actor { name version } }
    }"""
    fixed = gql(server, correct, {"id": actor_id}, write_key)["data"]["correctActor"]["actor"]
    assert fixed == {"name": "Gql Person (fixed)", "version": 3}
    log = httpx.get(server.url + "/v1/events", params={"objectId": actor_id}, timeout=10).json()["data"]
    assert [e["type"] for e in log] == ["actor.created", "actor.updated", "actor.corrected"]

    retract = (
        'mutation($id: ID!) { retractActor(id: $id, reason: "dup") { actor { retractedAt } userErrors { code } } }'
    )
    gone = gql(server, retract, {"id": actor_id}, write_key)["data"]["retractActor"]
    assert gone["actor"]["retractedAt"] is not None
    again = gql(server, retract, {"id": actor_id}, write_key)["data"]["retractActor"]
    assert again["actor"] is None and again["userErrors"][0]["code"] == "CONFLICT"


def test_user_errors_name_each_bad_field(server: LiveServer, write_key: str) -> None:
    query = """mutation($input: CreateClaimInput!) {
      createClaim(input: $input) { claim { id } userErrors { path code message } }
    }"""
    record = {
        "statement": "x",
        "quoteType": "DIRECT",
        "speaker": "act_00000000000000000000000000",
        "references": [{"article": ARTICLE, "charStart": 0, "charEnd": 5, "quoteText": "nope!"}],
    }
    payload = gql(server, query, {"input": record}, write_key)["data"]["createClaim"]
    assert payload["claim"] is None
    found = {(tuple(e["path"]), e["code"]) for e in payload["userErrors"]}
    # Paths start at the argument: the record is the "input" argument.
    assert (("input", "quote"), "REQUIRED") in found, "a direct claim needs its quote"
    assert (("input", "speaker"), "REF_NOT_FOUND") in found
    assert (("input", "references", "0", "quoteText"), "QUOTE_MISMATCH") in found
    # The enum is the output enum: its document value (lowercase) is not a name of it.
    lowercase = gql(server, query, {"input": {**record, "quoteType": "direct"}}, write_key)
    assert lowercase["errors"] and "QuoteType" in lowercase["errors"][0]["message"]
    missing = gql(
        server,
        'mutation { retractClaim(id: "clm_00000000000000000000000000") { userErrors { path code } } }',
        {},
        write_key,
    )
    assert missing["data"]["retractClaim"]["userErrors"] == [{"path": ["id"], "code": "NOT_FOUND"}]


def test_a_reason_is_bounded_and_named_at_its_own_argument(server: LiveServer, write_key: str) -> None:
    """As in REST (2,000 characters), and a refusal of it names ``reason``, not the patch."""
    actor = gql(server, CREATE_ACTOR, {"input": {"kind": "PERSON", "name": "Reasoned"}}, write_key)
    actor_id = actor["data"]["createActor"]["actor"]["id"]
    update = """mutation($id: ID!, $r: String) {
      updateActor(id: $id, patch: {name: "Renamed"}, reason: $r) { actor { version } userErrors { path code } }
    }"""
    long = gql(server, update, {"id": actor_id, "r": "R" * 2001}, write_key)["data"]["updateActor"]
    assert long == {"actor": None, "userErrors": [{"path": ["reason"], "code": "TOO_LONG"}]}
    created = gql(
        server,
        """mutation($r: String) { createActor(input: {kind: PERSON, name: "Long"}, reason: $r) {
             actor { id } userErrors { path code } } }""",
        {"r": "R" * 2001},
        write_key,
    )["data"]["createActor"]
    assert created == {"actor": None, "userErrors": [{"path": ["reason"], "code": "TOO_LONG"}]}
    correct = """mutation($id: ID!) {
      correctActor(id: $id, patch: {name: "Fixed"}, reason: " ") { actor { version } userErrors { path code } }
    }"""
    blank = gql(server, correct, {"id": actor_id}, write_key)["data"]["correctActor"]
    assert blank["actor"] is None and [e["path"] for e in blank["userErrors"]] == [["reason"]], blank
    fine = gql(server, update, {"id": actor_id, "r": "R" * 2000}, write_key)["data"]["updateActor"]
    assert fine == {"actor": {"version": 2}, "userErrors": []}


def test_typed_inputs_take_quote_only_references_and_merge_patch_nulls(server: LiveServer, write_key: str) -> None:
    create = """mutation($input: CreateClaimInput!) {
      createClaim(input: $input) {
        claim { id quoteType speakerDescription claimDate claimDatePrecision references { charStart charEnd quoteText } }
        userErrors { path code message } } }"""
    body = httpx.get(f"{server.url}/v1/articles/{ARTICLE}", timeout=10).json()["body"]
    quote = body[40:90]
    record = {
        "statement": "Typed input",
        "quoteType": "INDIRECT",
        "speakerDescription": "an official",
        "claimDate": "2025-10-01",
        "references": [{"article": ARTICLE, "quoteText": quote, "occurrence": 1}],
    }
    payload = gql(server, create, {"input": record}, write_key)["data"]["createClaim"]
    assert payload["userErrors"] == [], payload
    claim = payload["claim"]
    assert claim["quoteType"] == "INDIRECT" and claim["claimDatePrecision"] == "DAY"
    start = body.index(quote)
    assert claim["references"] == [{"charStart": start, "charEnd": start + len(quote), "quoteText": quote}]

    update = """mutation($id: ID!, $patch: ClaimPatch!) {
      updateClaim(id: $id, patch: $patch) { claim { speakerDescription claimDate status } userErrors { code } } }"""
    # speakerDescription: null clears it; claimDate is absent, so it stays.
    patched = gql(server, update, {"id": claim["id"], "patch": {"speakerDescription": None}}, write_key)
    assert patched["data"]["updateClaim"] == {
        "claim": {"speakerDescription": None, "claimDate": "2025-10-01", "status": "REPORTED"},
        "userErrors": [],
    }


def test_mutations_need_the_write_scope(server: LiveServer, read_key: str) -> None:
    anonymous = gql(server, CREATE_ACTOR, {"input": {"kind": "PERSON", "name": "No"}}, None)
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    reader = gql(server, CREATE_ACTOR, {"input": {"kind": "PERSON", "name": "No"}}, read_key)
    assert reader["errors"][0]["extensions"]["code"] == "FORBIDDEN"
