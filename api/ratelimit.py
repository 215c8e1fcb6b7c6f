"""Rate limits for every surface (REST and /graphql), per API key or, for anonymous callers, per
client address. Counts live in Redis (one atomic Lua call per request), so all server processes
share them; a window opens at a caller's first request and lasts RATE_LIMIT_WINDOW_SECONDS.

A 304 is refunded (revalidating costs nothing). If Redis is unreachable, each process counts on its
own with the same limits (so N processes together allow up to N times the limit) until Redis is back.
Responses carry the IETF ``RateLimit-Policy`` and ``RateLimit`` headers."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.requests import HTTPConnection
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import problems
from api.auth import authenticate
from api.settings import Settings
from db.errors import NewsfactsError

log = logging.getLogger("newsfacts.ratelimit")

SCOPE_KEY = "newsfacts.ratelimit"
LIMITED_PREFIXES = ("/v1", "/graphql")
REDIS_TIMEOUT = 0.5
REDIS_RETRY_AFTER = 2.0  # seconds of local counting after a Redis failure before trying it again
_LOCAL_MAX = 50_000

# INCR the caller's counter, opening the window on the first hit; returns {count, ms left}.
_LUA = """
local n = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if n == 1 or ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {n, ttl}
"""


@dataclass(frozen=True)
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
            (b"ratelimit-policy", f'"{self.policy}";q={self.limit};w={self.window}'.encode()),
            (b"ratelimit", f'"{self.policy}";r={self.remaining};t={self.reset}'.encode()),
        ]


class RateLimiter:
    """Counts hits per caller in Redis, or in this process while Redis is unreachable."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.window = max(1, settings.rate_limit_window_seconds)
        self._local: dict[str, list[float]] = {}
        self._redis_down_until = 0.0
        self._script: Any = None
        self._script_client: Any = None

    def _policy(self, rate_key: str) -> tuple[str, int]:
        if rate_key.startswith("key:"):
            return "per-key", self.settings.rate_limit_key
        return "per-address", self.settings.rate_limit_anonymous

    def counter(self, rate_key: str) -> str:
        # The limit and window are part of the name, so a changed policy starts fresh counts.
        _, limit = self._policy(rate_key)
        return f"nf:rl:{limit}/{self.window}:{rate_key}"

    async def hit(self, redis: Any, rate_key: str) -> Decision:
        policy, limit = self._policy(rate_key)
        counter = self.counter(rate_key)
        count, ms_left, backend = None, 0, "redis"
        if time.monotonic() >= self._redis_down_until:
            try:
                if self._script is None or self._script_client is not redis:
                    self._script, self._script_client = redis.register_script(_LUA), redis
                async with asyncio.timeout(REDIS_TIMEOUT):
                    count, ms_left = await self._script(keys=[counter], args=[self.window * 1000])
            except Exception as exc:  # any Redis failure degrades to local counting, never to a 5xx
                log.warning("rate limits: Redis unavailable (%s); counting in-process", type(exc).__name__)
                self._redis_down_until = time.monotonic() + REDIS_RETRY_AFTER
                count = None
        if count is None:
            backend = "local"
            count, ms_left = self._local_hit(counter)
        count = int(count)
        reset = max(1, -(-int(ms_left) // 1000))
        return Decision(policy, limit, max(0, limit - count), reset, self.window, backend, count <= limit, counter)

    def _local_hit(self, counter: str) -> tuple[int, int]:
        now = time.monotonic()
        entry = self._local.get(counter)
        if entry is None or entry[0] <= now:
            if len(self._local) >= _LOCAL_MAX:
                self._local = {k: v for k, v in self._local.items() if v[0] > now}
            entry = self._local[counter] = [now + self.window, 0]
        entry[1] += 1
        return int(entry[1]), int((entry[0] - now) * 1000)

    async def refund(self, redis: Any, decision: Decision) -> None:
        if decision.backend == "local":
            entry = self._local.get(decision.counter)
            if entry is not None and entry[1] > 0:
                entry[1] -= 1
            return
        try:
            async with asyncio.timeout(REDIS_TIMEOUT):
                await redis.decr(decision.counter)
        except Exception:  # a lost refund only makes the limit slightly stricter
            log.debug("rate limits: refund failed", exc_info=True)


class RateLimitMiddleware:
    """Pure ASGI: charges each request under /v1 and /graphql, answers 429 once the window is spent."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.limiter = RateLimiter(settings)
        self._tasks: set[asyncio.Task[None]] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or scope["method"] == "OPTIONS" or not path.startswith(LIMITED_PREFIXES):
            await self.app(scope, receive, send)
            return
        conn = HTTPConnection(scope)
        try:
            rate_key = (await authenticate(conn)).rate_key
        except NewsfactsError:
            # A bad key is refused by the handler; until then it counts against the address.
            rate_key = f"ip:{conn.client.host if conn.client else 'unknown'}"
        redis = scope["app"].state.newsfacts.redis
        decision = await self.limiter.hit(redis, rate_key)
        scope[SCOPE_KEY] = decision
        if not decision.allowed:
            await self._reject(scope, receive, send, decision, graphql=path.startswith("/graphql"))
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *decision.headers()]
                if message["status"] == 304:
                    task = asyncio.create_task(self.limiter.refund(redis, decision))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
            await send(message)

        await self.app(scope, receive, send_with_headers)

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
