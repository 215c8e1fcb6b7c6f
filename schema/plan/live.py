"""Planned subscriptions: the subscription's own resolver still produces its events (the feeds,
filters and replay of schema/subscriptions.py), but each event's selection — the fact, its
relations, the event fields — is read by one planned SQL statement over the event's documents
instead of per-field resolvers. A shared subscription (api/graphql/shared.py) runs this once per
event for all its subscribers."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import orjson
from graphql import FieldNode, GraphQLError, GraphQLObjectType, OperationType, get_named_type
from graphql.execution.values import get_argument_values
from strawberry.utils.str_converters import to_camel_case

from db.errors import NewsfactsError
from db.plan import local
from db.plan import tree as t
from db.plan.sql import Statement, statement
from schema.errors import format_error
from schema.plan.compile import STRAWBERRY, Compiler, Entry, _root_node
from schema.plan.fields import HANDLERS
from schema.plan.run import Connect, Planner


@dataclass(frozen=True)
class LivePlan:
    key: str
    node: FieldNode
    definition: Any
    obj: t.Obj
    operation: Any
    document: Any


def plan(planner: Planner, query: str, operation_name: str | None) -> LivePlan | None:
    """The plan of a subscription operation's payload selection, or None for the resolvers
    (uncached: api/graphql/shared.py keeps them in a PlanCache)."""
    compiled = planner.validated(query, operation_name)
    if compiled is None:
        return None
    document, operation = compiled
    if operation.operation is not OperationType.SUBSCRIPTION:
        return None
    root_type = planner.schema.subscription_type
    assert root_type is not None
    compiler = Compiler(planner.schema, document, operation, HANDLERS, {})
    try:
        roots = compiler.collect(root_type, [Entry(_root_node(operation), ())])
        if len(roots) != 1:
            return None
        ((key, entries),) = roots.items()
        if len(entries) != 1 or entries[0].conditions:
            return None
        definition = root_type.fields[entries[0].node.name.value]
        payload = get_named_type(definition.type)
        assert isinstance(payload, GraphQLObjectType)
        obj = compiler.object(payload, entries, None)
    except t.Unplannable:
        return None
    return LivePlan(key, entries[0].node, definition, obj, operation, document)


def _payload(value: Any) -> dict[str, Any]:
    """The documents behind one event the subscription resolver yielded: an Event carries its
    own; a change (ClaimChange…) carries its event's and its fact's."""
    doc = getattr(value, "doc", None)
    if isinstance(doc, dict):
        return doc
    return {name: getattr(value, name).doc for name in vars(value) if hasattr(getattr(value, name), "doc")}


# ("next" | "error", payload bytes, whether the frame became stale): asked as a frame still queued
# for a slow reader leaves, it holds the frame back once the event's object or a fact the payload
# read was recalled since (api/graphql/ws.py); None for full-scope subscribers, whose frames do not
# follow the recall rules, and for errors.
Frame = tuple[str, bytes, Callable[[], bool] | None]
# Events a shared subscription renders with one statement at most: what arrived while the previous
# ones were read and sent. A connection's own subscription renders one at a time (``stream``).
BATCH = 64


async def stream(
    planner: Planner,
    live: LivePlan,
    variables: dict[str, Any] | None,
    context: Any,
    connect: Connect,
    batch: int = 1,
) -> AsyncIterator[list[Frame]] | None:
    """The frames of one subscription, or None when its variables or cost send it to the
    resolvers before anything is sent. Frames come in lists: those of up to ``batch`` events that
    queued up while the previous list was read, read by one statement (a shared subscription's
    backlog); with ``batch`` 1, each event is read once the previous one's frame went out."""
    admitted = planner.admit(live.document, live.operation, variables)
    return None if admitted is None else _frames(planner, live, admitted[0], context, connect, batch)


def _constant(doc: dict[str, Any]) -> t.Bind:
    return lambda _variables: doc


async def _frames(
    planner: Planner, live: LivePlan, coerced: Any, context: Any, connect: Connect, batch: int
) -> AsyncIterator[list[Frame]]:
    field = live.definition.extensions[STRAWBERRY]
    try:
        args = get_argument_values(live.definition, live.node, coerced)
        kwargs = {a.python_name: args.get(a.graphql_name or to_camel_case(a.python_name)) for a in field.arguments}
        events = field.base_resolver.wrapped_func(None, SimpleNamespace(context=context), **kwargs)
        # The statement's text depends on the stream's variables and lens, never on an event:
        # built for the first one, then each event's documents take the payload's parameter.
        kept: tuple[str, list[Any], int] | None = None
        public = context.lens.public
        # A selection of the event's own fields needs no statement: each frame is built here.
        here = local.render(live.obj, coerced, collect_ids=public)
        prefix = b'{"data":{"' + live.key.encode() + b'":'
        async for taken in _arrivals(events, context.events.pin, batch):
            payloads = [_payload(value) for value, _ in taken]
            if here is not None:
                frames: list[Frame] = []
                for (_, at), payload in zip(taken, payloads, strict=True):
                    body, read = here(payload)
                    frames.append(("next", prefix + orjson.dumps(body) + b"}}", context.events.stale_check(read, at)))
                yield frames
                continue
            if kept is None:
                stmt = Statement(coerced, collect_ids=public, lens=context.lens)
                sql = stmt.root(t.Payload(live.obj, _constant(payloads[0])))
                ((index, _),) = stmt.taken_params
                kept = (statement([sql], collect_ids=public), stmt.params.values, index)
            arguments = []
            for payload in payloads:
                params = list(kept[1])
                params[kept[2]] = payload
                arguments.append(params)
            async with connect() as conn:
                # A backlog (the process fell behind: a burst, or a loaded machine) is read in one
                # round trip, so it costs one wait for PostgreSQL rather than one per event.
                rows = (
                    [await conn.fetchrow(kept[0], *arguments[0])]
                    if len(arguments) == 1
                    else (await conn.fetchmany(kept[0], arguments))
                )
            frames = []
            for (_, at), row in zip(taken, rows, strict=True):
                assert row is not None  # the statement selects from a one-row FROM
                read = frozenset(row[1].split()) if row[1] else frozenset()
                frames.append(("next", prefix + row[0].encode() + b"}}", context.events.stale_check(read, at)))
            yield frames
    except NewsfactsError as exc:
        # As the resolvers' path reports a stream that could not start: the error alone, unlocated.
        error = GraphQLError(str(exc), original_error=exc)
        yield [("error", orjson.dumps([format_error(error, production=planner.production)]), None)]


async def _arrivals(
    events: AsyncIterator[Any], pin: Callable[[], Any], limit: int
) -> AsyncIterator[list[tuple[Any, Any]]]:
    """The resolver's events in lists, each with its feed's position as it was taken (``pin``: the
    staleness check of a frame rendered later must be the one of its own event): a list holds what
    arrived while the previous list was read and sent, at most ``limit``. A reader task takes them,
    so the events keep leaving the broadcaster's queue (and its slow-reader bound) while a statement
    runs; it stops taking while a full list waits. With ``limit`` 1 there is nothing to gather: no
    task, each event as it comes."""
    if limit == 1:
        async for value in events:
            yield [(value, pin())]
        return
    ready: list[tuple[Any, Any]] = []
    failure: list[BaseException] = []
    loop = asyncio.get_running_loop()
    arrived: asyncio.Future[None] = loop.create_future()
    room: asyncio.Future[None] | None = None

    async def read() -> None:
        nonlocal room
        try:
            async for value in events:
                ready.append((value, pin()))
                if not arrived.done():
                    arrived.set_result(None)
                while len(ready) >= limit:
                    room = loop.create_future()
                    await room
        except Exception as exc:  # the consumer's to handle, after what arrived before it
            failure.append(exc)
        finally:
            failure.append(StopAsyncIteration())
            if not arrived.done():
                arrived.set_result(None)
            aclose = getattr(events, "aclose", None)
            if aclose is not None:
                await aclose()

    reader = asyncio.create_task(read())
    try:
        while True:
            if not ready:
                if failure:
                    if isinstance(failure[0], StopAsyncIteration):
                        return
                    raise failure[0]
                await arrived
                arrived = loop.create_future()
                continue
            taken, ready[:] = ready[:limit], ready[limit:]
            if room is not None and not room.done():
                room.set_result(None)
            yield taken
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
