"""Who is calling: ``Authorization: Bearer <api key>`` → Principal, shared by REST, GraphQL and
WebSocket/SSE. Anonymous callers may read when ANONYMOUS_READS is on (the default).

Key lookups are cached in-process for KEY_CACHE_SECONDS: a revoked key keeps working on a server
process for at most that long, in exchange for no database round trip per request."""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from typing import cast

from starlette.requests import HTTPConnection
from starlette.types import Scope

from api.state import State, state_of
from db import keys
from db.errors import Forbidden, Unauthenticated, from_database

KEY_CACHE_SECONDS = 30.0
_CACHE_MAX = 10_000
SCOPE_KEY = "newsfacts.principal"  # the authenticated caller, memoised on the request's scope


@dataclass(frozen=True)
class Principal:
    """The caller: an API key (id and scope) or anonymous, plus the client address for rate limits."""

    key_id: str | None
    scope: str | None
    client: str

    @property
    def anonymous(self) -> bool:
        return self.key_id is None

    @functools.cached_property
    def rate_key(self) -> str:
        """What rate limits count against: the key, or the client address for anonymous callers."""
        return f"key:{self.key_id}" if self.key_id else f"ip:{self.client}"

    def allows(self, scope: str) -> bool:
        return self.scope is not None and keys.SCOPE_RANK[self.scope] >= keys.SCOPE_RANK[scope]


class KeyCache:
    """A small TTL cache of secret-hash → ApiKey (or None for unknown secrets), per process."""

    def __init__(self) -> None:
        self._entries: dict[bytes, tuple[float, keys.ApiKey | None]] = {}

    def get(self, digest: bytes) -> tuple[bool, keys.ApiKey | None]:
        entry = self._entries.get(digest)
        if entry is None or entry[0] < time.monotonic():
            return False, None
        return True, entry[1]

    def forget(self, key_id: str) -> None:
        """Drops a revoked key at once in this process (other processes follow within the TTL)."""
        for digest in [d for d, (_, k) in self._entries.items() if k is not None and k.id == key_id]:
            del self._entries[digest]

    def put(self, digest: bytes, key: keys.ApiKey | None) -> None:
        if len(self._entries) >= _CACHE_MAX:
            self._entries.clear()
        self._entries[digest] = (time.monotonic() + KEY_CACHE_SECONDS, key)


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer`` header; raises Unauthenticated for other schemes."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("use 'Authorization: Bearer <api key>'")
    return token.strip()


async def principal_for_token(state: State, token: str | None, client: str) -> Principal:
    """The Principal for an API key secret (None: anonymous); an unknown or revoked key is refused."""
    if token is None:
        return Principal(None, None, client)
    cache = state.key_cache
    if cache is None:
        cache = state.key_cache = KeyCache()
    digest = keys.hash_secret(token)
    hit, key = cache.get(digest)
    if not hit:
        try:
            async with state.pool.acquire() as conn:
                key = await keys.authenticate(conn, token)
        except Exception as exc:
            # An outage while looking the key up is UNAVAILABLE, a NewsfactsError: the middleware
            # that authenticate early (rate limits, cache) treat it like any refusal, and the
            # handler answers it as a 503 with Retry-After (REST) or extensions.code (GraphQL).
            mapped = from_database(exc)
            if mapped is None:
                raise
            raise mapped from exc
        cache.put(digest, key)
    if key is None:
        raise Unauthenticated("the API key is unknown or revoked")
    return Principal(key.id, key.scope, client)


async def authenticate(conn: HTTPConnection) -> Principal:
    """The Principal of a request or WebSocket handshake (memoised on its scope)."""
    return await authenticate_scope(conn.scope)


async def authenticate_scope(scope: Scope) -> Principal:
    """The same from the raw ASGI scope, as middleware hold it: no connection object, and one pass
    over the raw headers (every request is authenticated this way, usually by the rate limiter)."""
    known = known_principal(scope)
    if known is not None:
        return known
    authorization = _authorization(scope)
    assert authorization is not None  # known_principal answers every request without one
    token = bearer_token(authorization.decode("latin-1"))
    principal = await principal_for_token(state_of(scope), token, _host(scope))
    scope[SCOPE_KEY] = principal
    return principal


def known_principal(scope: Scope) -> Principal | None:
    """The caller when no lookup is needed (already authenticated, or anonymous), else None: the
    hot path's callers skip a coroutine with it."""
    cached = scope.get(SCOPE_KEY)
    if cached is not None:
        return cast(Principal, cached)
    if _authorization(scope) is not None:
        return None
    principal = scope[SCOPE_KEY] = _anonymous(_host(scope))
    return principal


def _authorization(scope: Scope) -> bytes | None:
    """The request's Authorization header (the first, if repeated)."""
    for name, value in scope["headers"]:
        if name == b"authorization":
            return cast(bytes, value)
    return None


def _host(scope: Scope) -> str:
    client = scope.get("client")
    return client[0] if client else "unknown"


@functools.lru_cache(maxsize=4_096)
def _anonymous(host: str) -> Principal:
    """One Principal per anonymous client address (and its rate key, made once)."""
    return Principal(None, None, host)


def require(principal: Principal, scope: str, *, anonymous_reads: bool) -> None:
    """Refuse unless ``principal`` may act with ``scope`` (anonymous callers may only read, if allowed)."""
    if principal.anonymous:
        if scope == "read" and anonymous_reads:
            return
        raise Unauthenticated(f"this needs an API key with the {scope} scope")
    if not principal.allows(scope):
        raise Forbidden(f"this needs the {scope} scope; the key has {principal.scope}")
