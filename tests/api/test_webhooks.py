"""Webhook endpoints over real HTTP: admin-only CRUD, SSRF refusals, signatures a standardwebhooks
receiver accepts (also across a secret rotation), ping, replay and redelivery, thin events."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import httpx
import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from api.settings import Settings
from db import keys
from db.events import last_sequence
from tests.api.webhook_receiver import Receiver, eventually, register, running_worker, webhook_settings
from tests.factories import make_actor, make_article
from tests.services import LiveServer

pytestmark = pytest.mark.anyio


# --- the endpoints API ---------------------------------------------------------------------


async def test_crud_shows_the_secret_once_and_lists_in_the_envelope(
    wh_client: httpx.AsyncClient, wh_receiver: Receiver
) -> None:
    created = await register(
        wh_client, wh_receiver.url(), enabledEvents=["claim.created", "actor.updated"], description="partner A"
    )
    assert created["id"].startswith("whe_") and created["secret"].startswith("whsec_")
    assert created["enabledEvents"] == ["claim.created", "actor.updated"] and created["status"] == "enabled"

    fetched = (await wh_client.get(f"/v1/webhook-endpoints/{created['id']}")).json()
    assert "secret" not in fetched and fetched["description"] == "partner A"

    listing = (await wh_client.get("/v1/webhook-endpoints")).json()
    assert listing["object"] == "list" and created["id"] in [e["id"] for e in listing["data"]]
    assert listing["hasMore"] is False and listing["nextCursor"] is None

    patched = await wh_client.patch(
        f"/v1/webhook-endpoints/{created['id']}", json={"enabledEvents": ["*"], "status": "disabled"}
    )
    assert patched.status_code == 200
    assert patched.json()["enabledEvents"] == ["*"] and patched.json()["status"] == "disabled"
    assert patched.json()["disabledReason"] == "disabled by an administrator"
    enabled = (await wh_client.patch(f"/v1/webhook-endpoints/{created['id']}", json={"status": "enabled"})).json()
    assert enabled["status"] == "enabled" and enabled["disabledReason"] is None

    assert (await wh_client.delete(f"/v1/webhook-endpoints/{created['id']}")).status_code == 204
    gone = await wh_client.get(f"/v1/webhook-endpoints/{created['id']}")
    assert gone.status_code == 404 and gone.headers["content-type"] == "application/problem+json"


async def test_only_admin_keys_manage_endpoints(wh_api: LiveServer, database_url: str, wh_receiver: Receiver) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        _, write_secret = await keys.create(conn, name="writer", scope="write")
    finally:
        await conn.close()
    async with httpx.AsyncClient(base_url=wh_api.url, timeout=10) as anon:
        refused = await anon.post("/v1/webhook-endpoints", json={"url": wh_receiver.url()})
        assert refused.status_code == 401 and refused.json()["code"] == "UNAUTHENTICATED"
        assert (await anon.get("/v1/webhook-endpoints")).status_code == 401
        writer = await anon.get("/v1/webhook-endpoints", headers={"Authorization": f"Bearer {write_secret}"})
        assert writer.status_code == 403 and writer.json()["code"] == "FORBIDDEN"


async def test_bad_input_names_each_field(wh_client: httpx.AsyncClient, wh_receiver: Receiver) -> None:
    response = await wh_client.post(
        "/v1/webhook-endpoints",
        json={"url": wh_receiver.url(), "enabledEvents": ["claim.created", "claim.exploded"], "colour": "red"},
    )
    assert response.status_code == 422
    pointers = {e["pointer"] for e in response.json()["errors"]}
    assert pointers == {"/enabledEvents/1", "/colour"}

    not_json = await wh_client.post("/v1/webhook-endpoints", content=b"{", headers={"content-type": "application/json"})
    assert not_json.status_code == 400 and not_json.json()["errors"][0]["pointer"] == "/body"

    replay = await wh_client.post("/v1/webhook-endpoints/whe_00000000000000000000000000/replay", json={})
    assert replay.status_code == 422  # neither since nor afterSequence: refused before the lookup
    bad_limit = await wh_client.get("/v1/webhook-endpoints", params={"limit": "0"})
    assert bad_limit.status_code == 400 and bad_limit.json()["errors"][0]["parameter"] == "limit"


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hook",
        "https://10.1.2.3/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://localhost:8443/hook",
        "https://[::1]/hook",
        "https://0.0.0.0/hook",
    ],
)
async def test_private_addresses_are_refused_without_the_allow_list(
    server: LiveServer, wh_admin: dict[str, str], url: str
) -> None:
    # The session server has the default settings: empty WEBHOOK_ALLOWED_NETWORKS, https required.
    async with httpx.AsyncClient(base_url=server.url, headers=wh_admin, timeout=10) as c:
        response = await c.post("/v1/webhook-endpoints", json={"url": url})
    assert response.status_code == 422, response.text
    error = response.json()["errors"][0]
    assert error["pointer"] == "/url" and "refused" in error["detail"]


async def test_plain_http_is_refused_when_https_is_required(server: LiveServer, wh_admin: dict[str, str]) -> None:
    async with httpx.AsyncClient(base_url=server.url, headers=wh_admin, timeout=10) as c:
        response = await c.post("/v1/webhook-endpoints", json={"url": "http://example.com/hook"})
    assert response.status_code == 422 and "https" in response.json()["errors"][0]["detail"]


# --- signed delivery -----------------------------------------------------------------------


async def test_deliveries_verify_with_standardwebhooks_across_a_rotation(
    wh_client: httpx.AsyncClient, wh_receiver: Receiver, wh_settings: Settings, database_url: str, conn: Any
) -> None:
    endpoint = await register(wh_client, wh_receiver.url(), enabledEvents=["actor.created"])
    first_secret = endpoint["secret"]
    async with running_worker(wh_settings, database_url):
        actor = await make_actor(conn)
        await eventually(lambda: len(wh_receiver.received) >= 1)
        got = wh_receiver.received[0]
        payload = Webhook(first_secret).verify(got.body, got.headers)
        assert payload["type"] == "actor.created" and payload["data"]["id"] == actor["id"]
        assert set(payload) >= {"type", "timestamp", "data"}
        assert got.webhook_id == payload["id"] and got.webhook_id.startswith("evt_")

        rotated = (await wh_client.post(f"/v1/webhook-endpoints/{endpoint['id']}/rotate-secret")).json()
        second_secret = rotated["secret"]
        assert (
            second_secret != first_secret
            and "secret" not in (await wh_client.get(f"/v1/webhook-endpoints/{endpoint['id']}")).json()
        )
        await make_actor(conn)
        await eventually(lambda: len(wh_receiver.received) >= 2)
        during = wh_receiver.received[1]
        assert len(during.headers["webhook-signature"].split(" ")) == 2
        Webhook(first_secret).verify(during.body, during.headers)  # the old secret still verifies in the grace period
        Webhook(second_secret).verify(during.body, during.headers)

        third = (
            await wh_client.post(f"/v1/webhook-endpoints/{endpoint['id']}/rotate-secret", json={"graceSeconds": 0})
        ).json()["secret"]
        await make_actor(conn)
        await eventually(lambda: len(wh_receiver.received) >= 3)
        after = wh_receiver.received[2]
        Webhook(third).verify(after.body, after.headers)
        # graceSeconds 0 ended the second secret; the first one's grace continues (24 h default).
        with pytest.raises(WebhookVerificationError):
            Webhook(second_secret).verify(after.body, after.headers)
        tampered = after.body.replace(b"actor.created", b"actor.retracted")
        with pytest.raises(WebhookVerificationError):
            Webhook(third).verify(tampered, after.headers)


async def test_ping_replay_and_redeliver(
    wh_client: httpx.AsyncClient, wh_receiver: Receiver, wh_settings: Settings, database_url: str, conn: Any
) -> None:
    endpoint = await register(wh_client, wh_receiver.url(), enabledEvents=["actor.created", "actor.updated"])
    before = await last_sequence(conn)
    async with running_worker(wh_settings, database_url):
        ping = await wh_client.post(f"/v1/webhook-endpoints/{endpoint['id']}/ping")
        assert ping.status_code == 202 and ping.json()["type"] == "webhook.ping"
        await eventually(lambda: len(wh_receiver.received) >= 1)
        pinged = Webhook(endpoint["secret"]).verify(wh_receiver.received[0].body, wh_receiver.received[0].headers)
        assert pinged["type"] == "webhook.ping" and pinged["data"]["endpoint"] == endpoint["id"]

        actors = [await make_actor(conn) for _ in range(3)]
        await eventually(lambda: len(wh_receiver.received) >= 4)
        event_ids = wh_receiver.ids()[1:4]

        replay = await wh_client.post(f"/v1/webhook-endpoints/{endpoint['id']}/replay", json={"afterSequence": before})
        assert replay.status_code == 202 and replay.json()["queued"] == 3
        await eventually(lambda: len(wh_receiver.received) >= 7)
        # Same webhook-ids as the first time: receivers deduplicate on them. Different objects go out
        # concurrently, so only per-object order is promised.
        assert sorted(wh_receiver.ids()[4:7]) == sorted(event_ids)
        assert {r.json()["data"]["id"] for r in wh_receiver.received[4:7]} == {a["id"] for a in actors}

        async def both_logged() -> Any:
            # The receiver sees a request just before the worker records the attempt.
            found = (await wh_client.get("/v1/webhook-deliveries", params={"eventId": event_ids[0]})).json()
            return all(d["status"] == "delivered" for d in found["data"]) and found

        log = await eventually(both_logged)
        assert [d["reason"] for d in log["data"]] == ["replay", "event"]
        assert all(d["attempts"][0]["responseStatus"] == 200 for d in log["data"])
        retried = await wh_client.post(f"/v1/webhook-deliveries/{log['data'][1]['id']}/retry")
        assert retried.status_code == 202
        await eventually(lambda: len(wh_receiver.received) >= 8)
        assert wh_receiver.ids()[7] == event_ids[0]
        one = await eventually(
            lambda: _delivered_twice(wh_client, log["data"][1]["id"]),
        )
        assert len(one["attempts"]) == 2

        since = (
            await wh_client.post(
                f"/v1/webhook-endpoints/{endpoint['id']}/replay", json={"since": "2999-01-01T00:00:00Z"}
            )
        ).json()
        assert since["queued"] == 0
    missing = await wh_client.post("/v1/webhook-deliveries/whd_NOPE/retry")
    assert missing.status_code == 404


async def _delivered_twice(client: httpx.AsyncClient, delivery_id: str) -> dict[str, Any] | None:
    doc: dict[str, Any] = (await client.get(f"/v1/webhook-deliveries/{delivery_id}")).json()
    return doc if len(doc["attempts"]) == 2 and doc["status"] == "delivered" else None


async def test_large_payloads_become_thin_events(
    wh_client: httpx.AsyncClient, wh_receiver: Receiver, settings: Settings, database_url: str, conn: Any
) -> None:
    small = webhook_settings(settings, webhook_max_payload_bytes=2000, public_url="https://api.example.test")
    endpoint = await register(wh_client, wh_receiver.url(), enabledEvents=["article.created"])
    async with running_worker(small, database_url):
        article = await make_article(conn, body="The long report. " * 400)
        await eventually(lambda: len(wh_receiver.received) >= 1)
    got = wh_receiver.received[0]
    payload = Webhook(endpoint["secret"]).verify(got.body, got.headers)
    assert len(got.body) < 2000
    assert payload["data"] == {
        "id": article["id"],
        "object": "article",
        "url": f"https://api.example.test/v1/articles/{article['id']}",
    }


async def test_the_address_is_checked_again_at_delivery_time(
    wh_client: httpx.AsyncClient, wh_receiver: Receiver, settings: Settings, database_url: str, conn: Any
) -> None:
    # Registered while 127.0.0.0/8 was allowed; the worker runs without the allow-list (as after a
    # config change, or a DNS name that now points inside): it must refuse to connect.
    endpoint = await register(wh_client, wh_receiver.url(), enabledEvents=["actor.created"])
    strict = webhook_settings(settings, webhook_allowed_networks=())
    async with running_worker(strict, database_url):
        await make_actor(conn)

        async def refused() -> Any:
            log = (await wh_client.get(f"/v1/webhook-endpoints/{endpoint['id']}/deliveries")).json()
            return log["data"] and log["data"][0]["attempts"] and log["data"][0]["attempts"][0]

        attempt = await eventually(refused)
    assert attempt["outcome"] == "failed" and "refused" in attempt["error"] and "loopback" in attempt["error"]
    assert wh_receiver.received == []
    await asyncio.sleep(0)
