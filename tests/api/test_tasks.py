"""Stopping a background task ends it, even when a cancellation is lost on the way (api/tasks.py)."""

from __future__ import annotations

import asyncio

import pytest

from api.tasks import cancel_and_wait

pytestmark = pytest.mark.anyio


async def test_a_task_that_loses_a_cancellation_is_cancelled_again_until_it_ends() -> None:
    lost = 0

    async def loop() -> None:
        nonlocal lost
        while True:
            try:
                await asyncio.sleep(0.01)
            except asyncio.CancelledError:
                # As Python 3.11's asyncio.wait_for does when the call it waits on has just
                # completed: the cancellation is dropped and the caller's loop goes on.
                if lost < 2:
                    lost += 1
                    continue
                raise

    task = asyncio.create_task(loop())
    await asyncio.sleep(0.05)
    await asyncio.wait_for(cancel_and_wait(task), timeout=10)
    assert task.cancelled() and lost == 2


async def test_a_task_that_failed_or_already_ended_stops_quietly() -> None:
    async def fail() -> None:
        raise RuntimeError("lost its connection")

    failed = asyncio.create_task(fail())
    await asyncio.sleep(0)
    await cancel_and_wait(failed)
    await cancel_and_wait(failed)
    await cancel_and_wait(None)
    assert isinstance(failed.exception(), RuntimeError)
