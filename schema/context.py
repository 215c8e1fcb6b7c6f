"""What every resolver of one GraphQL operation shares: the pool, that operation's DataLoaders,
the caller, and the flags it needs from settings. Built per request by api/graphql.py."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from db.lens import Lens, for_scope
from db.pool import Conn
from db.secrets import SecretBox
from schema.loaders import Loaders

QueryLogger = Callable[[Any], None]


@dataclass(frozen=True)
class WebhookPolicy:
    """What webhook mutations need from the server's settings (schema/ never imports api/)."""

    # The endpoint URL policy REST applies too (https, SSRF guard): returns the URL or raises
    # ValidationFailed naming ``url``.
    check_url: Callable[[str], Awaitable[str]]
    new_secret: Callable[[], str]
    default_grace_seconds: int
    # Seals secrets at rest, as REST does (None: stored as given until the next reseal pass).
    box: SecretBox | None = None


@dataclass
class Context:
    pool: asyncpg.Pool
    principal: Any = None
    production: bool = False
    max_cost: int = 5_000
    # Called with each SQL statement the operation runs (asyncpg LoggedQuery); tests count them.
    query_logger: QueryLogger | None = None
    # The event log for subscriptions (schema/subscriptions.py EventSource); set over WebSocket only.
    events: Any = None
    # Webhook endpoint management (schema/webhooks.py); set over HTTP only.
    webhooks: WebhookPolicy | None = None
    # False once a resolver read state that changes without an event (the webhook delivery log):
    # the response cache must not keep such an answer.
    cacheable: bool = True
    # What the operation read: fact ids and ``list:<kind>`` families. The response cache tags its
    # entry with these, so a change to any of them invalidates it (api/cache/graphql.py).
    touched: set[str] = field(default_factory=set)
    # Where a read-only operation's connections come from (a streaming replica when one is usable,
    # api/reads/); None — mutations, subscriptions — is the pool, the primary.
    reads: Callable[[], contextlib.AbstractAsyncContextManager[Conn]] | None = None
    # The caller's lens (db/lens.py): read-scope and anonymous callers read under the recall rules.
    lens: Lens = field(init=False)
    loaders: Loaders = field(init=False)

    def __post_init__(self) -> None:
        self.lens = for_scope(getattr(self.principal, "scope", None))
        self.loaders = Loaders(self.connection, self.touched, self.lens)
        # Root fields read with asOf, by response key, and the loaders of each time read.
        self._root_lenses: dict[str, Lens] = {}
        self._lens_loaders: dict[Lens, Loaders] = {self.lens: self.loaders}

    def refresh(self) -> None:
        """New DataLoaders in the same lens, for each event of a subscription: a long one must not
        serve facts cached hours ago (nor read them in any lens but its caller's)."""
        self.loaders = Loaders(self.connection, self.touched, self.lens)
        self._lens_loaders = {self.lens: self.loaders}

    def read_at(self, info: Any, as_of: str | None) -> Loaders:
        """The loaders of a root field reading at ``as_of`` (now when None); every field below it
        reads through the same ones (``loaders_for``)."""
        if as_of is None:
            return self.loaders
        lens = self.lens.at(as_of)
        self._root_lenses[info.path.key] = lens
        return self._loaders_of(lens)

    def loaders_for(self, info: Any) -> Loaders:
        """The loaders of the root field a nested field is under."""
        if not self._root_lenses:
            return self.loaders
        path = info.path
        while path.prev is not None:
            path = path.prev
        lens = self._root_lenses.get(path.key)
        return self.loaders if lens is None else self._loaders_of(lens)

    def _loaders_of(self, lens: Lens) -> Loaders:
        loaders = self._lens_loaders.get(lens)
        if loaders is None:
            loaders = self._lens_loaders[lens] = Loaders(self.connection, self.touched, lens)
        return loaders

    def touch_list(self, kind: str) -> None:
        self.touched.add(f"list:{kind}")

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[Conn]:
        async with (self.reads or self.pool.acquire)() as conn:
            if self.query_logger is None:
                yield conn
                return
            conn.add_query_logger(self.query_logger)
            try:
                yield conn
            finally:
                conn.remove_query_logger(self.query_logger)
