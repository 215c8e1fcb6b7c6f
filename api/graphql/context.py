"""The one factory of schema Contexts, for HTTP requests and WebSocket connections alike: the pool,
the caller, the settings' flags and budgets, the webhook policy (the URL rules and secrets REST
uses too) and — over WebSocket, where subscriptions are served — the event source."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection
from typing import Any

from api.events import broadcaster_of
from api.events.feed import EventFilter, Feed
from api.settings import Settings
from api.state import State
from api.webhooks import delivery, signing
from db.events import Envelope
from db.lens import Lens
from schema.context import Context, WebhookPolicy


class FeedSource:
    """The schema's EventSource: lossless Feeds over this process's broadcaster, each event in the
    form ``lens`` may see. One per subscription operation (a GraphQL subscription has one root
    field, so one feed), which lets the frame it renders be checked again before it is sent."""

    def __init__(self, state: State, lens: Lens) -> None:
        self.state = state
        self.lens = lens
        self._feed: Feed | None = None

    def open(
        self,
        *,
        after: int | None,
        types: tuple[str, ...],
        object_id: str | None,
        predicate: Any,
    ) -> Feed:
        flt = EventFilter(types=types, object_id=object_id, predicate=predicate)
        self._feed = Feed(broadcaster_of(self.state), self.state.pool, after=after, filter=flt, lens=self.lens)
        return self._feed

    def pin(self) -> tuple[Envelope | None, int] | None:
        """The feed's latest event and the broadcaster's head when it was taken: ``stale_check``'s
        ``at`` for a frame rendered once the feed has moved on (schema/plan/live.py reads a backlog
        of events in one statement)."""
        feed = self._feed
        return None if feed is None else (feed.delivered, feed.delivered_head)

    def stale_check(
        self, read: Collection[str] = (), at: tuple[Envelope | None, int] | None = None
    ) -> Callable[[], bool] | None:
        """For the frame just rendered from the feed's latest event (or the one ``at`` pinned),
        having read the facts ``read`` (relations: the planner reports them; the resolvers do not):
        a check, run when the frame leaves the connection's queue, of whether its object or one of
        those facts was recalled since (None: nothing to check — a full-scope caller, or no event)."""
        feed = self._feed
        if feed is None or not self.lens.public:
            return None
        envelope, head = at if at is not None else (feed.delivered, feed.delivered_head)
        if envelope is None:
            return None
        return lambda: feed.stale(envelope) or any(feed.broadcaster.recalled_since(i, head) for i in read)


class ContextFactory:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

        async def check_url(url: str) -> str:
            return await delivery.validate_url(url, settings)

        self.webhooks = WebhookPolicy(
            check_url=check_url,
            new_secret=signing.new_secret,
            default_grace_seconds=settings.webhook_secret_grace_hours * 3600,
        )

    def __call__(self, state: State, principal: Any, *, live: bool = False) -> Context:
        """A Context for one operation; ``live`` (WebSocket) adds the event source subscriptions
        read, which HTTP leaves out so a subscription sent there is refused with a clear error."""
        if self.webhooks.box is not state.secret_box:  # the keyring exists once the app started
            self.webhooks = dataclasses.replace(self.webhooks, box=state.secret_box)
        context = Context(
            pool=state.pool,
            principal=principal,
            production=self.settings.production,
            max_cost=self.settings.graphql_max_cost,
            webhooks=self.webhooks,
        )
        if live:
            context.events = FeedSource(state, context.lens)
        return context
