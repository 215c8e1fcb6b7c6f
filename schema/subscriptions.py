"""GraphQL subscriptions over the one event log: ``events`` and typed ones (``claimChanged``,
``articlePublished``, ``deploymentChanged``). Each reads a lossless feed (``after:`` replays from
the log, then continues live) that the WebSocket handler puts in the context as ``events``.

The feed hands each event over as the caller's scope may see it (the recall rules): a withheld
article's events carry its stub, and a withdrawn fact's carry no data. ``events`` sends those with
``fact: null``; the typed subscriptions, whose payload needs the fact, leave them out — and their
filters run on the same scoped data, never on the stored snapshot."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from contextlib import AbstractAsyncContextManager
from enum import Enum
from typing import Any, Protocol

import strawberry
from strawberry.types import Info

from db import events as event_log
from db.errors import BadUserInput
from schema.articles import Article
from schema.claims import Claim, ClaimStatus
from schema.common import DateTime, from_doc
from schema.context import Context
from schema.deployments import Deployment
from schema.kinds import as_object
from schema.node import Fact, check_id

EventDoc = dict[str, Any]

EventType: Any = strawberry.enum(  # type: ignore[call-overload]
    Enum("EventType", {t.replace(".", "_").upper(): t for t in event_log.EVENT_TYPES}),
    description=(
        "What happened to a fact: <kind>.created / updated / corrected / retracted; an article also"
        " withheld / canceled / released; a claim, deployment or incident also sourcing_changed."
    ),
)


class EventFeed(Protocol):
    async def next(self, wait: float | None = None) -> EventDoc | None: ...


class EventSource(Protocol):
    """Opens feeds of the event log (implemented by api/events: Redis fan-out + PostgreSQL replay)."""

    def open(
        self,
        *,
        after: int | None,
        types: tuple[str, ...],
        object_id: str | None,
        predicate: Callable[[EventDoc], bool] | None,
    ) -> AbstractAsyncContextManager[EventFeed]: ...


@strawberry.type(description="A committed change to a fact. Every consumer sees events in the same order.")
class Event:
    id: strawberry.ID
    sequence: int = strawberry.field(description="Position in the log (commit order); resume with after: this.")
    type: EventType
    object_type: str
    object_id: strawberry.ID
    object_version: int
    created_at: DateTime
    doc: strawberry.Private[EventDoc]

    @strawberry.field(
        description=(
            "The fact as it stood right after this change. Null when the fact is withdrawn (every"
            " source it cites is withheld, canceled or retracted) and the caller reads under the recall"
            " rules (read-scope keys, anonymous): the event says only that it changed."
        )
    )
    def fact(self) -> Fact | None:
        data = self.doc["data"]
        return None if data is None else as_object(data)


@strawberry.type(description="A claim was created, updated, corrected or retracted.")
class ClaimChange:
    event: Event
    claim: Claim


@strawberry.type(description="An article was published (created with pubStatus usable).")
class ArticlePublication:
    event: Event
    article: Article


@strawberry.type(description="A deployment was created, updated, corrected or retracted.")
class DeploymentChange:
    event: Event
    deployment: Deployment


def _source(info: Info[Context, None]) -> EventSource:
    source: EventSource | None = getattr(info.context, "events", None)
    if source is None:
        raise BadUserInput("subscriptions are served over WebSocket (graphql-transport-ws) at /graphql")
    return source


def _after(after: int | None) -> int | None:
    if after is not None and after < 0:
        raise BadUserInput("after must be a sequence number (0 or more)")
    return after


def _actor_id(value: str | None, argument: str) -> str | None:
    if value is not None:
        check_id(value, "actor", argument=argument)
    return value


def _fresh(info: Info[Context, None]) -> None:
    info.context.refresh()


def _event(doc: EventDoc) -> Event:
    return from_doc(Event, doc)


def _kind_types(kind: str) -> tuple[str, ...]:
    return tuple(f"{kind}.{change}" for change in event_log.change_kinds(kind))


@strawberry.type(description="Live changes, replayed from the log after a cursor and then followed as they commit.")
class Subscription:
    @strawberry.subscription(description="Every event (optionally of some types or one object), after a cursor.")
    async def events(
        self,
        info: Info[Context, None],
        types: list[EventType] | None = None,
        object_id: strawberry.ID | None = None,
        after: int | None = None,
    ) -> AsyncGenerator[Event, None]:
        wanted = tuple(t.value for t in types or ())
        opened = _source(info).open(after=_after(after), types=wanted, object_id=object_id, predicate=None)
        async with opened as feed:
            while True:
                doc = await feed.next()
                if doc is not None:
                    _fresh(info)
                    yield _event(doc)

    @strawberry.subscription(
        description=(
            "Changes to claims, optionally by speaker, subject or status. Under the recall rules"
            " (read-scope keys, anonymous) a withdrawn claim's changes are left out."
        )
    )
    async def claim_changed(
        self,
        info: Info[Context, None],
        speaker_id: strawberry.ID | None = None,
        subject_id: strawberry.ID | None = None,
        status: ClaimStatus | None = None,  # type: ignore[valid-type]
        after: int | None = None,
    ) -> AsyncGenerator[ClaimChange, None]:
        speaker = _actor_id(speaker_id, "speakerId")
        subject = _actor_id(subject_id, "subjectId")
        wanted_status = status.value if status is not None else None

        def matches(e: EventDoc) -> bool:
            data = e["data"]
            return data is not None and (
                (speaker is None or data.get("speaker") == speaker)
                and (subject is None or subject in (data.get("subjects") or ()))
                and (wanted_status is None or data.get("status") == wanted_status)
            )

        opened = _source(info).open(after=_after(after), types=_kind_types("claim"), object_id=None, predicate=matches)
        async with opened as feed:
            while True:
                doc = await feed.next()
                if doc is not None:
                    _fresh(info)
                    yield ClaimChange(event=_event(doc), claim=from_doc(Claim, doc["data"]))

    @strawberry.subscription(
        description=(
            "Articles as they are published, optionally about one subject (medtop code). Under the recall"
            " rules (read-scope keys, anonymous) an article withheld or canceled since is left out."
        )
    )
    async def article_published(
        self, info: Info[Context, None], subject: str | None = None, after: int | None = None
    ) -> AsyncGenerator[ArticlePublication, None]:
        def matches(e: EventDoc) -> bool:
            data = e["data"]
            if data is None:
                return False
            usable = data.get("pubStatus") in (None, "usable")
            return usable and (subject is None or subject in (data.get("subjects") or ()))

        opened = _source(info).open(after=_after(after), types=("article.created",), object_id=None, predicate=matches)
        async with opened as feed:
            while True:
                doc = await feed.next()
                if doc is not None:
                    _fresh(info)
                    yield ArticlePublication(event=_event(doc), article=from_doc(Article, doc["data"]))

    @strawberry.subscription(
        description=(
            "Changes to deployments, optionally by deployer or region (name contains). Under the recall"
            " rules (read-scope keys, anonymous) a withdrawn deployment's changes are left out."
        )
    )
    async def deployment_changed(
        self,
        info: Info[Context, None],
        deployer_id: strawberry.ID | None = None,
        region: str | None = None,
        after: int | None = None,
    ) -> AsyncGenerator[DeploymentChange, None]:
        deployer = _actor_id(deployer_id, "deployerId")
        needle = region.casefold() if region else None

        def matches(e: EventDoc) -> bool:
            data = e["data"]
            if data is None:
                return False
            name = ((data.get("region") or {}).get("name") or "").casefold()
            return (deployer is None or data.get("deployer") == deployer) and (needle is None or needle in name)

        opened = _source(info).open(
            after=_after(after), types=_kind_types("deployment"), object_id=None, predicate=matches
        )
        async with opened as feed:
            while True:
                doc = await feed.next()
                if doc is not None:
                    _fresh(info)
                    yield DeploymentChange(event=_event(doc), deployment=from_doc(Deployment, doc["data"]))
