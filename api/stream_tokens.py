"""Stream tokens: what a browser's ``EventSource`` (which cannot send headers) authenticates
``GET /v1/events/stream?token=…`` with, so an API key never travels in a URL. A page's server
mints one with its key (``POST /v1/events/tokens``) and hands it to the page.

A token is ``nfst_<key id>.<expiry>.<mac>``: an HMAC-SHA256 of the key id and expiry, keyed with
the API key's stored hash. No shared server secret is needed (every process can check it from the
database), revoking the key voids its tokens, and the token grants read scope on the event stream
only — nothing else accepts it. Read scope whatever the key's: a token travels in a URL (browser
history, proxies), so it reads under the recall rules as a read-scope key does."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

from api.auth import Principal
from api.state import State
from db import keys
from db.errors import Unauthenticated

PREFIX = "nfst_"
_CONTEXT = b"newsfacts stream token v1:"


def _mac(key_hash: bytes, key_id: str, expires: int) -> str:
    digest = hmac.new(key_hash, _CONTEXT + f"{key_id}.{expires}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:24]).decode().rstrip("=")


def mint(key_id: str, key_hash: bytes, expires: int) -> str:
    return f"{PREFIX}{key_id}.{expires}.{_mac(key_hash, key_id, expires)}"


async def issue(state: State, principal: Principal) -> tuple[str, int]:
    """A token for ``principal``'s key and its expiry (unix seconds); anonymous callers get none."""
    if principal.key_id is None:
        raise Unauthenticated("a stream token is minted with an API key: send 'Authorization: Bearer <key>'")
    async with state.pool.acquire() as conn:
        found = await keys.live_hash(conn, principal.key_id)
    if found is None:
        raise Unauthenticated("the API key is unknown or revoked")
    expires = int(time.time()) + state.settings.stream_token_seconds
    return mint(principal.key_id, found[1], expires), expires


async def principal_for(state: State, token: str, client: str) -> Principal:
    """The caller a stream token stands for; Unauthenticated when it is malformed, expired, forged,
    or its key is revoked."""
    key_id, _, rest = token.removeprefix(PREFIX).partition(".")
    expires_text, _, mac = rest.partition(".")
    if not token.startswith(PREFIX) or not key_id or not expires_text.isdigit() or not mac:
        raise Unauthenticated("the stream token is malformed; mint one with POST /v1/events/tokens")
    expires = int(expires_text)
    if expires < time.time():
        raise Unauthenticated("the stream token has expired; mint a new one with POST /v1/events/tokens")
    async with state.pool.acquire() as conn:
        found = await keys.live_hash(conn, key_id)
    if found is None or not hmac.compare_digest(_mac(found[1], key_id, expires), mac):
        raise Unauthenticated("the stream token is not valid (or its API key was revoked)")
    # Read scope, whatever the key's (the module's docstring): the recall rules apply.
    return Principal(found[0].id, "read", client)
