"""Where the sealing key comes from (api/webhooks/keyring.py) and the documented rotation with the
``newsfacts secrets`` commands, run as a user runs them."""

from __future__ import annotations

import stat
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from api.settings import Settings
from api.webhooks import keyring
from db import webhooks
from db.secrets import SecretBox
from tests.api.test_cli import db_env, newsfacts
from tests.services import TEST_SECRET_KEYS

__all__ = ["db_env"]  # the CLI tests' fixture, used here too


def test_development_generates_one_private_key_into_the_data_folder(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    first = keyring.secret_box(settings)
    path = tmp_path / keyring.KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    second = keyring.secret_box(settings)  # a restart, or a second process: the same key
    assert first.keys == second.keys and first.current == "dev"


def test_production_refuses_to_start_without_a_key(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="WEBHOOK_SECRET_KEYS is required in production"):
        keyring.secret_box(Settings(environment="production", data_dir=tmp_path))
    assert not (tmp_path / keyring.KEY_FILE).exists()
    given = keyring.secret_box(Settings(environment="production", webhook_secret_keys=(TEST_SECRET_KEYS,)))
    assert given.current == "test"


@pytest.mark.anyio
async def test_the_documented_key_rotation_reseals_every_endpoint(
    db_env: dict[str, str], conn: asyncpg.Connection[Any]
) -> None:
    old = SecretBox.parse(TEST_SECRET_KEYS)
    row = await webhooks.create_endpoint(
        conn, old, url="https://example.com/h", description=None, enabled_events=["*"], secret="whsec_x",
        created_by=None,
    )  # fmt: skip
    new_key = newsfacts("secrets", "new-key", "--id", "k2", env=db_env)
    assert new_key.returncode == 0 and new_key.stdout.decode().startswith("k2:")
    both = f"{new_key.stdout.decode().strip()},{TEST_SECRET_KEYS}"
    rotated = newsfacts("secrets", "rotate-key", env={**db_env, "WEBHOOK_SECRET_KEYS": both})
    assert rotated.returncode == 0, rotated.stderr.decode()[-2000:]
    stored = await conn.fetchrow("SELECT * FROM webhook_endpoints WHERE id = $1", row["id"])
    assert stored is not None and stored["secret_key_id"] == "k2"
    only_new = SecretBox.parse(new_key.stdout.decode().strip())  # the old key may now be dropped
    assert webhooks.signing_secrets(stored, datetime.now(UTC), only_new, row["id"]) == ["whsec_x"]
    # Put the session's key back for the module's other users of this database.
    await webhooks.reseal(
        conn, SecretBox.parse(f"{TEST_SECRET_KEYS},{new_key.stdout.decode().strip()}"), only_unsealed=False
    )
