"""Webhook signing secrets at rest: sealed with AES-GCM under WEBHOOK_SECRET_KEYS, bound to their
row, rotated previous secrets included, and re-sealed under a new key by the rotation command."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest

from db import webhooks
from db.pool import Conn
from db.secrets import SecretBox, SecretKeyError

pytestmark = pytest.mark.anyio

OLD = SecretBox.parse(SecretBox.new_key_spec("old"))


def test_a_sealed_secret_opens_only_with_its_key_and_its_row() -> None:
    sealed = OLD.seal("whsec_abc", context="whe_1")
    assert sealed.startswith("nfsec1.old.") and "whsec_abc" not in sealed
    assert OLD.open(sealed, context="whe_1") == "whsec_abc"
    with pytest.raises(SecretKeyError):
        OLD.open(sealed, context="whe_2")  # copied to another row
    with pytest.raises(SecretKeyError):
        SecretBox.parse(SecretBox.new_key_spec("old")).open(sealed, context="whe_1")  # same id, other key
    tampered = sealed[:-2] + ("A" if sealed[-2] != "A" else "B") + sealed[-1]
    with pytest.raises(SecretKeyError):
        OLD.open(tampered, context="whe_1")
    assert OLD.open("whsec_plain", context="whe_1") == "whsec_plain"  # stored before sealing


def test_key_specs_are_checked() -> None:
    for spec in ("", "nokey", "k1:c2hvcnQ=", "bad id!:" + "A" * 43):
        with pytest.raises(SecretKeyError):
            SecretBox.parse(spec)


async def _endpoint(conn: asyncpg.Connection[Any], box: SecretBox | None, secret: str) -> asyncpg.Record:
    return await webhooks.create_endpoint(
        conn, box, url="https://example.com/h", description=None, enabled_events=["*"], secret=secret, created_by=None
    )


async def test_secrets_are_stored_sealed_and_sign_as_before(conn: asyncpg.Connection[Any]) -> None:
    row = await _endpoint(conn, OLD, "whsec_first")
    stored = await conn.fetchrow("SELECT secret, secret_key_id FROM webhook_endpoints WHERE id = $1", row["id"])
    assert stored is not None and stored["secret_key_id"] == "old" and "whsec_first" not in stored["secret"]
    rotated = await webhooks.rotate_secret(conn, OLD, row["id"], "whsec_second", 3600)
    assert rotated is not None
    raw = str(dict(rotated))
    assert "whsec_first" not in raw and "whsec_second" not in raw  # previous_secrets sealed too
    now = datetime.now(UTC)
    assert webhooks.signing_secrets(rotated, now, OLD, row["id"]) == ["whsec_second", "whsec_first"]
    await conn.execute("DELETE FROM webhook_endpoints WHERE id = $1", row["id"])


async def test_rotating_the_key_reseals_every_row_and_plain_rows_get_sealed(migrated_conn: Conn) -> None:
    # A migrated database of this test's own: resealing touches every row, other tests' included.
    conn = migrated_conn
    plain = await _endpoint(conn, None, "whsec_plain")  # as a row from before migration 0005
    sealed = await _endpoint(conn, OLD, "whsec_old")
    await webhooks.rotate_secret(conn, OLD, sealed["id"], "whsec_new", 3600)
    assert await webhooks.reseal(conn, OLD, only_unsealed=True) >= 1
    new_box = SecretBox.parse(SecretBox.new_key_spec("new") + "," + _spec_of(OLD))
    assert await webhooks.reseal(conn, new_box, only_unsealed=False) >= 2
    now = datetime.now(UTC)
    for row_id, expected in ((plain["id"], ["whsec_plain"]), (sealed["id"], ["whsec_new", "whsec_old"])):
        row = await conn.fetchrow("SELECT * FROM webhook_endpoints WHERE id = $1", row_id)
        assert row is not None and row["secret_key_id"] == "new"
        only_new = SecretBox({"new": new_box.keys["new"]}, "new")  # the old key can now be dropped
        assert webhooks.signing_secrets(row, now, only_new, row_id) == expected
    await conn.execute("DELETE FROM webhook_endpoints WHERE id = ANY($1)", [plain["id"], sealed["id"]])


def _spec_of(box: SecretBox) -> str:
    import base64

    return ",".join(f"{k}:{base64.urlsafe_b64encode(v).decode()}" for k, v in box.keys.items())
