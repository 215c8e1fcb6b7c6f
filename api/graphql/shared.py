"""Shared live subscriptions: every connection of this process that runs the same live-only
subscription (same document, variables and operation name, no ``after:``) in the same scope is
served by ONE execution whose results are serialised once and sent to each member. Executing the
selection set costs ~100x more than sending the bytes, so this is what lets one process serve
thousands of identical subscribers. The scope (the caller's lens: in full, or under the recall
rules) is part of the key, so one scope's payload never reaches another's subscriber.
Subscriptions with ``after:`` replay from their own cursor and run alone."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import orjson
from graphql import DocumentNode, NullValueNode, OperationDefinitionNode, VariableNode, parse
from graphql.error import GraphQLSyntaxError
from strawberry.types import ExecutionResult
from strawberry.types.execution import PreExecutionError
from strawberry.types.graphql import OperationType

from api.cache import graphql as graphql_cache
from api.ws_protocol import text_frame
from db.lens import Lens
from schema.errors import format_error
from schema.plan import live
from schema.plan.cache import PlanCache
from schema.plan.run import Planner

log = logging.getLogger("newsfacts.graphql_ws")

# Asked when a queued event frame leaves: True once its object was recalled since it was rendered.
Stale = Callable[[], bool] | None
# A member's send: (the frames, each as the protocol's JSON, as WebSocket bytes and with its
# staleness check; the WebSocket bytes of them all, joined; whether every check passed just now).
# Synchronous: a member queues or writes at once, it never holds up the group's other members.
Send = Callable[[list[tuple[bytes, bytes, Stale]], bytes, bool], None]
# (document, variables, operation name, read under the recall rules)
Key = tuple[str, bytes, str | None, bool]


@functools.lru_cache(maxsize=256)
def _parse(query: str) -> DocumentNode | None:
    try:
        return parse(query)
    except GraphQLSyntaxError:
        return None


def shareable(query: str, variables: dict[str, Any] | None, name: str | None) -> bool:
    """A subscription operation none of whose root fields is given a non-null ``after``."""
    document = _parse(query)
    if document is None:
        return False
    ops = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    op = next((o for o in ops if name is None or (o.name and o.name.value == name)), None)
    if op is None or (name is None and len(ops) != 1) or op.operation.value != "subscription":
        return False
    for selection in op.selection_set.selections:
        for argument in getattr(selection, "arguments", None) or ():
            if argument.name.value != "after":
                continue
            value = argument.value
            if isinstance(value, VariableNode):
                if (variables or {}).get(value.name.value) is not None:
                    return False
            elif not isinstance(value, NullValueNode):
                return False
    return True


def frame(kind: str, op_id: str, payload: bytes | None = None) -> bytes:
    head = b'{"type":"' + kind.encode() + b'","id":' + orjson.dumps(op_id)
    return head + (b',"payload":' + payload + b"}" if payload is not None else b"}")


class Group:
    """One execution of a live subscription and the (send, operation id) members it feeds."""

    def __init__(self, hub: SharedSubscriptions, key: Key) -> None:
        self.hub = hub
        self.key = key
        self.members: dict[tuple[Send, str], None] = {}
        self.task: asyncio.Task[None] | None = None

    async def run(self, schema: Any, context: Any, production: bool, count: Callable[[str], None] | None) -> None:
        query, variables, name, _public = self.key
        try:
            # A backlog (this process fell behind: a burst, a loaded machine) is read with one
            # statement and written with one write a member, not one of each per event.
            planned = await self.hub.planned_frames(
                query, orjson.loads(variables), name, context, count, batch=live.BATCH
            )
            if planned is not None:
                async for frames in planned:
                    self._broadcast_all(frames)
                    if frames[-1][0] == "error":
                        return
                self._broadcast("complete", None)
                return
            stream = await schema.stream(
                query,
                variable_values=orjson.loads(variables),
                context_value=context,
                operation_name=name,
                allowed_operation_types=(OperationType.SUBSCRIPTION,),
            )
            async for result in stream:
                if isinstance(result, PreExecutionError) or (
                    isinstance(result, ExecutionResult) and result.data is None and result.errors
                ):
                    errors = orjson.dumps([format_error(e, production=production) for e in result.errors or []])
                    self._broadcast("error", errors)
                    return
                body: dict[str, Any] = {"data": result.data}
                if result.errors:
                    body["errors"] = [format_error(e, production=production) for e in result.errors]
                self._broadcast("next", orjson.dumps(body), context.events.stale_check())
            self._broadcast("complete", None)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("shared subscription failed")
            self._broadcast("error", orjson.dumps([{"message": "internal error", "extensions": {"code": "INTERNAL"}}]))
        finally:
            self.hub.groups.pop(self.key, None)
            ended = list(self.members)
            self.members.clear()
            for member in ended:
                self.hub.on_end(member)

    def _broadcast(self, kind: str, payload: bytes | None, stale: Stale = None) -> None:
        self._broadcast_all([(kind, payload, stale)])

    def _broadcast_all(self, frames: Sequence[tuple[str, bytes | None, Stale]]) -> None:
        # Encoded once per operation id (clients mostly number theirs alike, so once for nearly
        # all members), as the protocol's JSON and as WebSocket frames, written to each as is:
        # several frames (a backlog the statement read at once) in one write per member, so a
        # process that fell behind spends one write(2) a member on the backlog, not one an event.
        encoded: dict[str, tuple[list[tuple[bytes, bytes, Stale]], bytes]] = {}
        # Asked once for all members: those sending now need no answer of their own; those whose
        # frames wait (a slow reader) ask again as each frame leaves.
        checked = all(stale is None or not stale() for _, _, stale in frames)
        for send, op_id in list(self.members):
            pair = encoded.get(op_id)
            if pair is None:
                items = []
                for kind, payload, stale in frames:
                    data = frame(kind, op_id, payload)
                    items.append((data, text_frame(data), stale))
                joined = items[0][1] if len(items) == 1 else b"".join(wire for _, wire, _ in items)
                pair = encoded[op_id] = (items, joined)
            send(pair[0], pair[1], checked)


class SharedSubscriptions:
    """This process's shared groups, keyed by (document, variables, operation name, scope)."""

    def __init__(self, schema: Any, production: bool, planner: Planner | None = None) -> None:
        self.schema = schema
        self.production = production
        self.planner = planner
        self.live_plans: PlanCache[live.LivePlan | None] = PlanCache()
        self.groups: dict[Key, Group] = {}
        self._ended: dict[tuple[Send, str], Callable[[], None]] = {}

    async def planned_frames(
        self,
        query: str,
        variables: dict[str, Any] | None,
        name: str | None,
        context: Any,
        count: Callable[[str], None] | None = None,
        batch: int = 1,
    ) -> AsyncIterator[list[live.Frame]] | None:
        """The subscription's frames from planned reads (schema/plan/live.py), or None when it runs
        on the resolvers (no planner, or a document the planner leaves to them). ``count`` is told
        which path a subscription operation took ("planned" / "resolved"); ``batch``: see
        ``live.stream``."""
        planner = self.planner
        plan = self.live_plans.get(query, name, lambda q, n: live.plan(planner, q, n)) if planner else None
        frames = (
            await live.stream(planner, plan, variables, context, context.pool.acquire, batch)
            if planner and plan
            else None
        )
        if count is not None and graphql_cache.operation_type(query, name) == "subscription":
            count("planned" if frames is not None else "resolved")
        return frames

    def join(
        self,
        send: Send,
        op_id: str,
        query: str,
        variables: dict[str, Any] | None,
        name: str | None,
        lens: Lens,
        context: Callable[[], Any],
        on_end: Callable[[], None],
        count: Callable[[str], None] | None = None,
    ) -> None:
        """Add (send, op_id) to the group of this subscription in ``lens``'s scope, starting one if
        there is none with a new ``context()`` (in that lens: the caller's)."""
        key: Key = (query, orjson.dumps(variables or {}, option=orjson.OPT_SORT_KEYS), name, lens.public)
        group = self.groups.get(key)
        if group is None:
            group = Group(self, key)
            self.groups[key] = group
            group.task = asyncio.create_task(group.run(self.schema, context(), self.production, count))
        group.members[(send, op_id)] = None
        self._ended[(send, op_id)] = on_end

    def leave(self, send: Send, op_id: str) -> None:
        self._ended.pop((send, op_id), None)
        for key, group in list(self.groups.items()):
            if (send, op_id) not in group.members:
                continue
            del group.members[(send, op_id)]
            if not group.members and group.task is not None:
                # The last member left: stop executing for nobody.
                self.groups.pop(key, None)
                group.task.cancel()

    def on_end(self, member: tuple[Send, str]) -> None:
        callback = self._ended.pop(member, None)
        if callback is not None:
            with contextlib.suppress(Exception):
                callback()
