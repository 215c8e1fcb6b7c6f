"""Rate limits for every surface (REST and /graphql), per API key or, for anonymous callers, per
client address. Counts live in Redis, so all server processes share them; a window opens at a
caller's first request and lasts RATE_LIMIT_WINDOW_SECONDS.

A process does not ask Redis on every request: it *leases* a small block of the caller's tokens
(limit/50, at most 1,000; one at a time once the window is nearly spent) in one atomic Lua call and
spends it locally. Redis never grants more than the limit in total, so no caller gets past it; the
price is that tokens leased by one process and left unused there cannot serve another process
until the window resets (at most limit/50 per process, and only leased while plenty were left).

A 304 is refunded (revalidating costs nothing). If Redis is unreachable, each process counts on its
own with the same limits (so N processes together allow up to N times the limit) until Redis is back.
Responses carry the IETF ``RateLimit-Policy`` and ``RateLimit`` headers."""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from api import problems
from api.auth import authenticate_scope, known_principal
from api.exchange import exchange_of
from api.settings import Settings
from api.state import state_of
from db.errors import NewsfactsError

log = logging.getLogger("newsfacts.ratelimit")

SCOPE_KEY = "newsfacts.ratelimit"
LIMITED_PREFIXES = ("/v1", "/graphql")
REDIS_TIMEOUT = 0.5
REDIS_RETRY_AFTER = 2.0  # seconds of local counting after a Redis failure before trying it again
_LOCAL_MAX = 50_000

# Lease up to ARGV[3] of the caller's tokens, never past the limit ARGV[2]; near the limit lease
# one at a time so processes share the rest fairly. Opens the window (ARGV[1] ms) on first use.
# Returns {tokens granted so far in this window, ms left, tokens granted by this call}.
_LUA = """
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
local free = tonumber(ARGV[2]) - n
local want = tonumber(ARGV[3])
local grant = 0
if free > 0 then
  if free < want * 4 then want = 1 end
  grant = math.min(want, free)
end
n = redis.call('INCRBY', KEYS[1], grant)
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {n, ttl, grant}
"""


@dataclass
class _Lease:
    """Tokens of one caller this process may still spend in the current window."""

    expires: float  # time.monotonic() at which the window ends
    left: int
    granted_total: int  # all tokens Redis had handed out in this window, after our last lease


# A lease call costs this process about 250 us of CPU (redis-py, the Lua call, the shared
# future): at 100 tokens a lease that was 2.6 us of every request of a caller with a large limit.
LEASE_MAX = 1_000


def lease_size(limit: int) -> int:
    """2% of the limit (so a process strands at most that much of it), at most LEASE_MAX."""
    return max(1, min(LEASE_MAX, limit // 50))


@dataclass(slots=True)  # not frozen: a frozen dataclass's __init__ costs a setattr call per field
class Decision:
    policy: str
    limit: int
    remaining: int
    reset: int
    window: int
    backend: str
    allowed: bool
    counter: str

    def headers(self) -> list[tuple[bytes, bytes]]:
        return [
            _policy_header(self.policy, self.limit, self.window),
            (b"ratelimit", f'"{self.policy}";r={self.remaining};t={self.reset}'.encode()),
        ]


@functools.lru_cache(maxsize=64)  # a policy's header never changes: made once, not per response
def _policy_header(policy: str, limit: int, window: int) -> tuple[bytes, bytes]:
    return (b"ratelimit-policy", f'"{policy}";q={limit};w={window}'.encode())


class RateLimiter:
    """Counts hits per caller in Redis, or in this process while Redis is unreachable."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.window = max(1, settings.rate_limit_window_seconds)
        self._local: dict[str, list[float]] = {}
        self._leases: dict[str, _Lease] = {}
        self._asking: dict[str, asyncio.Future[_Lease | None]] = {}  # lease requests in flight, by counter
        self._names: dict[str, tuple[str, int, str]] = {}  # rate key → (policy, limit, counter)
        self._redis_down_until = 0.0
        self._script: Any = None
        self._script_client: Any = None

    def _policy(self, rate_key: str) -> tuple[str, int]:
        if rate_key.startswith("key:"):
            return "per-key", self.settings.key_rate_limit
        return "per-address", self.settings.anonymous_rate_limit

    def counter(self, rate_key: str) -> str:
        # The limit and window are part of the name, so a changed policy starts fresh counts.
        _, limit = self._policy(rate_key)
        return f"nf:rl:{limit}/{self.window}:{rate_key}"

    async def hit(self, redis: Any, rate_key: str) -> Decision:
        decision = self.hit_leased(rate_key)
        if decision is not None:
            return decision
        policy, limit = self._policy(rate_key)
        counter = self.counter(rate_key)
        now = time.monotonic()
        lease = self._leases.get(counter)
        while lease is None or lease.expires <= now or (lease.left <= 0 and lease.granted_total < limit):
            lease = await self._lease_once(redis, counter, limit, now)
            # Waiters share one answer: one that finds it spent while Redis still has tokens
            # (a one-token lease near the limit) asks again rather than being refused.
            if lease is None or lease.left > 0 or lease.granted_total >= limit:
                break
            now = time.monotonic()
        if lease is None:  # Redis is unreachable: count in this process
            count, ms_left = self._local_hit(counter)
            reset = max(1, -(-int(ms_left) // 1000))
            return Decision(policy, limit, max(0, limit - count), reset, self.window, "local", count <= limit, counter)
        allowed = lease.left > 0
        if allowed:
            lease.left -= 1
        remaining = max(0, limit - lease.granted_total) + lease.left
        reset = max(1, -(-int((lease.expires - now) * 1000) // 1000))
        return Decision(policy, limit, remaining, reset, self.window, "redis", allowed, counter)

    def hit_leased(self, rate_key: str) -> Decision | None:
        """The decision when this process's lease for the caller has a token left (most requests):
        no Redis call, no coroutine; None when a lease must be asked for (``hit`` does)."""
        found = self._names.get(rate_key)
        if found is None:
            if len(self._names) >= _LOCAL_MAX:
                self._names.clear()
            policy, limit = self._policy(rate_key)
            found = self._names[rate_key] = (policy, limit, self.counter(rate_key))
        policy, limit, counter = found
        lease = self._leases.get(counter)
        now = time.monotonic()
        if lease is None or lease.expires <= now or lease.left <= 0:
            return None
        lease.left -= 1
        remaining = max(0, limit - lease.granted_total) + lease.left
        reset = max(1, -(-int((lease.expires - now) * 1000) // 1000))
        return Decision(policy, limit, remaining, reset, self.window, "redis", True, counter)

    async def _lease_once(self, redis: Any, counter: str, limit: int, now: float) -> _Lease | None:
        """A lease for ``counter``, asked of Redis once however many requests need it at the same
        moment: when a lease ran out under eight concurrent connections, each asked Redis itself
        (a Lua call costs about 120 us of this process's CPU) and all but the last lease were
        stranded."""
        asking = self._asking.get(counter)
        # A finished request is stale: its done-callback drops it only on the loop's next turn, and
        # a waiter that found its lease spent looped back here without yielding, awaiting the same
        # finished future forever at 100% CPU (the overview page's parallel requests hit it).
        if asking is None or asking.done():
            asking = self._asking[counter] = asyncio.ensure_future(self._lease(redis, counter, limit, now))
            asking.add_done_callback(lambda _: self._asking.pop(counter, None))
        # Shielded: one waiter cancelled (its client went away) must not cancel the others' lease.
        return await asyncio.shield(asking)

    async def _lease(self, redis: Any, counter: str, limit: int, now: float) -> _Lease | None:
        if now < self._redis_down_until:
            return None
        try:
            if self._script is None or self._script_client is not redis:
                self._script, self._script_client = redis.register_script(_LUA), redis
            async with asyncio.timeout(REDIS_TIMEOUT):
                total, ms_left, granted = await self._script(
                    keys=[counter], args=[self.window * 1000, limit, lease_size(limit)]
                )
        except Exception as exc:  # any Redis failure degrades to local counting, never to a 5xx
            log.warning("rate limits: Redis unavailable (%s); counting in-process", type(exc).__name__)
            self._redis_down_until = time.monotonic() + REDIS_RETRY_AFTER
            return None
        if len(self._leases) >= _LOCAL_MAX:
            self._leases = {k: v for k, v in self._leases.items() if v.expires > now}
        lease = self._leases[counter] = _Lease(now + int(ms_left) / 1000, int(granted), int(total))
        return lease

    def _local_hit(self, counter: str) -> tuple[int, int]:
        now = time.monotonic()
        entry = self._local.get(counter)
        if entry is None or entry[0] <= now:
            if len(self._local) >= _LOCAL_MAX:
                self._local = {k: v for k, v in self._local.items() if v[0] > now}
            entry = self._local[counter] = [now + self.window, 0]
        entry[1] += 1
        return int(entry[1]), int((entry[0] - now) * 1000)

    def refund(self, decision: Decision) -> None:
        """Give a request's token back (a 304). Tokens come from this process' lease or local
        count, so no Redis call is needed; a lease that expired meanwhile keeps nothing to return."""
        if decision.backend == "redis":
            lease = self._leases.get(decision.counter)
            if lease is not None and lease.expires > time.monotonic():
                lease.left += 1
            return
        entry = self._local.get(decision.counter)
        if entry is not None and entry[1] > 0:
            entry[1] -= 1


class RateLimitMiddleware:
    """Pure ASGI: charges each request under /v1 and /graphql, answers 429 once the window is spent."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.limiter = RateLimiter(settings)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or scope["method"] == "OPTIONS" or not path.startswith(LIMITED_PREFIXES):
            await self.app(scope, receive, send)
            return
        try:
            rate_key = (known_principal(scope) or await authenticate_scope(scope)).rate_key
        except NewsfactsError:
            # A bad key is refused by the handler; until then it counts against the address.
            client = scope.get("client")
            rate_key = f"ip:{client[0] if client else 'unknown'}"
        decision = self.limiter.hit_leased(rate_key) or await self.limiter.hit(state_of(scope).redis, rate_key)
        scope[SCOPE_KEY] = decision
        if not decision.allowed:
            await self._reject(scope, receive, send, decision, graphql=path.startswith("/graphql"))
            return
        exchange = exchange_of(scope)
        exchange.headers += decision.headers()
        try:
            await self.app(scope, receive, send)
        finally:
            if exchange.status == 304:
                self.limiter.refund(decision)

    async def _reject(self, scope: Scope, receive: Receive, send: Send, decision: Decision, *, graphql: bool) -> None:
        detail = f"rate limit of {decision.limit} requests per {decision.window}s exceeded; retry in {decision.reset}s"
        headers = {"Retry-After": str(decision.reset)}
        for name, value in decision.headers():
            headers[name.decode()] = value.decode()
        if graphql:
            body = {
                "errors": [{"message": detail, "extensions": {"code": "RATE_LIMITED", "retryAfter": decision.reset}}]
            }
            response = Response(orjson.dumps(body), status_code=429, media_type="application/json", headers=headers)
        else:
            response = problems.problem(
                429, "RATE_LIMITED", "Too many requests", detail, instance=scope.get("path"), headers=headers
            )
        await response(scope, receive, send)
