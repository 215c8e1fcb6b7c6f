"""``GET /v1/events`` (the event log after a cursor, for polling and catch-up) and
``GET /v1/events/stream`` (the same as server-sent events: replay after ``Last-Event-ID`` or
``after``, then live, with heartbeat comments; each frame named by its event type), and
``POST /v1/events/tokens`` (a short-lived stream token for EventSource, api/stream_tokens.py).
Every event is shaped for the caller's scope as it leaves: the recall rules for read-scope keys
(and their stream tokens) and anonymous callers (db/events.py)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from api import stream_tokens
from api.auth import SCOPE_KEY as PRINCIPAL_KEY
from api.auth import Principal, authenticate, require
from api.events import broadcaster_of
from api.events.feed import EventFilter, Feed, FeedClosed, parse_types
from api.http_protocol import RawStream, chunk
from api.rest.params import refuse_unstorable
from api.rest.responses import json_response
from api.state import get_state
from db import events
from db.errors import BadUserInput, CursorExpired, FieldError, Unavailable, from_database
from db.lens import for_scope
from db.pool import Conn

log = logging.getLogger("newsfacts.events")

MAX_LIMIT = 1000
LIST_PARAMS = frozenset({"after", "limit", "type", "objectId"})
STREAM_PARAMS = frozenset({"after", "type", "objectId", "token", "limit"})


@dataclass(frozen=True)
class EventQuery:
    after: int | None
    limit: int
    filter: EventFilter


def _int(raw: str, where: tuple[str | int, ...], errors: list[FieldError], *, low: int, high: int) -> int | None:
    try:
        # Bounded length first: int() of a 5,000-digit string raises (Python's digit limit).
        value = int(raw) if len(raw) <= 20 else high + 1
    except ValueError:
        errors.append(FieldError(where, "INVALID_TYPE", f"must be an integer, not {raw[:40]!r}"))
        return None
    if not low <= value <= high:
        errors.append(FieldError(where, "OUT_OF_RANGE", f"must be between {low} and {high}"))
        return None
    return value


def parse_query(request: Request, allowed: frozenset[str]) -> EventQuery:
    """The cursor, page size and filters of an events request; every bad parameter is named."""
    refuse_unstorable(request)
    errors: list[FieldError] = []
    values: dict[str, list[str]] = {}
    for name, value in request.query_params.multi_items():
        if name not in allowed:
            hint = ", ".join(sorted(allowed))
            errors.append(
                FieldError(("query", name), "UNKNOWN_PARAMETER", f"is not a parameter here (allowed: {hint})")
            )
        else:
            values.setdefault(name, []).append(value)
    for name in ("after", "limit", "objectId", "token"):
        if len(values.get(name, [])) > 1:
            errors.append(FieldError(("query", name), "REPEATED_PARAMETER", "is given more than once"))
    after = None
    if "after" in values:
        after = _int(values["after"][0], ("query", "after"), errors, low=0, high=2**63 - 1)
    last_id = request.headers.get("last-event-id")
    if last_id is not None and last_id.strip():
        # EventSource sends it on every reconnect: it is newer than the after= of the original URL.
        after = _int(last_id.strip(), ("header", "Last-Event-ID"), errors, low=0, high=2**63 - 1)
    limit = 100
    if "limit" in values:
        limit = _int(values["limit"][0], ("query", "limit"), errors, low=1, high=MAX_LIMIT) or 100
    types: tuple[str, ...] = ()
    raw_types = [t.strip() for v in values.get("type", []) for t in v.split(",") if t.strip()]
    if raw_types:
        try:
            types = parse_types(raw_types, location=("query", "type"))
        except BadUserInput as exc:
            errors.extend(exc.errors)
    if errors:
        names = ", ".join(dict.fromkeys(str(e.path[1]) for e in errors))
        raise BadUserInput(f"invalid parameters: {names}", errors=errors)
    object_id = values["objectId"][0] if "objectId" in values else None
    return EventQuery(after, limit, EventFilter(types=types, object_id=object_id))


async def list_events(request: Request) -> Response:
    state = get_state(request)
    principal = await authenticate(request)
    require(principal, "read", anonymous_reads=state.settings.anonymous_reads)
    query = parse_query(request, LIST_PARAMS)
    after = query.after or 0
    async with state.pool.acquire() as conn:
        data = await events.list_after(
            conn,
            after,
            lens=for_scope(principal.scope),
            limit=query.limit + 1,
            types=query.filter.types or None,
            object_id=query.filter.object_id,
        )
        if after > 0:
            await _check_retained(conn, after)
    has_more = len(data) > query.limit
    data = data[: query.limit]
    next_after = data[-1]["sequence"] if data else after
    body = {"object": "list", "data": data, "hasMore": has_more, "nextAfter": next_after}
    # Events never change, but new ones arrive at any moment: no caching of the list.
    return json_response(body, headers={"Cache-Control": "no-store"})


async def _check_retained(conn: Conn, after: int) -> None:
    oldest = await events.oldest_sequence(conn)
    if oldest is not None and oldest > after + 1:
        raise CursorExpired(
            f"events after {after} up to {oldest - 1} were pruned (retention); "
            f"re-read current state and resume from after={oldest - 1}",
            oldest_sequence=oldest,
        )


def _sse(event: dict[str, Any]) -> bytes:
    # "event: claim.created" lets a page listen per type (addEventListener('claim.created', …));
    # EventSource.onmessage then sees no event — it fires for unnamed ones only.
    return b"id: %d\nevent: %s\ndata: %s\n\n" % (event["sequence"], event["type"].encode(), orjson.dumps(event))


def _frame(feed: Feed, event: dict[str, Any], raw: bool) -> bytes:
    """``event``'s SSE frame (an HTTP/1.1 chunk of it when ``raw``), encoded once per event and
    scope for every stream of this process: kept on the event's Envelope. An event read again
    under the recall rules (not its Envelope's form) is encoded for this stream alone."""
    envelope = feed.delivered
    if envelope is None or event is not envelope.doc(feed.lens):
        data = _sse(event)
        return chunk(data) if raw else data
    key = ("sse-chunk" if raw else "sse", feed.lens.public)
    found = envelope.encoded.get(key)
    if found is None:
        data = envelope.encoded.get(("sse", feed.lens.public)) or _sse(event)
        envelope.encoded[("sse", feed.lens.public)] = data
        found = envelope.encoded[key] = chunk(data) if raw else data
    return found


PREAMBLE = b"retry: 1000\n: connected\n\n"  # retry: how long EventSource waits before reconnecting
HEARTBEAT = b": heartbeat\n\n"
HEARTBEAT_CHUNK = chunk(HEARTBEAT)
STREAM_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-store"),
    (b"x-accel-buffering", b"no"),
]


class EventStream:
    """The ``text/event-stream`` response of one Feed, in one task per stream. Under ``newsfacts
    serve`` (api/http_protocol.py RawStream) each frame is written straight to the connection, the
    same bytes for every stream of that event and scope, and the client's going is signalled to
    the feed: no ASGI message per event, no second task per stream listening for the disconnect
    (Starlette's StreamingResponse runs two, in a task group). Under another server: ASGI sends,
    and a task that waits for the disconnect."""

    def __init__(self, feed: Feed, heartbeat: float, limit: int | None) -> None:
        self.feed = feed
        self.heartbeat = heartbeat
        # limit=N ends the stream after N events, so a script (or the README's quickstart) gets the
        # next events and its prompt back at once instead of at the next heartbeat; None: endless.
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] == "HEAD":
            # The headers a GET would get, and no stream: a HEAD has no body, so nothing would
            # ever end it (it held its connection, and its task outlived the client).
            await send({"type": "http.response.start", "status": 200, "headers": STREAM_HEADERS})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return
        raw = RawStream.of(scope)
        await send({"type": "http.response.start", "status": 200, "headers": STREAM_HEADERS})
        await send({"type": "http.response.body", "body": PREAMBLE, "more_body": True})
        feed, remaining = self.feed, self.limit
        watcher = asyncio.create_task(_watch(receive, feed)) if raw is None else None
        async with feed:
            if raw is not None:
                raw.on_lost(feed.cancel)
                if raw.gone:
                    feed.cancel()
            try:
                while remaining != 0:
                    try:
                        event = await feed.next(wait=self.heartbeat)
                    except FeedClosed:
                        break
                    except Exception as exc:
                        if not isinstance(from_database(exc), Unavailable):
                            raise
                        # The catch-up failed after the stream started: end it cleanly, and the client
                        # reconnects after `retry` with Last-Event-ID, losing nothing.
                        log.warning("event stream ended: the database is unavailable (%s: %s)", type(exc).__name__, exc)
                        break
                    if raw is not None and raw.ready:
                        raw.write(HEARTBEAT_CHUNK if event is None else _frame(feed, event, True))
                    else:
                        data = HEARTBEAT if event is None else _frame(feed, event, False)
                        await send({"type": "http.response.body", "body": data, "more_body": True})
                    if event is not None and remaining is not None:
                        remaining -= 1
            finally:
                if raw is not None:
                    raw.on_lost(None)
                if watcher is not None:
                    watcher.cancel()
        await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _watch(receive: Receive, feed: Feed) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
    feed.cancel()


async def _stream_caller(request: Request) -> Principal:
    """The caller of a stream: a ``?token=`` (EventSource cannot send headers) or the usual Bearer key."""
    tokens = request.query_params.getlist("token")
    if not tokens:
        return await authenticate(request)
    client = request.client.host if request.client else "unknown"
    principal = await stream_tokens.principal_for(get_state(request), tokens[0], client)
    request.scope[PRINCIPAL_KEY] = principal  # the access log names the key
    return principal


async def create_stream_token(request: Request) -> Response:
    state = get_state(request)
    principal = await authenticate(request)
    require(principal, "read", anonymous_reads=False)
    token, expires = await stream_tokens.issue(state, principal)
    body = {
        "object": "streamToken",
        "token": token,
        "expiresAt": datetime.fromtimestamp(expires, UTC).isoformat(),
        "streamUrl": f"/v1/events/stream?token={token}",
    }
    return json_response(body, status=201, headers={"Cache-Control": "no-store"})


async def stream_events(request: Request) -> ASGIApp:
    state = get_state(request)
    caller = await _stream_caller(request)
    require(caller, "read", anonymous_reads=state.settings.anonymous_reads)
    lens = for_scope(caller.scope)  # a stream token has its key's scope
    query = parse_query(request, STREAM_PARAMS)
    if query.after is not None:
        # The catch-up reads PostgreSQL: one statement before the status line, so a database that
        # is down or not answering refuses the stream (503, Retry-After) rather than cutting it.
        async with state.pool.acquire() as conn:
            if query.after > 0:
                await _check_retained(conn, query.after)
            else:
                await events.oldest_sequence(conn)
    broadcaster = broadcaster_of(state)
    heartbeat = float(state.settings.event_heartbeat_seconds)
    feed = Feed(broadcaster, state.pool, after=query.after, filter=query.filter, lens=lens)
    return EventStream(feed, heartbeat, query.limit if "limit" in request.query_params else None)


routes: list[BaseRoute] = [
    Route("/v1/events", list_events, methods=["GET"]),
    Route("/v1/events/stream", stream_events, methods=["GET"]),
    Route("/v1/events/tokens", create_stream_token, methods=["POST"]),
]
