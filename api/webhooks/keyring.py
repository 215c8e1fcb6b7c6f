"""Where the key that seals webhook signing secrets comes from: WEBHOOK_SECRET_KEYS (required in
production), or in development a key generated once into DATA_DIR/webhook-secret-keys (mode 0600),
so ``make run`` and the tests need no setup. db/secrets.py does the sealing."""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path

from api.settings import Settings
from api.state import State
from db import webhooks
from db.secrets import SecretBox

log = logging.getLogger("newsfacts.webhooks")

KEY_FILE = "webhook-secret-keys"


def secret_box(settings: Settings) -> SecretBox:
    """The keyring for ``settings``; RuntimeError in production without WEBHOOK_SECRET_KEYS."""
    if settings.webhook_secret_keys:
        return SecretBox.parse(",".join(settings.webhook_secret_keys))
    if settings.production:
        raise RuntimeError(
            "WEBHOOK_SECRET_KEYS is required in production: create a key with `newsfacts secrets new-key`"
        )
    return SecretBox.parse(_development_key(Path(settings.data_dir) / KEY_FILE))


def _development_key(path: Path) -> str:
    """The key file's content, created first if absent (exclusively: concurrent starters share one key)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(SecretBox.new_key_spec("dev") + "\n")
        log.warning(
            "generated a development key for webhook secrets in %s (set WEBHOOK_SECRET_KEYS in production)", path
        )
    return path.read_text().strip()


async def start(state: State) -> None:
    """App start: build the keyring (failing fast in production without a key) and seal any
    endpoint still stored in plain text (rows from before migration 0005)."""
    box = secret_box(state.settings)
    state.secret_box = box
    async with state.pool.acquire() as conn:
        sealed = await webhooks.reseal(conn, box, only_unsealed=True)
    if sealed:
        log.info("sealed the signing secrets of %d webhook endpoint(s)", sealed)


def box_of(state: State) -> SecretBox:
    box = state.secret_box
    assert box is not None, "the keyring's lifespan hook has not run"
    return box
