"""The retry rules on their own (schedule, jitter, Retry-After, giving up) and a delivery that
exhausts its schedule against a real receiver and ends as failed, its attempts all logged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest

from api.settings import Settings
from api.webhooks import signing
from api.webhooks.delivery import AddressPolicy, next_delay, parse_retry_after
from tests.api.webhook_receiver import Answer, Receiver, eventually, register, running_worker, webhook_settings
from tests.factories import make_actor


def test_the_default_schedule_is_standard_webhooks_and_lasts_about_three_days() -> None:
    settings = Settings()
    steps = [float(s) for s in settings.webhook_retry_schedule]
    assert steps[:8] == [0, 5, 300, 1800, 7200, 18000, 36000, 36000]
    assert 2.5 * 86400 < sum(steps) < 3.5 * 86400
    for done, step in enumerate(steps[1:], start=1):
        delay = next_delay(settings, done, None)
        assert delay is not None and 0.8 * step <= delay <= 1.2 * step  # ±20 % jitter
    assert next_delay(settings, len(steps), None) is None  # schedule exhausted: give up


def test_retry_after_is_a_floor_and_is_capped() -> None:
    settings = Settings(webhook_retry_after_max_seconds=600)
    asked = next_delay(settings, 1, 120.0)  # the schedule says ~5 s
    assert asked is not None and asked >= 120
    capped = next_delay(settings, 1, 86_400.0)
    assert capped is not None and capped == 600
    now = datetime.now(UTC).timestamp()
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=90), usegmt=True)
    parsed = parse_retry_after(when, now)
    assert parsed is not None and 85 <= parsed <= 91
    assert parse_retry_after("30", now) == 30
    assert parse_retry_after("soon", now) is None and parse_retry_after(None, now) is None


def test_address_policy() -> None:
    import ipaddress

    strict = AddressPolicy()
    for address in ("127.0.0.1", "10.0.0.8", "172.16.3.4", "192.168.1.1", "169.254.169.254", "::1", "fd00::1",
                    "0.0.0.0", "224.0.0.1", "::ffff:127.0.0.1", "100.64.0.1"):  # fmt: skip
        assert strict.refusal(ipaddress.ip_address(address)) is not None, address
    assert strict.refusal(ipaddress.ip_address("93.184.215.14")) is None
    allowed = AddressPolicy((ipaddress.ip_network("10.0.0.0/8"),))
    assert allowed.refusal(ipaddress.ip_address("10.1.2.3")) is None
    assert allowed.refusal(ipaddress.ip_address("127.0.0.1")) is not None


def test_secrets_and_signatures() -> None:
    secret = signing.new_secret()
    assert secret.startswith("whsec_") and len(signing.secret_key(secret)) == 32
    headers = signing.headers([secret, signing.new_secret()], "evt_1", 1_700_000_000, b"{}")
    assert headers["webhook-id"] == "evt_1" and headers["webhook-timestamp"] == "1700000000"
    assert [part[:3] for part in headers["webhook-signature"].split(" ")] == ["v1,", "v1,"]
    for bad in ("nope", "whsec_!!!", "whsec_AAAA"):
        with pytest.raises(ValueError):
            signing.secret_key(bad)


@pytest.mark.anyio
async def test_a_delivery_that_exhausts_its_schedule_ends_failed(
    wh_client: httpx.AsyncClient, settings: Settings, database_url: str, conn: Any
) -> None:
    short = webhook_settings(settings, webhook_retry_schedule=("0", "0.1", "0.1"))
    receiver = Receiver(lambda item, n: Answer(500, body=b"broken")).start()
    try:
        endpoint = await register(wh_client, receiver.url(), enabledEvents=["actor.created"])
        async with running_worker(short, database_url):
            await make_actor(conn)

            async def failed() -> Any:
                found = (await wh_client.get(f"/v1/webhook-endpoints/{endpoint['id']}/deliveries")).json()["data"]
                return found and found[0]["status"] == "failed" and found[0]

            delivery = await eventually(failed)
    finally:
        receiver.stop()
    assert delivery["attemptCount"] == 3 and len(receiver.received) == 3
    assert delivery["nextAttemptAt"] is None and delivery["lastError"] == "HTTP 500"
    doc = (await wh_client.get(f"/v1/webhook-endpoints/{endpoint['id']}")).json()
    assert doc["status"] == "enabled" and doc["failingSince"] is not None


def test_the_worker_backs_off_while_the_database_is_away_and_resets_on_success() -> None:
    from api.webhooks.worker import Backoff

    backoff = Backoff(cap=10.0)
    waits = [backoff.failed() for _ in range(8)]
    assert waits == sorted(waits) and waits[0] == 0.5 and waits[-1] == 10.0
    backoff.succeeded()
    assert backoff.failed() == 0.5
