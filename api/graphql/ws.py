"""GraphQL over WebSocket at /graphql, graphql-transport-ws only (the legacy graphql-ws subprotocol
is refused: it has no auth handshake worth the name). Auth (read scope) comes in connection_init's
payload; each connection runs at most SUBSCRIPTIONS_PER_CONNECTION operations; the server pings
every EVENT_HEARTBEAT_SECONDS; protocol violations close with the protocol's 44xx codes, and an
operation's own errors only end that operation, never the connection or its neighbours."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import orjson
from graphql import GraphQLError
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState
from strawberry.types import ExecutionResult
from strawberry.types.execution import PreExecutionError
from strawberry.types.graphql import OperationType

from api.auth import bearer_token, principal_for_token, require
from api.graphql.context import ContextFactory
from api.graphql.shared import Send, SharedSubscriptions, Stale, frame, shareable
from api.graphql.view import limits_of
from api.settings import Settings
from api.state import get_state
from api.ws_protocol import EXTENSION, RawWebSocket, text_frame
from db.errors import MalformedBody, NewsfactsError
from db.json_input import decode_object
from db.lens import Lens, for_scope
from schema import build_schema
from schema.context import Context
from schema.errors import format_error
from schema.plan.run import Planner

log = logging.getLogger("newsfacts.graphql_ws")

PROTOCOL = "graphql-transport-ws"
INIT_TIMEOUT = 10.0
ALL_OPERATIONS = (OperationType.QUERY, OperationType.MUTATION, OperationType.SUBSCRIPTION)

# Close codes of the graphql-transport-ws protocol.
BAD_MESSAGE = 4400
UNAUTHORIZED = 4401
FORBIDDEN = 4403
UNSUPPORTED_SUBPROTOCOL = 4406
INIT_TIMED_OUT = 4408
DUPLICATE_ID = 4409
TOO_MANY_INITS = 4429
TRY_AGAIN_LATER = 1013
# Frames queued for one client before it counts as too slow (then closed; it resumes with after:).
OUTBOX_LIMIT = 10_000
TOO_SLOW = "client too slow; resume with after:"
RECALLED = "a queued event was recalled; resume with after:"
PING = orjson.dumps({"type": "ping", "payload": {"reason": "keepalive"}})


class _Close(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class Connection:
    """One graphql-transport-ws connection and its running operations.

    Under ``newsfacts serve`` (api/ws_protocol.py) frames are written straight to the connection's
    transport as they are produced: no queue, no writer task, and a frame a shared subscription
    encoded once for all its members is written as is (api/graphql/shared.py). Under another
    WebSocket protocol they go through a queue and one writer task, as ASGI messages."""

    __slots__ = (
        "_ping_timer", "contexts", "hub", "lens", "member", "operations", "outbox", "principal", "raw",
        "schema", "settings", "shared_ids", "state", "too_slow", "ws",
    )  # fmt: skip

    def __init__(
        self,
        ws: WebSocket,
        schema: Any,
        settings: Settings,
        hub: SharedSubscriptions,
        contexts: ContextFactory,
        raw: RawWebSocket | None = None,
    ) -> None:
        self.ws = ws
        self.contexts = contexts
        self.schema = schema
        self.hub = hub
        self.settings = settings
        self.state = get_state(ws)
        self.raw = raw
        if raw is not None:
            # The same bound and reasons on the raw path (api/ws_protocol.py RawWebSocket).
            raw.limit, raw.code, raw.slow_reason, raw.stale_reason = OUTBOX_LIMIT, TRY_AGAIN_LATER, TOO_SLOW, RECALLED
        # The caller once connection_init authenticated it; each operation gets its own Context
        # (an idle connection keeps none: its loaders and caches were a fifth of its memory).
        self.principal: Any = None
        self.lens: Lens | None = None
        self.operations: dict[str, asyncio.Task[None]] = {}
        self.shared_ids: set[str] = set()
        # Without a raw transport, outgoing frames go through one queue and one writer: a slow
        # client never blocks a shared execution that feeds other connections too.
        self.outbox: asyncio.Queue[tuple[bytes, Stale]] | None = asyncio.Queue() if raw is None else None
        self.too_slow = False
        self._ping_timer: asyncio.TimerHandle | None = None
        # What a shared subscription calls for each event: the raw transport's own send when there
        # is one (no hop through send_raw for each member of a fan-out).
        self.member: Send = raw.send_shared if raw is not None else self.send_each

    async def send(self, message: dict[str, Any]) -> None:
        self.send_raw(orjson.dumps(message))

    def send_each(self, frames: list[tuple[bytes, bytes, Stale]], _joined: bytes, checked: bool) -> None:
        """A shared subscription member's send without a raw transport: each frame on its own."""
        for data, wire, stale in frames:
            self.send_raw(data, stale, wire, checked)

    def send_raw(self, frame: bytes, stale: Stale = None, wire: bytes | None = None, checked: bool = False) -> None:
        """Send ``frame`` (``wire``: the same as a WebSocket frame, when encoded once for many).
        ``stale`` (an event's frame, under the recall rules) is asked as the frame leaves, so a
        frame rendered before its object's recall is never sent (``checked``: it passed just now)."""
        raw = self.raw
        if raw is not None:
            raw.send(wire if wire is not None else text_frame(frame), stale, checked)
            return
        if self.too_slow:
            return
        assert self.outbox is not None
        if self.outbox.qsize() >= OUTBOX_LIMIT:
            # The client reads slower than events arrive: drop the connection rather than the
            # events; it resumes losslessly with after: its last sequence.
            self.too_slow = True
            self.outbox.put_nowait((b"", None))
            return
        self.outbox.put_nowait((frame, stale))

    async def _write(self) -> None:
        assert self.outbox is not None
        while True:
            frame, stale = await self.outbox.get()
            if not frame:
                with contextlib.suppress(Exception):
                    await self.ws.close(code=TRY_AGAIN_LATER, reason=TOO_SLOW)
                return
            if stale is not None and stale():
                # Rendered before its object was recalled and still queued: it may not leave. As
                # for a slow client, close rather than skip it (no gap in the sequence): the
                # client resumes with after: and the replay carries the recalled form.
                with contextlib.suppress(Exception):
                    await self.ws.close(code=TRY_AGAIN_LATER, reason=RECALLED)
                return
            if self.ws.application_state != WebSocketState.CONNECTED:
                return
            await self.ws.send_text(frame.decode())

    async def run(self) -> None:
        heartbeat = float(self.settings.event_heartbeat_seconds)
        ticker = self.raw.tickers.every(heartbeat) if self.raw is not None else None
        if ticker is not None:
            ticker.add(self)  # one timer for every connection's keepalive (api/ticker.py)
        else:
            self._ping_timer = asyncio.get_running_loop().call_later(heartbeat, self._ping)
        # One task per connection (this one) with a raw transport: it reads; frames are written
        # by whoever produces them. Otherwise a writer task drains the outbox beside it.
        writer = asyncio.create_task(self._write()) if self.raw is None else None
        try:
            try:
                if writer is None:
                    await self._receive_loop()
                else:
                    await self._receive_beside(writer)
            except _Close as exc:
                if self.raw is not None:
                    self.raw.close(exc.code, exc.reason)  # behind every frame already sent
                else:
                    await self._drain(writer)
                    with contextlib.suppress(Exception):
                        await self.ws.close(code=exc.code, reason=exc.reason)
            except WebSocketDisconnect:
                pass
            except Exception as exc:
                log.error("graphql-ws connection failed: %r", exc)
        finally:
            if ticker is not None:
                ticker.discard(self)
            if self._ping_timer is not None:
                self._ping_timer.cancel()
            for op_id in list(self.shared_ids):
                self.hub.leave(self.member, op_id)
            tasks = [*self.operations.values(), *([writer] if writer is not None else [])]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _receive_beside(self, writer: asyncio.Task[None]) -> None:
        receiver = asyncio.create_task(self._receive_loop())
        try:
            await asyncio.wait([writer, receiver], return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not receiver.done():
                receiver.cancel()
                await asyncio.gather(receiver, return_exceptions=True)
        if not receiver.cancelled() and receiver.exception() is not None:
            raise receiver.exception()  # type: ignore[misc]

    async def _drain(self, writer: asyncio.Task[None] | None) -> None:
        # Let already queued frames (e.g. an error for the operation) go out before closing.
        if writer is None or self.outbox is None:
            return
        for _ in range(50):
            if self.outbox.empty() or writer.done():
                return
            await asyncio.sleep(0.01)

    def tick(self) -> None:
        raw = self.raw
        if raw is not None and raw.carried:
            # Events went out since the last tick: the connection is not idle, and a ping (with
            # the pong it asks for, a wake of this connection's task) would only cost, once per
            # interval for every subscriber of a busy fan-out. The next quiet interval gets one.
            raw.carried = False
            return
        self.send_raw(PING)

    def _ping(self) -> None:
        # A timer, not a task per connection: an idle subscriber costs no coroutine for it.
        self.send_raw(PING)
        self._ping_timer = asyncio.get_running_loop().call_later(self.settings.event_heartbeat_seconds, self._ping)

    async def _receive_loop(self) -> None:
        try:
            first = await asyncio.wait_for(self._receive(), INIT_TIMEOUT)
        except TimeoutError:
            raise _Close(INIT_TIMED_OUT, "Connection initialisation timeout") from None
        await self._handle(first)
        while True:
            await self._handle(await self._receive())

    async def _receive(self) -> dict[str, Any]:
        message = await self.ws.receive()
        if message["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(message.get("code", 1000))
        raw = message.get("text")
        if raw is None:  # the protocol's messages are JSON text frames
            raise _Close(BAD_MESSAGE, "Invalid message: binary frames are not graphql-transport-ws messages")
        try:
            # The one decoder (db/json_input.py): its bounds hold here too, or deep variables would
            # reach graphql-core's recursive coercion and orjson's 254-level dumps.
            parsed = decode_object(raw, subject="the message", path=("message",))
        except MalformedBody as exc:
            reason = f"Invalid message: {exc.code}: {exc.errors[0].message}"
            # A close reason is at most 123 bytes.
            raise _Close(BAD_MESSAGE, reason.encode()[:120].decode(errors="ignore")) from None
        if not isinstance(parsed.get("type"), str):
            raise _Close(BAD_MESSAGE, "Invalid message: expected an object with a type")
        return parsed

    async def _handle(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind == "connection_init":
            await self._init(message.get("payload"))
        elif kind == "ping":
            await self.send({"type": "pong"})
        elif kind == "pong":
            pass
        elif kind == "subscribe":
            await self._subscribe(message)
        elif kind == "complete":
            op_id = str(message.get("id"))
            task = self.operations.pop(op_id, None)
            if task is not None:
                task.cancel()
            if op_id in self.shared_ids:
                self.shared_ids.discard(op_id)
                self.hub.leave(self.member, op_id)
        else:
            raise _Close(BAD_MESSAGE, f"Invalid message type {kind!r}")

    async def _init(self, payload: Any) -> None:
        if self.lens is not None:
            raise _Close(TOO_MANY_INITS, "Too many initialisation requests")
        if payload is not None and not isinstance(payload, dict):
            raise _Close(BAD_MESSAGE, "connection_init payload must be an object")
        authorization = (payload or {}).get("authorization") or (payload or {}).get("Authorization")
        if authorization is not None and not isinstance(authorization, str):
            raise _Close(BAD_MESSAGE, "connection_init authorization must be a string: 'Bearer <api key>'")
        client = self.ws.client.host if self.ws.client else "unknown"
        try:
            token = bearer_token(authorization if isinstance(authorization, str) else None)
            principal = await principal_for_token(self.state, token, client)
            require(principal, "read", anonymous_reads=self.settings.anonymous_reads)
        except NewsfactsError as exc:
            raise _Close(FORBIDDEN, f"Forbidden: {exc.detail}"[:120]) from None
        self.principal, self.lens = principal, for_scope(getattr(principal, "scope", None))
        await self.send({"type": "connection_ack"})

    def _count(self, path: str) -> None:
        """/metrics: subscription executions by path (one per shared group, not per member)."""
        metrics = self.state.metrics
        if metrics is not None:
            metrics.child(metrics.graphql_subscriptions, path).inc()

    def _new_context(self, principal: Any) -> Context:
        return self.contexts(self.state, principal, live=True)

    async def _subscribe(self, message: dict[str, Any]) -> None:
        if self.lens is None:
            raise _Close(UNAUTHORIZED, "Unauthorized")
        op_id, payload = message.get("id"), message.get("payload")
        if not isinstance(op_id, str) or not op_id or not isinstance(payload, dict):
            raise _Close(BAD_MESSAGE, "subscribe needs an id and a payload")
        query, variables, name = payload.get("query"), payload.get("variables"), payload.get("operationName")
        if not isinstance(query, str) or not isinstance(variables, dict | None) or not isinstance(name, str | None):
            raise _Close(BAD_MESSAGE, "payload needs query (string), optional variables (object), operationName")
        if op_id in self.operations or op_id in self.shared_ids:
            raise _Close(DUPLICATE_ID, f"Subscriber for {op_id} already exists")
        cap = self.settings.subscriptions_per_connection
        if len(self.operations) + len(self.shared_ids) >= cap:
            message_text = f"at most {cap} operations may run on one connection; complete one or open another"
            error = {"message": message_text, "extensions": {"code": "TOO_MANY_SUBSCRIPTIONS", "limit": cap}}
            await self.send({"type": "error", "id": op_id, "payload": [error]})
            return
        if shareable(query, variables, name):
            self.shared_ids.add(op_id)
            principal = self.principal
            self.hub.join(
                self.member, op_id, query, variables, name, lens=self.lens,
                context=lambda: self._new_context(principal),
                on_end=lambda: self.shared_ids.discard(op_id), count=self._count,
            )  # fmt: skip
            return
        self.operations[op_id] = asyncio.create_task(self._operate(op_id, query, variables, name))

    async def _operate(self, op_id: str, query: str, variables: dict[str, Any] | None, name: str | None) -> None:
        production = self.settings.production
        # Its own Context, so its event source follows this operation's feed alone (stale_check).
        context = self._new_context(self.principal)
        try:
            if await self._planned_query(op_id, query, variables, name):
                return
            planned = await self.hub.planned_frames(query, variables, name, context, self._count)
            if planned is not None:
                async for frames in planned:
                    for kind, payload, stale in frames:
                        self.send_raw(frame(kind, op_id, payload), stale)
                    if frames[-1][0] == "error":
                        return
                await self.send({"type": "complete", "id": op_id})
                return
            stream = await self.schema.stream(
                query,
                variable_values=variables,
                context_value=context,
                operation_name=name,
                allowed_operation_types=ALL_OPERATIONS,
            )
            async for result in stream:
                if isinstance(result, PreExecutionError) or (
                    isinstance(result, ExecutionResult) and result.data is None and result.errors
                ):
                    errors = [format_error(e, production=production) for e in result.errors or []]
                    await self.send({"type": "error", "id": op_id, "payload": errors})
                    return
                body: dict[str, Any] = {"data": result.data}
                if result.errors:
                    body["errors"] = [format_error(e, production=production) for e in result.errors]
                message = {"type": "next", "id": op_id, "payload": body}
                self.send_raw(orjson.dumps(message), context.events.stale_check())
            await self.send({"type": "complete", "id": op_id})
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("operation %s failed", op_id)
            error = format_error(GraphQLError(str(exc), original_error=exc), production=production)
            with contextlib.suppress(Exception):
                await self.send({"type": "error", "id": op_id, "payload": [error]})
        finally:
            self.operations.pop(op_id, None)

    async def _planned_query(self, op_id: str, query: str, variables: dict[str, Any] | None, name: str | None) -> bool:
        """A query answered by the planner as over HTTP (one statement, its JSON spliced into the
        frame); False when it is no query or the planner leaves it to the resolvers."""
        planner = self.hub.planner
        if planner is None or self.lens is None:
            return False
        plan = planner.plan(query, name)
        if plan is None:
            return False
        answer = await planner.execute(
            plan, variables, self.state.pool.acquire, collect_ids=False, lens=self.lens, extensions=False
        )
        metrics = self.state.metrics
        if metrics is not None:
            metrics.child(metrics.graphql_path, "planned" if answer is not None else "resolved").inc()
        if answer is None:
            return False
        self.send_raw(frame("next", op_id, answer.body))
        await self.send({"type": "complete", "id": op_id})
        return True


def routes(settings: Settings) -> list[WebSocketRoute]:
    schema = build_schema(
        limits=limits_of(settings),
        introspection=settings.introspection_enabled,
    )
    planner = Planner(schema._schema, limits_of(settings), production=settings.production)
    hub = SharedSubscriptions(schema, settings.production, planner if settings.graphql_planner else None)
    contexts = ContextFactory(settings)

    async def endpoint(ws: WebSocket) -> None:
        if PROTOCOL not in ws.scope.get("subprotocols", []):
            # Closing before accept refuses the handshake (HTTP 403): legacy graphql-ws and
            # protocol-less clients never get a socket.
            await ws.close(code=UNSUPPORTED_SUBPROTOCOL, reason="Subprotocol not acceptable")
            return
        await ws.accept(subprotocol=PROTOCOL)
        raw = ws.scope.get("extensions", {}).get(EXTENSION)
        await Connection(ws, schema, settings, hub, contexts, raw).run()

    return [WebSocketRoute("/graphql", endpoint)]
