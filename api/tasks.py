"""Ending the app's background tasks (relay, broadcaster, cache invalidator, replica monitor) for
good when it shuts down."""

from __future__ import annotations

import asyncio
from typing import Any

# How long one cancellation may take to land before it is sent again.
RECANCEL_SECONDS = 0.5


async def cancel_and_wait(task: asyncio.Task[Any] | None) -> None:
    """Cancel ``task`` until it has ended; its result or error is dropped.

    One ``cancel()`` is not enough on Python 3.11: ``asyncio.wait_for`` returns the inner result when
    the cancellation lands just as the inner call completes (CPython gh-86296, fixed in 3.12), and
    redis-py wraps its socket writes in it. The relay, busy publishing a backlog, then carried on
    with its loop as if never cancelled, and the app's shutdown waited for it forever: a SIGTERM
    that only the SIGKILL after it ended."""
    if task is None:
        return
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=RECANCEL_SECONDS)
    if not task.cancelled():
        task.exception()  # retrieved, so asyncio does not log it as never retrieved
