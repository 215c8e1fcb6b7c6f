"""DataLoader futures are shared by every resolver asking for the same key: cancelling one waiting
resolver — graphql-core cancels the siblings of a field whose non-null error nulled their parent —
must not cancel the load under the others (their CancelledError escaped as an HTTP 500)."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest

from schema.context import Context

pytestmark = pytest.mark.anyio
SEED_ACTOR = "act_01K8B1E2G12Z4MP14DZVS18EHJ"


async def _settle(*tasks: asyncio.Task[Any]) -> None:
    await asyncio.wait(tasks, timeout=10)


async def test_a_cancelled_waiter_leaves_a_shared_fact_load_to_the_others(pool: asyncpg.Pool) -> None:
    loaders = Context(pool=pool).loaders

    async def wait_for(kind: str, fact_id: str) -> Any:
        return await loaders.fact(kind, fact_id)

    doomed = asyncio.create_task(wait_for("actor", SEED_ACTOR))
    survivor = asyncio.create_task(wait_for("actor", SEED_ACTOR))
    await asyncio.sleep(0)  # both wait on the one pending load
    doomed.cancel()
    await _settle(doomed, survivor)
    assert doomed.cancelled()
    assert survivor.result().id == SEED_ACTOR


async def test_a_cancelled_waiter_leaves_a_shared_list_load_to_the_others(pool: asyncpg.Pool) -> None:
    loaders = Context(pool=pool).loaders

    async def many() -> Any:
        return await loaders.facts("actor", [SEED_ACTOR])

    doomed, survivor = asyncio.create_task(many()), asyncio.create_task(many())
    await asyncio.sleep(0)
    doomed.cancel()
    await _settle(doomed, survivor)
    assert doomed.cancelled()
    assert [o.id for o in survivor.result()] == [SEED_ACTOR]
