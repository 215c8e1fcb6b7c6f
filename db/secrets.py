"""Sealing stored secrets (webhook signing secrets) with AES-256-GCM, so whoever reads the table
cannot forge deliveries. A sealed value is ``nfsec1.<key id>.<base64url(nonce | ciphertext)>``,
bound to its row by the associated data (the endpoint id): a value copied to another row does not
open. Several keys may be known at once — the first seals, all open — which is how the key rotates
(``newsfacts secrets rotate-key``, docs/webhooks/secrets.md)."""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

PREFIX = "nfsec1."
KEY_BYTES = 32
NONCE_BYTES = 12
OPENED_MEMO = 4096
_KEY_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


class SecretKeyError(Exception):
    """A sealed value this box cannot open (unknown key id, tampered, moved to another row), or a bad key spec."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class SecretBox:
    """A keyring: ``current`` seals, every key in ``keys`` opens."""

    keys: Mapping[str, bytes]
    current: str
    # What open() opened, by (sealed value, context): the webhook worker opens an endpoint's secret
    # for every delivery it claims, and an AES-GCM open per delivery cost about 13 µs of its CPU.
    # A sealed value opens to the same secret under the same keys, so the memo never goes stale;
    # it is cleared when full, so it stays bounded.
    _opened: dict[tuple[str, str], str] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.current not in self.keys:
            raise SecretKeyError(f"the current key {self.current!r} is not in the keyring")
        for key_id, key in self.keys.items():
            if not _KEY_ID.match(key_id) or len(key) != KEY_BYTES:
                raise SecretKeyError(f"key {key_id!r} must be named [A-Za-z0-9_-]{{1,32}} and hold {KEY_BYTES} bytes")

    @classmethod
    def parse(cls, spec: str) -> SecretBox:
        """``id:base64key[,id:base64key…]`` — the first key seals, the others only open."""
        keys: dict[str, bytes] = {}
        for part in filter(None, (p.strip() for p in spec.split(","))):
            key_id, sep, encoded = part.partition(":")
            if not sep:
                raise SecretKeyError("each key is <id>:<base64 of 32 bytes>")
            try:
                keys[key_id] = base64.b64decode(encoded + "=" * (-len(encoded) % 4), altchars=b"-_", validate=False)
            except (binascii.Error, ValueError):
                raise SecretKeyError(f"key {key_id!r} is not base64") from None
        if not keys:
            raise SecretKeyError("no key given")
        return cls(keys, next(iter(keys)))

    @staticmethod
    def new_key_spec(key_id: str | None = None) -> str:
        """A fresh ``id:base64key`` entry (the id defaults to a random one)."""
        key_id = key_id or "k" + os.urandom(4).hex()
        return f"{key_id}:{base64.urlsafe_b64encode(AESGCM.generate_key(bit_length=256)).decode()}"

    def seal(self, secret: str, *, context: str) -> str:
        """``secret`` sealed under the current key, bound to ``context`` (the owning row's id)."""
        nonce = os.urandom(NONCE_BYTES)
        sealed = AESGCM(self.keys[self.current]).encrypt(nonce, secret.encode(), context.encode())
        return f"{PREFIX}{self.current}.{_b64(nonce + sealed)}"

    def open(self, stored: str, *, context: str) -> str:
        """The secret in a sealed value; a value stored before sealing (``whsec_…``) is returned as is."""
        if not stored.startswith(PREFIX):
            return stored
        opened = self._opened.get((stored, context))
        if opened is None:
            opened = self._open(stored, context)
            if len(self._opened) >= OPENED_MEMO:
                self._opened.clear()
            self._opened[(stored, context)] = opened
        return opened

    def _open(self, stored: str, context: str) -> str:
        key_id, _, payload = stored[len(PREFIX) :].partition(".")
        key = self.keys.get(key_id)
        if key is None:
            raise SecretKeyError(f"sealed with key {key_id!r}, which is not configured (WEBHOOK_SECRET_KEYS)")
        try:
            data = _unb64(payload)
            opened: bytes = AESGCM(key).decrypt(data[:NONCE_BYTES], data[NONCE_BYTES:], context.encode())
            return opened.decode()
        except (InvalidTag, ValueError, binascii.Error):
            raise SecretKeyError("a sealed secret does not open (tampered, or moved to another row)") from None

    def sealed_with(self, stored: str) -> str | None:
        """The key id a stored value is sealed with (None: not sealed)."""
        if not stored.startswith(PREFIX):
            return None
        return stored[len(PREFIX) :].partition(".")[0]
