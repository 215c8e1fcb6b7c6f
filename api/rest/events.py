"""``GET /v1/events`` (the event log after a cursor, for polling and catch-up) and
``GET /v1/events/stream`` (the same as server-sent events: replay after ``Last-Event-ID`` or
``after``, then live, with heartbeat comments)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from api.auth import authenticate, require
from api.events import broadcaster_of
from api.events.feed import EventFilter, Feed, FeedClosed, parse_types
from api.rest.params import refuse_unstorable
from api.rest.responses import json_response
from api.state import get_state
from db import events
from db.errors import BadUserInput, CursorExpired, FieldError
from db.pool import Conn

MAX_LIMIT = 1000
LIST_PARAMS = frozenset({"after", "limit", "type", "objectId"})
STREAM_PARAMS = frozenset({"after", "type", "objectId"})


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
    for name in ("after", "limit", "objectId"):
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
    require(await authenticate(request), "read", anonymous_reads=state.settings.anonymous_reads)
    query = parse_query(request, LIST_PARAMS)
    after = query.after or 0
    async with state.pool.acquire() as conn:
        data = await events.list_after(
            conn, after, limit=query.limit + 1, types=query.filter.types or None, object_id=query.filter.object_id
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
    # No "event:" field: EventSource.onmessage then sees every event; the type is in the data.
    return b"id: %d\ndata: %s\n\n" % (event["sequence"], orjson.dumps(event))


async def stream_events(request: Request) -> Response:
    state = get_state(request)
    require(await authenticate(request), "read", anonymous_reads=state.settings.anonymous_reads)
    query = parse_query(request, STREAM_PARAMS)
    if query.after is not None and query.after > 0:
        async with state.pool.acquire() as conn:
            await _check_retained(conn, query.after)
    broadcaster = broadcaster_of(state)
    heartbeat = float(state.settings.event_heartbeat_seconds)

    async def body() -> AsyncIterator[bytes]:
        # retry: how long EventSource waits before reconnecting (with Last-Event-ID).
        yield b"retry: 1000\n: connected\n\n"
        async with Feed(broadcaster, state.pool, after=query.after, filter=query.filter) as feed:
            while True:
                try:
                    event = await feed.next(wait=heartbeat)
                except FeedClosed:
                    return
                yield b": heartbeat\n\n" if event is None else _sse(event)

    return StreamingResponse(
        body(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


routes: list[BaseRoute] = [
    Route("/v1/events", list_events, methods=["GET"]),
    Route("/v1/events/stream", stream_events, methods=["GET"]),
]
