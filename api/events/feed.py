"""A Feed is one consumer's ordered, lossless view of the event log: it replays what came after the
consumer's cursor from PostgreSQL, then continues live from the broadcaster, with no gap and no
duplicate at the seam, each event in the form the consumer's lens may see when it leaves (the
recall rules). SSE, GraphQL subscriptions and the benchmarks read events through it."""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import asyncpg

from api.events.broadcaster import Broadcaster, Subscriber
from db import events
from db.errors import BadUserInput, CursorExpired, FieldError
from db.events import EVENT_KINDS, EVENT_TYPES, Envelope, Event, change_kinds
from db.lens import Lens

REPLAY_PAGE = 500


class FeedClosed(Exception):
    """The server is shutting down: the consumer should reconnect with its cursor."""


def parse_types(raw: Sequence[str], *, location: tuple[str | int, ...] = ("type",)) -> tuple[str, ...]:
    """Event type filters: exact types (``claim.created``) or a kind (``claim``) for all its types."""
    wanted: list[str] = []
    errors = []
    for i, item in enumerate(raw):
        if item in EVENT_TYPES:
            wanted.append(item)
        elif item in EVENT_KINDS:
            wanted.extend(f"{item}.{change}" for change in change_kinds(item))
        else:
            errors.append(
                FieldError((*location, i), "UNKNOWN_EVENT_TYPE", f"{item!r} is not an event type or fact kind")
            )
    if errors:
        raise BadUserInput(f"unknown event type {raw[errors[0].path[-1]]!r}", errors=errors)  # type: ignore[index]
    return tuple(dict.fromkeys(wanted))


@dataclass(frozen=True)
class EventFilter:
    """Which events a consumer wants: types, one object, and any extra predicate (typed subscriptions)."""

    types: tuple[str, ...] = ()
    object_id: str | None = None
    predicate: Callable[[Event], bool] | None = field(default=None, compare=False)

    def matches(self, event: Event) -> bool:
        if self.types and event["type"] not in self.types:
            return False
        if self.object_id is not None and event["objectId"] != self.object_id:
            return False
        return self.predicate is None or self.predicate(event)


class Feed:
    """Events after ``after`` (or from now, when None) that pass ``filter``, in sequence order, as
    ``lens`` sees them: in full for write and admin consumers, under the recall rules for the others.

    Use as ``async with Feed(...) as feed: event = await feed.next(timeout)``."""

    __slots__ = (
        "_backlog", "_cancelled", "_checked_retention", "_replay_from", "_replay_to", "_sub",
        "broadcaster", "delivered", "delivered_head", "filter", "last", "lens", "pool",
    )  # fmt: skip

    def __init__(
        self, broadcaster: Broadcaster, pool: asyncpg.Pool, *, after: int | None, filter: EventFilter, lens: Lens
    ) -> None:
        self.broadcaster = broadcaster
        self.pool = pool
        self.filter = filter
        self.lens = lens
        self.last = after  # the highest sequence this consumer has been given or skipped past
        self.delivered: Envelope | None = None  # the envelope behind the event ``next`` returned last
        # The broadcaster's head when it was returned: a recall at or below it was committed before
        # anything read to render the event, so only a later one can make that rendering stale.
        self.delivered_head = 0
        self._sub: Subscriber | None = None
        self._replay_from = 0
        self._checked_retention = False
        self._replay_to: int | None = None  # replaying (_replay_from, _replay_to] from PostgreSQL
        # Created when a replay needs it: a live-only feed (most, and every idle one) has none.
        self._backlog: collections.deque[Envelope] | None = None
        self._cancelled = False

    async def __aenter__(self) -> Feed:
        self._subscribe()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._sub is not None:
            self.broadcaster.unsubscribe(self._sub)
            self._sub = None

    def cancel(self) -> None:
        """End the feed from outside its consumer (its client went): ``next`` raises FeedClosed."""
        self._cancelled = True
        if self._sub is not None:
            self._sub.close()

    def _subscribe(self) -> None:
        # Live first, then replay up to the head seen at this instant: the replay ends exactly
        # where the live queue begins, so nothing falls between them and nothing appears twice.
        self._sub = self.broadcaster.subscribe(self.filter.matches, self.lens)
        head = self._sub.start_head
        if self.last is None:
            self.last = head
        elif self.last < head:
            self._replay_from, self._replay_to = self.last, head

    async def next(self, wait: float | None = None) -> Event | None:
        """The next event, or None if none arrived within ``wait`` seconds."""
        while True:
            envelope = await self._next_envelope(wait)
            if envelope is None:
                return None
            event = await self._leaving(envelope)
            if event is not None:
                self.delivered, self.delivered_head = envelope, self.broadcaster.head
                return event

    def stale(self, envelope: Envelope) -> bool:
        """Whether ``envelope``'s form for this consumer may show what a recall since took down."""
        return self.lens.public and self.broadcaster.recalled_since(envelope.object_id, envelope.as_of)

    async def _leaving(self, envelope: Envelope) -> Event | None:
        """The event as it leaves: its form for this lens, read again from PostgreSQL when its object
        was recalled after that form was computed (queued before the recall passed the broadcaster,
        or replayed before it committed); None when it no longer passes the filter so, or is gone."""
        if not self.stale(envelope):
            return envelope.doc(self.lens)
        async with self.pool.acquire() as conn:
            fresh = await events.envelopes_after(conn, envelope.sequence - 1, limit=1)
        if not fresh or fresh[0].sequence != envelope.sequence:
            return None  # pruned from the log meanwhile: nothing left that may be sent
        event = fresh[0].doc(self.lens)
        return event if self.filter.predicate is None or self.filter.predicate(event) else None

    async def _next_envelope(self, wait: float | None) -> Envelope | None:
        while True:
            if self._cancelled:
                raise FeedClosed("the consumer went")
            if self._backlog:
                envelope = self._backlog.popleft()
                if not self._backlog:
                    self._backlog = None
                self.last = envelope.sequence
                return envelope
            if self._replay_to is not None:
                await self._replay_page()
                continue
            sub = self._sub
            assert sub is not None, "use the Feed in 'async with'"
            if sub.closed:
                raise FeedClosed("the server is shutting down")
            if sub.overflowed and sub.queue.empty():
                # Too slow to keep up: rejoin live and re-read the missed stretch from PostgreSQL.
                self.broadcaster.unsubscribe(sub)
                self._subscribe()
                continue
            try:
                item = await asyncio.wait_for(sub.queue.get(), wait) if wait is not None else await sub.queue.get()
            except TimeoutError:
                return None
            if item is None:
                continue
            assert self.last is not None
            if item.sequence <= self.last:
                continue
            self.last = item.sequence
            return item

    async def _replay_page(self) -> None:
        assert self._replay_to is not None
        async with self.pool.acquire() as conn:
            if not self._checked_retention:
                self._checked_retention = True
                oldest = await events.oldest_sequence(conn)
                if self._replay_from > 0 and oldest is not None and oldest > self._replay_from + 1:
                    raise CursorExpired(
                        f"events after {self._replay_from} were pruned (retention); resume from after={oldest - 1}",
                        oldest_sequence=oldest,
                    )
            page = await events.envelopes_after(
                conn,
                self._replay_from,
                limit=REPLAY_PAGE,
                types=self.filter.types or None,
                object_id=self.filter.object_id,
            )
        finished = len(page) < REPLAY_PAGE
        for envelope in page:
            if envelope.sequence > self._replay_to:
                finished = True  # the live queue holds everything after the seam
                break
            self._replay_from = envelope.sequence
            if self.filter.predicate is None or self.filter.predicate(envelope.doc(self.lens)):
                if self._backlog is None:
                    self._backlog = collections.deque()
                self._backlog.append(envelope)
        if finished:
            self._replay_to = None
