"""Webhook endpoints over GraphQL, real HTTP and a real worker: the same documents, cursors and URL
policy as REST, signatures a standardwebhooks receiver accepts across a rotation, the delivery log,
typed userErrors, admin scope, and answers the response cache never keeps."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import httpx
import pytest
from standardwebhooks import Webhook

from api.settings import Settings
from tests.api.cached_server import cached_server
from tests.api.live_events import api_key, bearer
from tests.api.webhook_receiver import Receiver, eventually, running_worker, wh_admin, wh_api, wh_receiver, wh_settings
from tests.services import LiveServer

__all__ = ["cached_server", "wh_admin", "wh_api", "wh_receiver", "wh_settings"]

ENDPOINT = """id url description enabledEvents payloadScope status disabledReason disabledAt failingSince lastSuccessAt
  lastFailureAt createdSequence createdAt updatedAt"""
CREATE = f"""mutation($input: CreateWebhookEndpointInput!) {{
  createWebhookEndpoint(input: $input) {{ webhookEndpoint {{ {ENDPOINT} }} secret userErrors {{ path code message }} }}
}}"""
DELIVERIES = """query($endpoint: ID, $event: ID, $after: String) {
  webhookDeliveries(endpointId: $endpoint, eventId: $event, first: 10, after: $after) {
    nodes { id endpoint event sequence type reason status attemptCount nextAttemptAt lastStatusCode lastError
            deliveredAt createdAt
            attempts { attemptedAt outcome responseStatus durationMs responseBody error payloadScope } }
    hasMore nextCursor
  }
}"""


@pytest.fixture(scope="module")
def keys(database_url: str) -> dict[str, str]:
    return {scope: asyncio.run(api_key(database_url, scope)) for scope in ("admin", "write")}


def gql(url: str, query: str, variables: dict[str, Any] | None = None, key: str | None = None) -> dict[str, Any]:
    response = httpx.post(
        url + "/graphql", json={"query": query, "variables": variables or {}}, headers=bearer(key) if key else {},
        timeout=10,
    )  # fmt: skip
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def agql(client: httpx.AsyncClient, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    """Async, so the in-process worker keeps running while the test waits for the server."""
    response = await client.post("/graphql", json={"query": query, "variables": variables or {}})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body["errors"]
    return body["data"]


def _upper(doc: dict[str, Any], *names: str) -> dict[str, Any]:
    """A REST document as GraphQL renders it: enum values are UPPER_CASE names."""
    return {k: (v.upper() if k in names and isinstance(v, str) else v) for k, v in doc.items() if k != "object"}


@pytest.mark.anyio
async def test_endpoint_lifecycle_matches_rest_and_delivers(
    wh_api: LiveServer, wh_admin: dict[str, str], wh_receiver: Receiver, wh_settings: Settings, database_url: str
) -> None:
    async with httpx.AsyncClient(base_url=wh_api.url, headers=wh_admin, timeout=10) as client:
        made = await agql(
            client,
            CREATE,
            {"input": {"url": wh_receiver.url(), "enabledEvents": ["actor.created"], "description": "gql partner"}},
        )
        created = made["createWebhookEndpoint"]
        assert created["userErrors"] == [] and created["secret"].startswith("whsec_")
        endpoint, old_secret = created["webhookEndpoint"], created["secret"]
        endpoint_id = endpoint["id"]
        conn = await asyncpg.connect(database_url)
        try:  # sealed at once, as REST seals it: the table alone cannot sign
            stored = await conn.fetchrow(
                "SELECT secret, secret_key_id FROM webhook_endpoints WHERE id = $1", endpoint_id
            )
        finally:
            await conn.close()
        assert stored is not None and stored["secret_key_id"] and old_secret not in stored["secret"]
        second = (await agql(client, CREATE, {"input": {"url": wh_receiver.url("/two")}}))["createWebhookEndpoint"]
        try:
            assert endpoint["enabledEvents"] == ["actor.created"] and endpoint["status"] == "ENABLED"
            assert second["webhookEndpoint"]["enabledEvents"] == ["*"]  # the default, as in REST

            # The same document REST serves, and the same cursors: a GraphQL page continues over REST.
            rest = (await client.get(f"/v1/webhook-endpoints/{endpoint_id}")).json()
            one = await agql(client, f'{{ webhookEndpoint(id: "{endpoint_id}") {{ {ENDPOINT} }} }}')
            assert one["webhookEndpoint"] == _upper(rest, "status", "payloadScope")
            page = (await agql(client, "{ webhookEndpoints(first: 1) { nodes { id } hasMore nextCursor } }"))[
                "webhookEndpoints"
            ]
            rest_page = (await client.get("/v1/webhook-endpoints", params={"limit": 1})).json()
            assert page["hasMore"] is True and page["nextCursor"] == rest_page["nextCursor"]
            listed: list[str] = [n["id"] for n in page["nodes"]]
            cursor = page["nextCursor"]
            while cursor is not None:
                more = await agql(
                    client,
                    "query($a: String) { webhookEndpoints(first: 1, after: $a) { nodes { id } nextCursor } }",
                    {"a": cursor},
                )
                listed += [n["id"] for n in more["webhookEndpoints"]["nodes"]]
                cursor = more["webhookEndpoints"]["nextCursor"]
            assert {endpoint_id, second["webhookEndpoint"]["id"]} <= set(listed) and listed == sorted(listed)

            update = """mutation($id: ID!, $patch: WebhookEndpointPatch!) {
              updateWebhookEndpoint(id: $id, patch: $patch) {
                webhookEndpoint { description enabledEvents status } userErrors { path code }
              }
            }"""
            patched = await agql(
                client, update, {"id": endpoint_id, "patch": {"description": None, "enabledEvents": ["*"]}}
            )
            assert patched["updateWebhookEndpoint"] == {
                "webhookEndpoint": {"description": None, "enabledEvents": ["*"], "status": "ENABLED"},
                "userErrors": [],
            }
            toggle = """mutation($id: ID!) {
              disableWebhookEndpoint(id: $id) { webhookEndpoint { status disabledReason } }
              enableWebhookEndpoint(id: $id) { webhookEndpoint { status disabledReason } }
            }"""
            toggled = await agql(client, toggle, {"id": endpoint_id})
            assert toggled["disableWebhookEndpoint"]["webhookEndpoint"] == {
                "status": "DISABLED",
                "disabledReason": "disabled by an administrator",
            }
            assert toggled["enableWebhookEndpoint"]["webhookEndpoint"] == {"status": "ENABLED", "disabledReason": None}

            ping = """mutation($id: ID!) {
              pingWebhookEndpoint(id: $id) { delivery { id type reason status attempts { outcome } } userErrors { code } }
            }"""
            rotate = """mutation($id: ID!) {
              rotateWebhookSecret(id: $id, graceSeconds: 3600) {
                secret previousSecretGraceSeconds webhookEndpoint { id } userErrors { code }
              }
            }"""
            async with running_worker(wh_settings, database_url):
                pinged = (await agql(client, ping, {"id": endpoint_id}))["pingWebhookEndpoint"]
                assert pinged["userErrors"] == [] and pinged["delivery"]["type"] == "webhook.ping"
                assert pinged["delivery"]["reason"] == "ping" and pinged["delivery"]["attempts"] == []
                await eventually(lambda: len(wh_receiver.received) >= 1, timeout=10)
                first = wh_receiver.received[0]
                assert Webhook(old_secret).verify(first.body, first.headers)["data"]["endpoint"] == endpoint_id

                rotated = (await agql(client, rotate, {"id": endpoint_id}))["rotateWebhookSecret"]
                new_secret = rotated["secret"]
                assert new_secret.startswith("whsec_") and new_secret != old_secret
                assert rotated["previousSecretGraceSeconds"] == 3600 and rotated["userErrors"] == []
                await agql(client, ping, {"id": endpoint_id})
                await eventually(lambda: len(wh_receiver.received) >= 2, timeout=10)
                after = wh_receiver.received[1]
                # During the grace period a receiver holding either secret accepts the delivery.
                for secret in (old_secret, new_secret):
                    assert Webhook(secret).verify(after.body, after.headers)["type"] == "webhook.ping"

                async def logged() -> Any:
                    # The receiver sees a request just before the worker records the attempt.
                    found = (await agql(client, DELIVERIES, {"endpoint": endpoint_id}))["webhookDeliveries"]
                    return (
                        len(found["nodes"]) == 2 and all(d["status"] == "DELIVERED" for d in found["nodes"]) and found
                    )

                log = await eventually(logged, timeout=10)
                attempt = log["nodes"][0]["attempts"][0]
                assert attempt["outcome"] == "SUCCEEDED" and attempt["responseStatus"] == 200
                assert attempt["responseBody"] == "ok" and attempt["durationMs"] >= 0
                rest_log = (await client.get(f"/v1/webhook-endpoints/{endpoint_id}/deliveries")).json()["data"]
                assert log["nodes"] == [_upper(d, "status") | {"attempts": [_upper(a, "outcome", "payloadScope") for a in d["attempts"]]}
                                        for d in rest_log]  # fmt: skip

                retry = """mutation($id: ID!) {
                  retryWebhookDelivery(id: $id) { delivery { id status attemptCount } userErrors { code } }
                }"""
                oldest = log["nodes"][-1]["id"]
                retried = (await agql(client, retry, {"id": oldest}))["retryWebhookDelivery"]
                assert retried["delivery"] == {"id": oldest, "status": "PENDING", "attemptCount": 0}
                await eventually(lambda: len(wh_receiver.received) >= 3, timeout=10)
                assert wh_receiver.received[2].headers["webhook-id"] == first.headers["webhook-id"]

                # The event that created the endpoint's sequence position is the one event at or before it.
                replay = """mutation($id: ID!, $after: Int, $since: DateTime) {
                  replayWebhookEvents(id: $id, afterSequence: $after, since: $since) { queued userErrors { path code } }
                }"""
                replayed = await agql(client, replay, {"id": endpoint_id, "after": endpoint["createdSequence"] - 1})
                assert replayed["replayWebhookEvents"] == {"queued": 1, "userErrors": []}
                future = await agql(client, replay, {"id": endpoint_id, "since": "2999-01-01T00:00:00Z"})
                assert future["replayWebhookEvents"] == {"queued": 0, "userErrors": []}
                await eventually(lambda: len(wh_receiver.received) >= 4, timeout=10)
                assert Webhook(new_secret).verify(wh_receiver.received[3].body, wh_receiver.received[3].headers)
        finally:
            delete = "mutation($id: ID!) { deleteWebhookEndpoint(id: $id) { deletedId userErrors { path code } } }"
            for wid in (endpoint_id, second["webhookEndpoint"]["id"]):
                gone = await agql(client, delete, {"id": wid})
                assert gone["deleteWebhookEndpoint"] == {"deletedId": wid, "userErrors": []}
        assert (await agql(client, f'{{ webhookEndpoint(id: "{endpoint_id}") {{ id }} }}'))["webhookEndpoint"] is None
        again = await agql(client, delete, {"id": endpoint_id})
        assert again["deleteWebhookEndpoint"] == {
            "deletedId": None,
            "userErrors": [{"path": ["id"], "code": "NOT_FOUND"}],
        }


def test_admin_scope_is_required(server: LiveServer, keys: dict[str, str]) -> None:
    listing = "{ webhookEndpoints { nodes { id } } }"
    create = 'mutation { createWebhookEndpoint(input: {url: "https://example.org/hook"}) { secret } }'
    for document in (listing, create):
        anonymous = gql(server.url, document)
        assert anonymous["data"] is None and anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        writer = gql(server.url, document, key=keys["write"])
        assert writer["data"] is None and writer["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    admin = gql(server.url, listing, key=keys["admin"])
    assert "errors" not in admin and isinstance(admin["data"]["webhookEndpoints"]["nodes"], list)


def test_unsafe_urls_are_refused_as_rest_refuses_them(
    server: LiveServer, wh_api: LiveServer, keys: dict[str, str]
) -> None:
    def refusal(base: str, url: str) -> list[dict[str, Any]]:
        payload = gql(base, CREATE, {"input": {"url": url}}, keys["admin"])["data"]["createWebhookEndpoint"]
        assert payload["webhookEndpoint"] is None and payload["secret"] is None
        return payload["userErrors"]  # type: ignore[no-any-return]

    # The session's server has no allow-list and requires https; wh_api allows 127.0.0.0/8 over http.
    for base, url in [
        (server.url, "https://10.0.0.1/hook"),
        (server.url, "https://169.254.169.254/latest/meta-data"),
        (server.url, "https://localhost/hook"),
        (server.url, "https://127.0.0.1/hook"),
        (server.url, "http://example.org/hook"),
        (wh_api.url, "http://10.0.0.1/hook"),
        (wh_api.url, "http://169.254.169.254/latest/meta-data"),
    ]:
        errors = refusal(base, url)
        assert [(e["path"], e["code"]) for e in errors] == [(["input", "url"], "INVALID_URL")], (url, errors)
        rest = httpx.post(base + "/v1/webhook-endpoints", json={"url": url}, headers=bearer(keys["admin"]), timeout=10)
        assert rest.status_code == 422 and rest.json()["errors"][0]["detail"] == errors[0]["message"]
    listing = gql(server.url, "{ webhookEndpoints(first: 100) { nodes { url } } }", key=keys["admin"])
    assert not {n["url"] for n in listing["data"]["webhookEndpoints"]["nodes"]} & {"https://10.0.0.1/hook"}


def test_bad_input_is_named(wh_api: LiveServer, wh_receiver: Receiver, keys: dict[str, str]) -> None:
    admin = keys["admin"]
    bad_events = gql(
        wh_api.url, CREATE, {"input": {"url": wh_receiver.url(), "enabledEvents": ["claim.exploded", "nope"]}}, admin
    )["data"]["createWebhookEndpoint"]
    assert [(e["path"], e["code"]) for e in bad_events["userErrors"]] == [
        (["input", "enabledEvents", "0"], "UNKNOWN_EVENT_TYPE"),
        (["input", "enabledEvents", "1"], "UNKNOWN_EVENT_TYPE"),
    ]
    empty = gql(wh_api.url, CREATE, {"input": {"url": wh_receiver.url(), "enabledEvents": []}}, admin)
    assert empty["data"]["createWebhookEndpoint"]["userErrors"][0]["code"] == "INVALID_TYPE"

    made = gql(wh_api.url, CREATE, {"input": {"url": wh_receiver.url()}}, admin)["data"]["createWebhookEndpoint"]
    endpoint_id = made["webhookEndpoint"]["id"]
    try:
        moved = gql(
            wh_api.url,
            """mutation($id: ID!) { updateWebhookEndpoint(id: $id, patch: {url: "http://10.0.0.1/x"}) {
                 webhookEndpoint { url } userErrors { path code } } }""",
            {"id": endpoint_id},
            admin,
        )["data"]["updateWebhookEndpoint"]
        assert moved == {"webhookEndpoint": None, "userErrors": [{"path": ["patch", "url"], "code": "INVALID_URL"}]}
        grace = gql(
            wh_api.url,
            "mutation($id: ID!) { rotateWebhookSecret(id: $id, graceSeconds: -1) { secret userErrors { path code } } }",
            {"id": endpoint_id},
            admin,
        )["data"]["rotateWebhookSecret"]
        assert grace == {"secret": None, "userErrors": [{"path": ["graceSeconds"], "code": "INVALID_VALUE"}]}
        neither = gql(
            wh_api.url,
            "mutation($id: ID!) { replayWebhookEvents(id: $id) { queued userErrors { path code } } }",
            {"id": endpoint_id},
            admin,
        )["data"]["replayWebhookEvents"]
        assert neither == {"queued": None, "userErrors": [{"path": ["since"], "code": "ONE_OF"}]}
        kept = gql(wh_api.url, f'{{ webhookEndpoint(id: "{endpoint_id}") {{ url }} }}', key=admin)
        assert kept["data"]["webhookEndpoint"]["url"] == wh_receiver.url()
    finally:
        gql(wh_api.url, f'mutation {{ deleteWebhookEndpoint(id: "{endpoint_id}") {{ deletedId }} }}', key=admin)

    missing = gql(
        wh_api.url,
        'mutation { pingWebhookEndpoint(id: "whe_00000000000000000000000000") { delivery { id } userErrors { path code } } }',
        key=admin,
    )["data"]["pingWebhookEndpoint"]
    assert missing == {"delivery": None, "userErrors": [{"path": ["id"], "code": "NOT_FOUND"}]}
    for document in (
        '{ webhookEndpoints(after: "not-a-cursor") { nodes { id } } }',
        "{ webhookDeliveries(first: 0) { nodes { id } } }",
        '{ webhookDeliveries(endpointId: "whe_00000000000000000000000000") { nodes { id } } }',
    ):
        refused = gql(wh_api.url, document, key=admin)
        assert refused["data"] is None and refused["errors"][0]["extensions"]["code"] in ("BAD_USER_INPUT", "NOT_FOUND")


def test_cost_limits_count_webhook_pages(server: LiveServer, keys: dict[str, str]) -> None:
    small = gql(server.url, "{ webhookEndpoints(first: 50) { nodes { id } } }", key=keys["admin"])
    assert small["extensions"]["cost"]["requested"] == 51  # the connection + one per node of the page
    deliveries = gql(
        server.url, "{ webhookDeliveries(first: 100) { nodes { attempts { outcome } } } }", key=keys["admin"]
    )
    assert deliveries["extensions"]["cost"]["requested"] == 201  # attempts count once per delivery


def test_admin_answers_are_not_cached(cached_server: LiveServer, keys: dict[str, str]) -> None:
    def cache_states(document: str) -> list[str]:
        states = []
        for _ in range(2):
            response = httpx.post(
                cached_server.url + "/graphql", json={"query": document}, headers=bearer(keys["admin"]), timeout=10
            )
            assert response.status_code == 200 and "errors" not in response.json(), response.text
            states.append(response.headers.get("x-cache", "").split(";")[0])
        return states

    # A fact query is kept (the cache is on), the delivery log — which changes without events — is not.
    assert cache_states('{ actor(id: "act_01K8B1E2G12Z4MP14DZVS18EHJ") { id name } }') == ["miss", "hit"]
    assert cache_states("{ webhookDeliveries(first: 5) { nodes { id status } } }") == ["miss", "miss"]
