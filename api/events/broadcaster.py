"""The per-process broadcaster: follows the Redis Stream (XREAD BLOCK) and fans each event out to
this process's subscribers, in sequence order, each sequence once, in the form each subscriber's
scope may see (db/events.py Envelope). PostgreSQL is the source of truth: a hole in the stream
(Redis restarted, stream trimmed, relay slow or dead, Redis down) is filled from the events table,
so subscribers never miss an event. It also remembers which objects were recalled at which
sequence, so an event queued before its object's recall is redacted again when it leaves."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable

import asyncpg
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from api.events import wire
from api.inbox import Inbox
from api.tasks import cancel_and_wait
from db import events
from db.events import Envelope, Event
from db.ids import id_type
from db.kinds import SOURCED
from db.lens import Lens

log = logging.getLogger("newsfacts.broadcaster")

# What a subscriber's queue yields besides events: a wake-up after overflow or shutdown.
WAKE = None


# How many recalled objects a broadcaster remembers by id; older ones only as a floor (see
# ``recalled_since``). A recall is a legal hold or a cancellation and the facts citing it: rare.
RECALL_MEMORY = 50_000
# The events that take an article's text down: from then on, read-scope consumers get no reference
# into it from any claim, deployment or incident (0016) — also from those the recall gave no event.
_TAKEDOWNS = frozenset({"article.withheld", "article.canceled"})


class Subscriber:
    """One consumer's queue. ``start_head`` is the last sequence delivered before it subscribed:
    every later event that matches (in the form ``lens`` sees) is queued, unless the queue
    overflows (then the consumer re-reads what it missed from PostgreSQL, see api/events/feed.py)."""

    __slots__ = ("closed", "lens", "matches", "maxsize", "overflowed", "queue", "start_head")

    def __init__(self, start_head: int, matches: Callable[[Event], bool] | None, maxsize: int, lens: Lens) -> None:
        self.start_head = start_head
        self.matches = matches
        self.maxsize = maxsize
        self.lens = lens
        self.queue: Inbox[Envelope | None] = Inbox()
        self.overflowed = False
        self.closed = False

    def offer(self, envelope: Envelope) -> None:
        if self.overflowed or (self.matches is not None and not self.matches(envelope.doc(self.lens))):
            return
        if self.queue.qsize() >= self.maxsize:
            self.overflowed = True
            self.queue.put_nowait(WAKE)
            return
        self.queue.put_nowait(envelope)

    def close(self) -> None:
        self.closed = True
        self.queue.put_nowait(WAKE)


class Broadcaster:
    """Delivers every committed event once, in order, to every local subscriber."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        redis_url: str,
        *,
        block_ms: int = 1000,
        idle_check_seconds: float = 2.0,
        poll_seconds: float = 0.25,
        queue_size: int = 10_000,
    ) -> None:
        self.pool = pool
        self.redis_url = redis_url
        self.block_ms = block_ms
        self.idle_check_seconds = idle_check_seconds
        self.poll_seconds = poll_seconds
        self.queue_size = queue_size
        self.head = 0
        self.stream = ""
        self.using_redis = False
        self._subscribers: set[Subscriber] = set()
        self._task: asyncio.Task[None] | None = None
        # object id → the sequence of the latest recalled event of it this broadcaster delivered.
        self._recalls: OrderedDict[str, int] = OrderedDict()
        self._recall_floor = 0  # the highest sequence forgotten from _recalls
        # The latest article takedown delivered: any sourced fact's public form computed before it
        # may quote that article, and which facts cite it is not in the event.
        self._takedown = 0

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    async def start(self) -> None:
        async with self.pool.acquire() as conn:
            self.stream = await events.stream_key(conn)
            self.head = await events.last_sequence(conn)
        self._task = asyncio.create_task(self.run(), name="newsfacts-broadcaster")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        for sub in list(self._subscribers):
            sub.close()
        self._subscribers.clear()

    def subscribe(self, matches: Callable[[Event], bool] | None, lens: Lens) -> Subscriber:
        # Synchronous on purpose: no event can be delivered between reading head and joining.
        sub = Subscriber(self.head, matches, self.queue_size, lens)
        self._subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        self._subscribers.discard(sub)

    def recalled_since(self, object_id: str, as_of: int) -> bool:
        """Whether this broadcaster has delivered a recalled event of ``object_id`` above ``as_of``:
        then a public form computed as of ``as_of`` may show what the recall took down. An object
        forgotten (past RECALL_MEMORY) counts as recalled at the floor, which errs on the safe side."""
        seq = self._recalls.get(object_id)
        if (seq if seq is not None else self._recall_floor) > as_of:
            return True
        return self._takedown > as_of and id_type(object_id) in SOURCED

    def _note_recall(self, object_id: str, sequence: int) -> None:
        self._recalls[object_id] = sequence
        self._recalls.move_to_end(object_id)
        while len(self._recalls) > RECALL_MEMORY:
            _, forgotten = self._recalls.popitem(last=False)
            self._recall_floor = max(self._recall_floor, forgotten)

    def take_local(self, envelopes: list[Envelope]) -> None:
        """Events this process's relay just read from PostgreSQL (committed, in sequence order),
        handed over before it publishes them: delivered now if they continue from head; anything
        else is left to the stream and the database, which skip what this delivered."""
        for envelope in envelopes:
            if envelope.sequence == self.head + 1:
                self._deliver(envelope)
            elif envelope.sequence > self.head:
                return

    def _deliver(self, envelope: Envelope) -> None:
        if envelope.sequence <= self.head:
            return  # delivered already: the relay handed it over (take_local) while this was read
        self.head = envelope.sequence
        if envelope.recalled:
            # Noted as it is offered: from now on, a consumer taking an earlier event of the object
            # from its queue (or its replay backlog) finds the note and redacts that event again.
            self._note_recall(envelope.object_id, envelope.sequence)
            if envelope.full["type"] in _TAKEDOWNS:
                self._takedown = envelope.sequence
        for sub in list(self._subscribers):
            sub.offer(envelope)

    async def run(self) -> None:
        while True:
            try:
                await self._follow_redis()
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                if self.using_redis:
                    log.warning("broadcaster lost Redis (%s); reading events from PostgreSQL", exc)
                self.using_redis = False
            except Exception:
                log.exception("broadcaster failed; restarting")
            try:
                await self._fill_from_database()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("broadcaster cannot read events from PostgreSQL: %s", exc)
            await asyncio.sleep(self.poll_seconds)

    async def _follow_redis(self) -> None:
        client = aioredis.Redis.from_url(
            self.redis_url, socket_timeout=self.block_ms / 1000 + 3.0, socket_connect_timeout=1.0
        )
        try:
            silent_since = time.monotonic()
            while True:
                reply = await client.xread({self.stream: f"{self.head}-0"}, count=1000, block=self.block_ms)
                if not self.using_redis:
                    log.info("broadcaster is following the Redis Stream from sequence %d", self.head)
                    self.using_redis = True
                if reply:
                    await self._take(reply[0][1])  # type: ignore[index,arg-type]
                    silent_since = time.monotonic()
                elif time.monotonic() - silent_since >= self.idle_check_seconds:
                    # Nothing on the stream for a while: if the relay is dead or between leaders,
                    # committed events are still in PostgreSQL. Costs one indexed query per check.
                    await self._fill_from_database()
                    silent_since = time.monotonic()
        finally:
            await client.aclose()

    async def _take(self, entries: list[tuple[bytes, dict[bytes, bytes]]]) -> None:
        for entry_id, fields in entries:
            sequence = int(entry_id.split(b"-", 1)[0])
            if sequence <= self.head:
                continue
            if sequence > self.head + 1:
                await self._fill_from_database(upto=sequence - 1)
            if sequence == self.head + 1:
                envelope = wire.decode(fields)
                if envelope is None:
                    await self._fill_from_database(upto=sequence)  # no public form: read it
                else:
                    self._deliver(envelope)

    async def _fill_from_database(self, upto: int | None = None) -> None:
        """Deliver events after head from PostgreSQL (up to ``upto`` when given)."""
        while upto is None or self.head < upto:
            async with self.pool.acquire() as conn:
                batch = await events.envelopes_after(conn, self.head, limit=1000)
            for envelope in batch:
                if upto is not None and envelope.sequence > upto:
                    return
                self._deliver(envelope)
            if len(batch) < 1000:
                return
