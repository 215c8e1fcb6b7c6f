"""Each error kind of the REST reads as RFC 9457 problem+json with a stable type URI and, for bad
parameters, one entry per parameter naming it and why. Nothing a client sends produces a 500."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import asyncpg
import httpx
import pytest

from db import keys
from tests.services import LiveServer, server_process

TYPE = "https://newsfacts.dev/problems/"


@pytest.fixture
def client(server: LiveServer) -> httpx.Client:
    with httpx.Client(base_url=server.url, timeout=10) as c:
        yield c  # type: ignore[misc]


def _problem(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = r.json()
    assert body["status"] == status and body["code"] == code
    assert body["type"] == TYPE + code.lower().replace("_", "-")
    assert body["detail"]
    return body


def test_every_bad_parameter_is_named_at_once(client: httpx.Client) -> None:
    r = client.get(
        "/v1/claims",
        params={
            "limit": "0",
            "bogus": "1",
            "speaker": "nope",
            "sort": "height",
            "claimDateFrom": "yesterday",
            "expand": "x",
        },
    )
    body = _problem(r, 400, "BAD_USER_INPUT")
    named = {e["parameter"]: e["code"] for e in body["errors"]}
    assert named == {
        "limit": "INVALID_LIMIT",
        "bogus": "UNKNOWN_PARAMETER",
        "speaker": "INVALID_ID",
        "sort": "INVALID_SORT",
        "claimDateFrom": "INVALID_DATE",
        "expand": "INVALID_EXPAND",
    }
    assert all(e["pointer"] == f"/query/{e['parameter']}" and e["in"] == "query" for e in body["errors"])


def test_repeated_parameters_fields_and_formats(client: httpx.Client) -> None:
    body = _problem(client.get("/v1/actors?limit=1&limit=2"), 400, "BAD_USER_INPUT")
    assert body["errors"][0]["code"] == "REPEATED_PARAMETER"
    body = _problem(client.get("/v1/actors", params={"fields": "name,shoeSize"}), 400, "BAD_USER_INPUT")
    assert "shoeSize" in body["errors"][0]["detail"]
    body = _problem(client.get("/v1/actors", params={"format": "ninjs"}), 400, "BAD_USER_INPUT")
    assert body["errors"][0]["parameter"] == "format"
    body = _problem(client.get("/v1/claims", params={"format": "ndjson", "limit": "5"}), 400, "BAD_USER_INPUT")
    assert body["errors"][0]["code"] == "NOT_FOR_EXPORT"
    body = _problem(
        client.get("/v1/claims/clm_01K8B1E4EJJ4YDVT3E4602WPWC", params={"asOf": "soon"}), 400, "BAD_USER_INPUT"
    )
    assert body["errors"][0]["parameter"] == "asOf"
    _problem(
        client.get("/v1/claims/clm_01K8B1E4EJJ4YDVT3E4602WPWC/revisions", params={"x": "1"}), 400, "BAD_USER_INPUT"
    )


def test_foreign_or_forged_cursors(client: httpx.Client) -> None:
    first = client.get("/v1/claims", params={"limit": 1}).json()
    body = _problem(
        client.get("/v1/claims", params={"cursor": first["nextCursor"], "sort": "updatedAt"}), 400, "BAD_USER_INPUT"
    )
    assert body["errors"][0]["parameter"] == "cursor" and body["errors"][0]["code"] == "INVALID_CURSOR"
    for forged in ("not-a-cursor", "W10", "eyJhIjoxfQ", "%%%", "A" * 2000):
        _problem(client.get("/v1/claims", params={"cursor": forged}), 400, "BAD_USER_INPUT")


def test_not_found_and_method_not_allowed(client: httpx.Client) -> None:
    _problem(client.get("/v1/claims/clm_00000000000000000000000000"), 404, "NOT_FOUND")
    body = _problem(client.get("/v1/claims/act_01K8B1E2G12Z4MP14DZVS18EHJ"), 404, "NOT_FOUND")
    assert "is not a claim id" in body["detail"]
    _problem(client.get("/v1/nothing-here"), 404, "NOT_FOUND")
    _problem(client.get("/v1/actors/act_00000000000000000000000000/revisions"), 404, "NOT_FOUND")
    r = client.put("/v1/claims")
    _problem(r, 405, "METHOD_NOT_ALLOWED")
    assert "GET" in r.headers["allow"]


@pytest.mark.anyio
async def test_keys_and_anonymous_reads(conn: asyncpg.Connection[Any], database_url: str, redis_url: str) -> None:
    _, secret = await keys.create(conn, name="reader", scope="read")
    # The shared Redis response cache keys entries by caller, not by server policy: an anonymous
    # page cached by another test's server would be served here. This test is about the policy.
    env = {"DATABASE_URL": database_url, "REDIS_URL": redis_url, "ANONYMOUS_READS": "false", "CACHE_ENABLED": "false"}
    with server_process(env) as closed:
        async with httpx.AsyncClient(base_url=closed.url, timeout=10) as client:
            _problem(await client.get("/v1/claims"), 401, "UNAUTHENTICATED")
            _problem(
                await client.get("/v1/claims", headers={"Authorization": "Bearer nfk_wrong"}), 401, "UNAUTHENTICATED"
            )
            _problem(await client.get("/v1/claims", headers={"Authorization": "Basic abc"}), 401, "UNAUTHENTICATED")
            ok = await client.get("/v1/claims", headers={"Authorization": f"Bearer {secret}"})
            assert ok.status_code == 200 and ok.headers["cache-control"].startswith("private")
            quota = (await client.get("/v1/quota", headers={"Authorization": f"Bearer {secret}"})).json()
            assert quota["subject"] == "key" and quota["scope"] == "read" and quota["keyId"].startswith("key_")


def test_hostile_inputs_never_500(client: httpx.Client) -> None:
    hostile = ["\x00", "' OR 1=1 --", "%00", "😀" * 300, "a" * 5000, "../../etc/passwd", "$1", "{}", "[]", "-"]
    for value in hostile:
        for params in ({"q": value}, {"region": value}, {"country": value}, {"sort": value}, {"fields": value}):
            path = "/v1/deployments" if "region" in params else "/v1/actors" if "country" in params else "/v1/claims"
            r = client.get(path, params=params)
            assert r.status_code in (200, 400), (params, r.status_code, r.text[:200])
        assert client.get("/v1/claims/" + quote(value, safe="")).status_code in (404, 400)
