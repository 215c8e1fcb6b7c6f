"""REST writes over real HTTP: create/patch/correct/retract, field-named validation errors,
Idempotency-Key (replay, reuse refused, concurrent retries create one fact) and If-Match."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest

from tests.api.live_events import api_key, bearer, create_actor
from tests.services import LiveServer

pytestmark = pytest.mark.anyio

ARTICLE = "art_01K8B1E3F9FPCM47JBPJSG0VT9"


@pytest.fixture(scope="module")
def write_key(database_url: str) -> str:
    return asyncio.run(api_key(database_url, "write"))


@pytest.fixture(scope="module")
def read_key(database_url: str) -> str:
    return asyncio.run(api_key(database_url, "read"))


async def test_create_returns_201_location_and_etag_and_is_readable(server: LiveServer, write_key: str) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        response = await client.post(
            "/v1/actors", json={"kind": "person", "name": "Ada Example"}, headers=bearer(write_key)
        )
        assert response.status_code == 201, response.text
        doc = response.json()
        assert doc["name"] == "Ada Example" and doc["version"] == 1 and doc["id"].startswith("act_")
        assert response.headers["location"] == f"/v1/actors/{doc['id']}"
        assert response.headers["etag"] == f'"{doc["id"]}.v1"'
        again = await client.get(response.headers["location"])
        assert again.status_code == 200 and again.json()["name"] == "Ada Example"


async def test_validation_errors_name_every_bad_field(server: LiveServer, write_key: str) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        response = await client.post(
            "/v1/claims",
            json={
                "statement": "x",
                "quoteType": "shouted",
                "speaker": "act_00000000000000000000000000",
                "references": [{"article": ARTICLE, "charStart": 0, "charEnd": 5, "quoteText": "nope!"}],
            },
            headers=bearer(write_key),
        )
        assert response.status_code == 422, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        pointers = {e["pointer"] for e in response.json()["errors"]}
        assert {"/quoteType", "/speaker", "/references/0/quoteText"} <= pointers, pointers


async def test_bad_bodies_are_clear_errors(server: LiveServer, write_key: str) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        bad_json = await client.post(
            "/v1/actors", content=b"{not json", headers={**bearer(write_key), "content-type": "application/json"}
        )
        assert bad_json.status_code == 400 and bad_json.json()["errors"][0]["code"] == "INVALID_JSON"
        wrong_type = await client.post(
            "/v1/actors", content=b"name=x", headers={**bearer(write_key), "content-type": "text/plain"}
        )
        assert wrong_type.status_code == 415, wrong_type.text
        # The top level must be an object: a malformed body (400, its own code), not a bad fact (422).
        array = await client.post("/v1/actors", json=[1, 2], headers=bearer(write_key))
        assert array.status_code == 400 and array.json()["code"] == "BODY_NOT_OBJECT", array.text


async def test_writes_need_the_write_scope(server: LiveServer, read_key: str) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        anonymous = await client.post("/v1/actors", json={"kind": "person", "name": "X"})
        assert anonymous.status_code == 401
        reader = await client.post("/v1/actors", json={"kind": "person", "name": "X"}, headers=bearer(read_key))
        assert reader.status_code == 403


async def test_patch_with_if_match_and_stale_etag_refused(server: LiveServer, write_key: str) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        actor = await create_actor(client, server.url, write_key)
        url = f"/v1/actors/{actor['id']}"
        v1 = f'"{actor["id"]}.v1"'
        patched = await client.patch(
            url,
            content=b'{"description": "a test person"}',
            headers={**bearer(write_key), "If-Match": v1, "content-type": "application/merge-patch+json"},
        )
        assert patched.status_code == 200, patched.text
        assert patched.json()["description"] == "a test person" and patched.json()["version"] == 2
        assert patched.headers["etag"] == f'"{actor["id"]}.v2"'
        stale = await client.patch(
            url, json={"description": "lost update"}, headers={**bearer(write_key), "If-Match": v1}
        )
        assert stale.status_code == 412, stale.text
        assert stale.json()["code"] == "VERSION_CONFLICT"
        # If-Match compares strongly (RFC 9110): the current tag, weak, matches nothing.
        v2 = f'"{actor["id"]}.v2"'
        weak = await client.patch(
            url, json={"description": "weak"}, headers={**bearer(write_key), "If-Match": f"W/{v2}"}
        )
        assert weak.status_code == 412 and weak.json()["code"] == "VERSION_CONFLICT", weak.text
        current = (await client.get(url)).json()
        assert current["description"] == "a test person" and current["version"] == 2


async def test_correction_needs_a_reason_and_emits_corrected(server: LiveServer, write_key: str) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        actor = await create_actor(client, server.url, write_key)
        url = f"/v1/actors/{actor['id']}/corrections"
        no_reason = await client.post(url, json={"changes": {"name": "Fixed"}}, headers=bearer(write_key))
        assert no_reason.status_code == 422 and no_reason.json()["errors"][0]["pointer"] == "/reason"
        bad_change = await client.post(
            url, json={"changes": {"kind": "dragon"}, "reason": "typo"}, headers=bearer(write_key)
        )
        assert bad_change.status_code == 422 and bad_change.json()["errors"][0]["pointer"] == "/changes/kind"
        unknown = await client.post(url, json={"changes": {"bogus": 1}, "reason": "typo"}, headers=bearer(write_key))
        assert unknown.status_code == 422 and unknown.json()["errors"][0]["pointer"] == "/changes/bogus"
        assert "/changes/bogus" in unknown.json()["detail"], unknown.text  # the detail points where the errors do
        typed = await client.post(url, json={"changes": {"name": "X"}, "reason": 5}, headers=bearer(write_key))
        assert [(e["pointer"], e["code"]) for e in typed.json()["errors"]] == [("/reason", "INVALID_TYPE")]
        fixed = await client.post(
            url, json={"changes": {"name": "Fixed Name"}, "reason": "misspelt name"}, headers=bearer(write_key)
        )
        assert fixed.status_code == 200, fixed.text
        log = (await client.get("/v1/events", params={"objectId": actor["id"]})).json()["data"]
        assert [e["type"] for e in log] == ["actor.created", "actor.corrected"]
        assert log[1]["data"]["name"] == "Fixed Name"
        revisions = (await client.get(f"/v1/actors/{actor['id']}/revisions")).json()
        assert "misspelt name" in str(revisions)


async def test_delete_retracts_and_keeps_the_fact_readable(server: LiveServer, write_key: str) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        actor = await create_actor(client, server.url, write_key)
        url = f"/v1/actors/{actor['id']}"
        gone = await client.delete(url, params={"reason": "duplicate"}, headers=bearer(write_key))
        assert gone.status_code == 200, gone.text
        assert gone.json()["retractedAt"] is not None
        assert (await client.get(url)).json()["retractedAt"] is not None
        again = await client.delete(url, headers=bearer(write_key))
        assert again.status_code == 409
        missing = await client.delete("/v1/actors/act_00000000000000000000000000", headers=bearer(write_key))
        assert missing.status_code == 404


async def _count_named(client: httpx.AsyncClient, name: str) -> int:
    page = (await client.get("/v1/events", params={"type": "actor.created", "limit": 1000})).json()
    seen = [e for e in page["data"] if e["data"]["name"] == name]
    while page["hasMore"]:
        page = (
            await client.get("/v1/events", params={"type": "actor.created", "limit": 1000, "after": page["nextAfter"]})
        ).json()
        seen += [e for e in page["data"] if e["data"]["name"] == name]
    return len(seen)


async def test_idempotent_retries_create_one_fact(server: LiveServer, write_key: str) -> None:
    name = f"Idem {uuid.uuid4().hex[:8]}"
    headers = {**bearer(write_key), "Idempotency-Key": uuid.uuid4().hex}
    body: dict[str, Any] = {"kind": "person", "name": name}
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        first = await client.post("/v1/actors", json=body, headers=headers)
        second = await client.post("/v1/actors", json=body, headers=headers)
        assert first.status_code == second.status_code == 201
        assert first.json() == second.json()
        assert second.headers["location"] == first.headers["location"]
        assert second.headers.get("idempotent-replayed") == "true"
        assert "idempotent-replayed" not in first.headers
        reused = await client.post("/v1/actors", json={**body, "name": name + "!"}, headers=headers)
        assert reused.status_code == 422 and reused.json()["code"] == "IDEMPOTENCY_KEY_REUSED"
        assert await _count_named(client, name) == 1


async def test_concurrent_retries_with_one_key_create_one_fact(server: LiveServer, write_key: str) -> None:
    name = f"Race {uuid.uuid4().hex[:8]}"
    headers = {**bearer(write_key), "Idempotency-Key": uuid.uuid4().hex}
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        responses = await asyncio.gather(
            *(client.post("/v1/actors", json={"kind": "person", "name": name}, headers=headers) for _ in range(6))
        )
        assert {r.status_code for r in responses} == {201}
        assert len({r.json()["id"] for r in responses}) == 1
        assert await _count_named(client, name) == 1


async def test_failed_write_does_not_burn_its_key(server: LiveServer, write_key: str) -> None:
    headers = {**bearer(write_key), "Idempotency-Key": uuid.uuid4().hex}
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        bad = await client.post("/v1/actors", json={"kind": "dragon", "name": "X"}, headers=headers)
        assert bad.status_code == 422
        good = await client.post("/v1/actors", json={"kind": "person", "name": "X"}, headers=headers)
        # Not the same request body, but the failed attempt stored nothing: the key is still free.
        assert good.status_code == 201, good.text
