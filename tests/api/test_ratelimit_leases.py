"""Token leases against a real Redis: processes spend leased blocks locally, yet together never let
a caller past the limit, and refuse early by at most what other processes still hold."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import pytest
import redis.asyncio as aioredis

from api.ratelimit import RateLimiter, lease_size
from api.settings import Settings

pytestmark = pytest.mark.anyio


async def test_two_processes_never_grant_more_than_the_limit(redis: aioredis.Redis) -> None:
    limit = 500
    settings = Settings(rate_limit_key=limit, rate_limit_window_seconds=60)
    first, second = RateLimiter(settings), RateLimiter(settings)
    caller = f"key:key_{uuid.uuid4().hex}"
    allowed = 0
    for i in range(2 * limit):
        decision = await (first if i % 3 else second).hit(redis, caller)
        allowed += decision.allowed
        assert decision.remaining >= 0
    assert allowed <= limit
    # Each process may hold back at most one unspent lease.
    assert allowed >= limit - 2 * lease_size(limit)
    assert int(await redis.get(first.counter(caller))) <= limit


@pytest.mark.parametrize(
    ("limit", "lease"),
    [
        (5_000, 100),  # 2% of the limit
        # A lease call costs ~250 us of CPU: at 100 tokens a lease, 2.6 us of every request.
        (1_000_000_000, 1_000),
    ],
)
async def test_a_lease_spares_redis_most_round_trips(redis: aioredis.Redis, limit: int, lease: int) -> None:
    settings = Settings(rate_limit_key=limit, rate_limit_window_seconds=60)
    limiter = RateLimiter(settings)
    caller = f"key:key_{uuid.uuid4().hex}"
    for _ in range(lease):
        assert (await limiter.hit(redis, caller)).allowed
    # As many requests as one lease holds: Redis handed out one block.
    assert int(await redis.get(limiter.counter(caller))) == lease_size(limit) == lease


async def test_a_refund_returns_the_token_to_the_lease(redis: aioredis.Redis) -> None:
    settings = Settings(rate_limit_key=3, rate_limit_window_seconds=60)
    limiter = RateLimiter(settings)
    caller = f"key:key_{uuid.uuid4().hex}"
    decisions = [await limiter.hit(redis, caller) for _ in range(3)]
    assert all(d.allowed for d in decisions)
    assert not (await limiter.hit(redis, caller)).allowed
    limiter.refund(decisions[-1])
    assert (await limiter.hit(redis, caller)).allowed


async def test_concurrent_requests_share_one_lease_request(redis: aioredis.Redis) -> None:
    # Fifty requests arrive together with no lease: before, each asked Redis for a block of its
    # own (fifty blocks of 100 tokens granted for fifty requests, all but one stranded).
    settings = Settings(rate_limit_key=5_000, rate_limit_window_seconds=60)
    limiter = RateLimiter(settings)
    caller = f"key:key_{uuid.uuid4().hex}"
    decisions = await asyncio.gather(*(limiter.hit(redis, caller) for _ in range(50)))
    assert all(d.allowed for d in decisions)
    assert int(await redis.get(limiter.counter(caller))) == lease_size(5_000)


async def test_waiters_on_a_one_token_lease_ask_again_instead_of_being_refused(redis: aioredis.Redis) -> None:
    # Near the limit a lease is one token; requests that waited on it and found it taken ask
    # Redis again while it has tokens left, so exactly the limit is allowed, no fewer.
    limit = 20
    settings = Settings(rate_limit_key=limit, rate_limit_window_seconds=60)
    limiter = RateLimiter(settings)
    caller = f"key:key_{uuid.uuid4().hex}"
    decisions = await asyncio.gather(*(limiter.hit(redis, caller) for _ in range(limit + 5)))
    assert sum(d.allowed for d in decisions) == limit
    assert int(await redis.get(limiter.counter(caller))) == limit


async def test_a_finished_lease_request_is_not_awaited_again(redis: aioredis.Redis) -> None:
    # Between a lease request finishing and its done-callback dropping it (the loop's next turn), a
    # waiter that found the lease spent asked again and got the same finished request: a spent
    # lease, again and again, without ever yielding — one core at 100% until the process died.
    limit = 1_000
    limiter = RateLimiter(Settings(rate_limit_key=limit, rate_limit_window_seconds=60))
    caller = f"key:key_{uuid.uuid4().hex}"
    counter = limiter.counter(caller)
    assert (await limiter.hit(redis, caller)).allowed
    spent = limiter._leases[counter]
    spent.left = 0
    finished: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    finished.set_result(spent)
    limiter._asking[counter] = finished
    lease = await limiter._lease_once(redis, counter, limit, time.monotonic())
    assert lease is not None and lease is not spent and lease.left > 0
    assert (await limiter.hit(redis, caller)).allowed
