"""API keys over the API (scope admin), REST and GraphQL, against the live server: the secret is in
the create response only and works at once; lists never carry a secret or its hash; a revoked key
is refused at once on the process that revoked it; and nothing below admin may touch keys."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from db import keys
from db.pool import Conn
from tests.services import LiveServer

pytestmark = pytest.mark.anyio


async def _secret(conn: Conn, scope: str) -> str:
    return (await keys.create(conn, name=f"{scope} for key tests", scope=scope))[1]


def _bearer(secret: str) -> dict[str, str]:
    return {"authorization": f"Bearer {secret}"}


async def test_rest_create_list_and_revoke(server: LiveServer, conn: Conn) -> None:
    admin = _bearer(await _secret(conn, "admin"))
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as c:
        created = await c.post("/v1/keys", json={"name": "newsroom ingest", "scope": "write"}, headers=admin)
        assert created.status_code == 201, created.text
        key = created.json()
        assert key["secret"].startswith("nfk_") and key["scope"] == "write" and key["revokedAt"] is None
        assert created.headers["location"] == f"/v1/keys/{key['id']}"
        new = _bearer(key["secret"])
        write = await c.post(
            "/v1/claims", json={"statement": "Keys over the API work.", "quoteType": "assertion"}, headers=new
        )
        assert write.status_code == 201, write.text

        listed = (await c.get("/v1/keys", headers=admin)).json()
        mine = [k for k in listed["data"] if k["id"] == key["id"]]
        assert mine and set(mine[0]) == {"id", "object", "name", "scope", "createdAt", "revokedAt"}
        assert key["secret"] not in (await c.get("/v1/keys", headers=admin)).text

        revoked = await c.delete(f"/v1/keys/{key['id']}", headers=admin)
        assert revoked.status_code == 200 and revoked.json()["revokedAt"] is not None
        refused = await c.get("/v1/claims", headers=new)
        assert refused.status_code == 401 and refused.json()["code"] == "UNAUTHENTICATED"
        again = await c.delete(f"/v1/keys/{key['id']}", headers=admin)
        assert again.status_code == 200 and again.json()["revokedAt"] == revoked.json()["revokedAt"]
        live = {k["id"] for k in (await c.get("/v1/keys", headers=admin)).json()["data"]}
        everything = {k["id"] for k in (await c.get("/v1/keys?includeRevoked=true", headers=admin)).json()["data"]}
        assert key["id"] not in live and key["id"] in everything


async def test_rest_refusals_name_the_field_and_need_admin(server: LiveServer, conn: Conn) -> None:
    admin = _bearer(await _secret(conn, "admin"))
    write = _bearer(await _secret(conn, "write"))
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as c:
        bad = await c.post("/v1/keys", json={"scope": "root", "name": "", "colour": "red"}, headers=admin)
        assert bad.status_code == 422 and [e["pointer"] for e in bad.json()["errors"]] == ["/colour"]
        bad = await c.post("/v1/keys", json={"scope": "root", "name": ""}, headers=admin)
        assert bad.status_code == 422
        assert {(e["pointer"], e["code"]) for e in bad.json()["errors"]} == {
            ("/scope", "INVALID_ENUM"), ("/name", "INVALID_TYPE"),
        }  # fmt: skip
        assert (await c.post("/v1/keys", json={"scope": "read"}, headers=write)).status_code == 403
        assert (await c.post("/v1/keys", json={"scope": "read"})).status_code == 401
        assert (await c.get("/v1/keys", headers=write)).status_code == 403
        assert (await c.delete("/v1/keys/key_01K8B1E2G12Z4MP14DZVS18EHJ", headers=admin)).status_code == 404
        assert (await c.delete("/v1/keys/nonsense", headers=admin)).status_code == 404


async def _gql(c: httpx.AsyncClient, query: str, secret: str | None, **variables: Any) -> dict[str, Any]:
    headers = _bearer(secret) if secret else {}
    r = await c.post("/graphql", json={"query": query, "variables": variables}, headers=headers)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def test_graphql_create_list_and_revoke(server: LiveServer, conn: Conn) -> None:
    admin = await _secret(conn, "admin")
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as c:
        created = await _gql(
            c,
            'mutation { createApiKey(scope: READ, name: "dashboard") { secret apiKey { id scope } userErrors { code } } }',
            admin,
        )
        payload = created["data"]["createApiKey"]
        assert payload["secret"].startswith("nfk_") and payload["apiKey"]["scope"] == "READ"
        key_id = payload["apiKey"]["id"]
        listed = await _gql(c, "{ apiKeys { id name revokedAt } }", admin)
        assert {"id": key_id, "name": "dashboard", "revokedAt": None} in listed["data"]["apiKeys"]
        revoked = await _gql(
            c,
            "mutation($id: ID!) { revokeApiKey(id: $id) { apiKey { revokedAt } userErrors { code } } }",
            admin,
            id=key_id,
        )
        assert revoked["data"]["revokeApiKey"]["apiKey"]["revokedAt"] is not None
        unknown = await _gql(
            c,
            'mutation { revokeApiKey(id: "key_01K8B1E2G12Z4MP14DZVS18EHJ") { apiKey { id } userErrors { code path } } }',
            admin,
        )
        assert unknown["data"]["revokeApiKey"]["userErrors"] == [{"code": "NOT_FOUND", "path": ["id"]}]
        anonymous = await _gql(c, "{ apiKeys { id } }", None)
        assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        revoked_key = await c.post("/graphql", json={"query": "{ __typename }"}, headers=_bearer(payload["secret"]))
        assert revoked_key.status_code == 401
        reader = await _gql(c, "{ apiKeys { id } }", await _secret(conn, "write"))
        assert reader["data"] is None and reader["errors"][0]["extensions"]["code"] == "FORBIDDEN"
