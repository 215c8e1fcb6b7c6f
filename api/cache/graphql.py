"""Caches GraphQL query responses in front of the planner and strawberry: a hit is answered before
any parsing, validation or execution. The key is the request's parameters as
api/graphql/over_http.py took them apart (the document, a persisted query's resolved), the
caller's scope and the answer's media type; the tags are every fact the operation read and every
list family it walked (schema.context.Context.touched), so writes invalidate exactly those."""

from __future__ import annotations

import hashlib
from functools import lru_cache

import orjson
from graphql import GraphQLError, OperationType, get_operation_ast, parse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.cache.middleware import HIT_TAGS_KEY, catch_up, computed_seq, reader_min_seq, reader_scope
from api.cache.store import Entry, ResponseCache
from api.cache.tags import depends, ids_in
from api.graphql.request import GraphQLParams, media_of, params_of
from api.metrics import operation_label
from api.state import state_of

CONTEXT_KEY = "newsfacts.graphql.context"
OPERATION_KEY = "newsfacts.graphql.operation"
MAX_ENTRY_BYTES = 1_000_000


@lru_cache(maxsize=1024)
def operation_type(query: str, operation_name: str | None) -> str | None:
    """ "query", "mutation" or "subscription" for the operation a request runs (None if unparsable)."""
    try:
        operation = get_operation_ast(parse(query), operation_name)
    except GraphQLError:
        return None
    if operation is None:
        return None
    kind: OperationType = operation.operation
    return str(kind.value)


def request_key(params: GraphQLParams, caller: str, persisted_only: bool, media: str) -> str:
    """The cache key of a GraphQL request (its parameters came through api/graphql/request.py:
    typed, and their nesting bounded far below orjson's own limit)."""
    variables = orjson.dumps(params.variables or {}, option=orjson.OPT_SORT_KEYS)
    parts = [params.query or "", variables.decode(), params.operation_name or "", caller, str(persisted_only), media]
    return "gql:" + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


class GraphQLCache:
    """Wraps the GraphQL ASGI app; queries are cached, POSTed or GET."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = state_of(scope)
        cache = state.cache
        if scope["type"] != "http" or cache is None or not cache.enabled:
            # Without an invalidator there is nothing a mutation's answer must wait for.
            await self.app(scope, receive, _after_mutation(scope, send) if state.cache_invalidator else send)
            return
        caller = await reader_scope(scope, state)
        if caller is None:
            await self.app(scope, receive, send)  # strawberry answers with the typed error
            return
        params = params_of(scope)
        key = request_key(params, caller, state.settings.graphql_persisted_only, media_of(scope))
        entry, tier = await cache.lookup(key, min_seq=reader_min_seq())
        metrics = state.metrics
        if metrics is not None:
            metrics.child(metrics.cache, "graphql", tier if entry is not None else "miss").inc()
        if entry is not None:
            if metrics is not None:
                name = operation_label(metrics, params.operation_name)
                metrics.child(metrics.graphql, name, "cache_hit").observe(0.0)
            scope[HIT_TAGS_KEY] = entry.tags  # the CDN tags of a GET (api/graphql/caching.py)
            headers = [*entry.raw_headers, (b"x-cache", f"hit; tier={tier}".encode())]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": entry.body})
            return
        await self._compute(scope, receive, send, cache, key, leader=tier == "miss")

    async def _compute(
        self, scope: Scope, receive: Receive, send: Send, cache: ResponseCache, key: str, *, leader: bool
    ) -> None:
        seq = cache.applied_seq  # before executing: later commits bump a tag past it
        start: Message | None = None
        chunks: list[bytes] = []
        size = 0

        async def capture(message: Message) -> None:
            nonlocal start, size
            if message["type"] == "http.response.start":
                start = message
                message = {**message, "headers": [*message.get("headers", []), (b"x-cache", b"miss")]}
                if scope.get(OPERATION_KEY) == "mutation":
                    await catch_up(scope)
            elif message["type"] == "http.response.body":
                size += len(message.get("body", b""))
                if size <= MAX_ENTRY_BYTES:
                    chunks.append(message.get("body", b""))
            await send(message)

        entry: Entry | None = None
        try:
            await self.app(scope, receive, capture)
            seq = computed_seq(seq)
            context = scope.get(CONTEXT_KEY)
            body = b"".join(chunks)
            if (
                start is not None
                and start["status"] == 200
                and size <= MAX_ENTRY_BYTES
                and scope.get(OPERATION_KEY) == "query"
                and context is not None
                and context.cacheable
                and not orjson.loads(body).get("errors")  # partial results are not worth keeping
            ):
                headers = tuple(
                    (k.decode("latin-1"), v.decode("latin-1"))
                    for k, v in start.get("headers", [])
                    if k.lower() in (b"content-type",)
                )
                entry = Entry(200, headers, body, frozenset(depends(ids_in(body) | context.touched)), seq)
                await cache.put(key, entry)
        finally:
            if leader:
                cache.finish_flight(key, entry)


def _after_mutation(scope: Scope, send: Send) -> Send:
    """Holds a mutation's response until this process' cache has applied its events."""

    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start" and scope.get(OPERATION_KEY) == "mutation":
            await catch_up(scope)
        await send(message)

    return wrapped
