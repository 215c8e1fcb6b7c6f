"""The one factory of schema Contexts, for HTTP requests and WebSocket connections alike: the pool,
the caller, the settings' flags and budgets, the webhook policy (the URL rules and secrets REST
uses too) and — over WebSocket, where subscriptions are served — the event source."""

from __future__ import annotations

import dataclasses
from typing import Any

from api.events import broadcaster_of
from api.events.feed import EventFilter, Feed
from api.settings import Settings
from api.state import State
from api.webhooks import delivery, signing
from schema.context import Context, WebhookPolicy


class FeedSource:
    """The schema's EventSource: lossless Feeds over this process's broadcaster."""

    def __init__(self, state: State) -> None:
        self.state = state

    def open(
        self,
        *,
        after: int | None,
        types: tuple[str, ...],
        object_id: str | None,
        predicate: Any,
    ) -> Feed:
        flt = EventFilter(types=types, object_id=object_id, predicate=predicate)
        return Feed(broadcaster_of(self.state), self.state.pool, after=after, filter=flt)


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
            context.events = FeedSource(state)
        return context
