"""A single-consumer queue for the many small queues an idle subscriber holds (its connection's
incoming messages, its broadcaster queue): what asyncio.Queue offers them — put_nowait, get,
empty, qsize — without its three deques and its Event, a few KiB each. Ten thousand idle
subscribers are ten thousand of these, nearly always empty."""

from __future__ import annotations

import asyncio
from typing import Generic, TypeVar

T = TypeVar("T")


class Inbox(Generic[T]):
    """FIFO for one consumer task; any number of synchronous producers."""

    __slots__ = ("_head", "_items", "_waiter")

    def __init__(self) -> None:
        # A list read from ``_head`` and emptied when read to the end: a deque's blocks are
        # bigger than the one item or none these queues nearly always hold.
        self._items: list[T | None] = []
        self._head = 0
        self._waiter: asyncio.Future[None] | None = None

    def put_nowait(self, item: T) -> None:
        self._items.append(item)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def empty(self) -> bool:
        return self._head == len(self._items)

    def qsize(self) -> int:
        return len(self._items) - self._head

    async def get(self) -> T:
        while self._head == len(self._items):
            waiter = self._waiter = asyncio.get_running_loop().create_future()
            try:
                await waiter
            finally:
                self._waiter = None
        items, head = self._items, self._head
        item = items[head]
        items[head] = None  # let it go now, not when the list is emptied
        if head + 1 == len(items):
            items.clear()
            self._head = 0
        else:
            self._head = head + 1
        return item  # type: ignore[return-value]
