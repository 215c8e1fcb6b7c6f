"""GraphQL over WebSocket at /graphql, graphql-transport-ws only (the legacy graphql-ws subprotocol
is refused: it has no auth handshake worth the name). Auth (read scope) comes in connection_init's
payload; each connection runs at most SUBSCRIPTIONS_PER_CONNECTION operations; the server pings
every EVENT_HEARTBEAT_SECONDS; protocol violations close with the protocol's 44xx codes, and an
operation's own errors only end that operation, never the connection or its neighbours."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

import orjson
from graphql import GraphQLError
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState
from strawberry.types import ExecutionResult
from strawberry.types.execution import PreExecutionError
from strawberry.types.graphql import OperationType

from api.auth import bearer_token, principal_for_token, require
from api.events import broadcaster_of
from api.events.feed import EventFilter, Feed
from api.settings import Settings
from api.state import State, get_state
from db.errors import NewsfactsError
from schema import build_schema
from schema.context import Context
from schema.errors import format_error
from schema.limits import Limits

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
        predicate: Callable[[dict[str, Any]], bool] | None,
    ) -> Feed:
        flt = EventFilter(types=types, object_id=object_id, predicate=predicate)
        return Feed(broadcaster_of(self.state), self.state.pool, after=after, filter=flt)


class _Close(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class Connection:
    """One graphql-transport-ws connection and its running operations."""

    def __init__(self, ws: WebSocket, schema: Any, settings: Settings) -> None:
        self.ws = ws
        self.schema = schema
        self.settings = settings
        self.state = get_state(ws)
        self.context: Context | None = None
        self.operations: dict[str, asyncio.Task[None]] = {}
        self.send_lock = asyncio.Lock()

    async def send(self, message: dict[str, Any]) -> None:
        if self.ws.application_state != WebSocketState.CONNECTED:
            return
        async with self.send_lock:
            await self.ws.send_text(orjson.dumps(message).decode())

    async def run(self) -> None:
        pinger = asyncio.create_task(self._ping())
        try:
            await self._receive_loop()
        except _Close as close:
            with contextlib.suppress(Exception):
                await self.ws.close(code=close.code, reason=close.reason)
        except WebSocketDisconnect:
            pass
        finally:
            pinger.cancel()
            for task in self.operations.values():
                task.cancel()
            await asyncio.gather(pinger, *self.operations.values(), return_exceptions=True)

    async def _ping(self) -> None:
        while True:
            await asyncio.sleep(self.settings.event_heartbeat_seconds)
            with contextlib.suppress(Exception):
                await self.send({"type": "ping", "payload": {"reason": "keepalive"}})

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
        raw = message.get("text") if message.get("text") is not None else message.get("bytes")
        try:
            parsed = orjson.loads(raw or b"")
        except orjson.JSONDecodeError:
            raise _Close(BAD_MESSAGE, "Invalid message: not JSON") from None
        if not isinstance(parsed, dict) or not isinstance(parsed.get("type"), str):
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
            task = self.operations.pop(str(message.get("id")), None)
            if task is not None:
                task.cancel()
        else:
            raise _Close(BAD_MESSAGE, f"Invalid message type {kind!r}")

    async def _init(self, payload: Any) -> None:
        if self.context is not None:
            raise _Close(TOO_MANY_INITS, "Too many initialisation requests")
        if payload is not None and not isinstance(payload, dict):
            raise _Close(BAD_MESSAGE, "connection_init payload must be an object")
        authorization = (payload or {}).get("authorization") or (payload or {}).get("Authorization")
        client = self.ws.client.host if self.ws.client else "unknown"
        try:
            token = bearer_token(authorization if isinstance(authorization, str) else None)
            principal = await principal_for_token(self.state, token, client)
            require(principal, "read", anonymous_reads=self.settings.anonymous_reads)
        except NewsfactsError as exc:
            raise _Close(FORBIDDEN, f"Forbidden: {exc.detail}"[:120]) from None
        self.context = Context(
            pool=self.state.pool,
            principal=principal,
            production=self.settings.production,
            max_cost=self.settings.graphql_max_cost,
        )
        self.context.events = FeedSource(self.state)
        await self.send({"type": "connection_ack"})

    async def _subscribe(self, message: dict[str, Any]) -> None:
        if self.context is None:
            raise _Close(UNAUTHORIZED, "Unauthorized")
        op_id, payload = message.get("id"), message.get("payload")
        if not isinstance(op_id, str) or not op_id or not isinstance(payload, dict):
            raise _Close(BAD_MESSAGE, "subscribe needs an id and a payload")
        query, variables, name = payload.get("query"), payload.get("variables"), payload.get("operationName")
        if not isinstance(query, str) or not isinstance(variables, dict | None) or not isinstance(name, str | None):
            raise _Close(BAD_MESSAGE, "payload needs query (string), optional variables (object), operationName")
        if op_id in self.operations:
            raise _Close(DUPLICATE_ID, f"Subscriber for {op_id} already exists")
        cap = self.settings.subscriptions_per_connection
        if len(self.operations) >= cap:
            message_text = f"at most {cap} operations may run on one connection; complete one or open another"
            error = {"message": message_text, "extensions": {"code": "TOO_MANY_SUBSCRIPTIONS", "limit": cap}}
            await self.send({"type": "error", "id": op_id, "payload": [error]})
            return
        self.operations[op_id] = asyncio.create_task(self._operate(op_id, query, variables, name))

    async def _operate(self, op_id: str, query: str, variables: dict[str, Any] | None, name: str | None) -> None:
        production = self.settings.production
        try:
            stream = await self.schema.stream(
                query,
                variable_values=variables,
                context_value=self.context,
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
                await self.send({"type": "next", "id": op_id, "payload": body})
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


def routes(settings: Settings) -> list[WebSocketRoute]:
    schema = build_schema(
        limits=Limits(max_depth=settings.graphql_max_depth, max_cost=settings.graphql_max_cost),
        introspection=settings.introspection_enabled,
    )

    async def endpoint(ws: WebSocket) -> None:
        if PROTOCOL not in ws.scope.get("subprotocols", []):
            # Closing before accept refuses the handshake (HTTP 403): legacy graphql-ws and
            # protocol-less clients never get a socket.
            await ws.close(code=UNSUPPORTED_SUBPROTOCOL, reason="Subprotocol not acceptable")
            return
        await ws.accept(subprotocol=PROTOCOL)
        await Connection(ws, schema, settings).run()

    return [WebSocketRoute("/graphql", endpoint)]
