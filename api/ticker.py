"""One timer for the periodic work of many connections (keepalive pings and their deadlines).

A timer per connection is a loop timer handle, its libuv timer and a bound method: a few hundred
bytes that every idle WebSocket subscriber paid twice (uvicorn's protocol ping and the
graphql-transport-ws keepalive). Here each interval has one timer, and a connection is an entry in
a set: on each tick every member's ``tick()`` runs. A member's first tick comes between one and
two intervals after it joined (it waits out the tick in progress), never sooner: a keepalive
ping does not interleave with a connection's handshake."""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

log = logging.getLogger("newsfacts.ticker")


class Member(Protocol):
    def tick(self) -> None: ...


class Ticker:
    """Calls ``tick()`` on every member once per ``interval`` seconds while it has members."""

    __slots__ = ("_handle", "_joining", "_loop", "interval", "members")

    def __init__(self, loop: asyncio.AbstractEventLoop, interval: float) -> None:
        self._loop = loop
        self.interval = interval
        self.members: set[Member] = set()
        self._joining: set[Member] = set()  # ticked from the next tick on
        self._handle: asyncio.TimerHandle | None = None

    def add(self, member: Member) -> None:
        if self._handle is None:  # the first tick is a whole interval away
            self.members.add(member)
            self._handle = self._loop.call_later(self.interval, self._tick)
        else:
            self._joining.add(member)

    def discard(self, member: Member) -> None:
        self.members.discard(member)
        self._joining.discard(member)
        if not self.members and not self._joining and self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _tick(self) -> None:
        self._handle = self._loop.call_later(self.interval, self._tick)
        for member in list(self.members):
            try:
                member.tick()
            except Exception:  # one member's failure never stops the others' keepalives
                log.exception("tick failed")
        if self._joining:
            self.members |= self._joining
            self._joining.clear()
        if not self.members and self._handle is not None:
            self._handle.cancel()
            self._handle = None


class Tickers:
    """The tickers of one event loop, one per interval (a server has a couple of intervals)."""

    __slots__ = ("_by_interval", "_loop")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._by_interval: dict[float, Ticker] = {}

    def every(self, interval: float) -> Ticker:
        ticker = self._by_interval.get(interval)
        if ticker is None:
            ticker = self._by_interval[interval] = Ticker(self._loop, interval)
        return ticker
