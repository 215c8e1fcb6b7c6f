"""POST /graphql, in front of the resolvers' view: every JSON body is taken apart defensively
first (api/body.py: strict UTF-8, bounded nesting and numbers, an object — each refusal a 400
with its own code, before strawberry sees anything), and a request whose query the planner can
answer (schema/plan/) costs one cached plan look-up, one SQL statement and no Python object per
field; a database outage on that path is a 503 with Retry-After. Everything else — GET
(GraphiQL), other content types, mutations, webhook queries, invalid documents, errors inside
lists — is replayed, untouched, to the view (api/graphql/view.py), the reference for every answer."""

from __future__ import annotations

import logging
import time
from typing import Any

import orjson
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from api.auth import authenticate, require
from api.body import parse_object
from api.cache import graphql as graphql_cache
from api.graphql.view import OPERATION_NAME_KEY
from api.metrics import operation_label
from api.settings import Settings
from api.state import State, state_of
from db.errors import NewsfactsError, PayloadTooLarge, Unavailable, from_database
from db.lens import for_scope
from schema import persisted
from schema.errors import error_body
from schema.plan.run import Answer, Planner

log = logging.getLogger("newsfacts.graphql")
_JSON_HEADERS = [(b"content-type", b"application/json")]


class PlannedGraphQL:
    """Answers planned reads itself and hands every other request to ``view``."""

    def __init__(self, settings: Settings, view: ASGIApp, planner: Planner | None) -> None:
        self.settings = settings
        self.view = view
        self.planner = planner

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or not _is_json(scope):
            await self.view(scope, receive, send)
            return
        limit = self.settings.max_body_bytes
        body, complete = await graphql_cache.read_body(receive, limit)
        if not complete or len(body) > limit:
            await _refuse(send, PayloadTooLarge(f"the body is larger than {limit} bytes"))
            return
        try:
            payload = parse_object(body)
        except NewsfactsError as exc:
            await _refuse(send, exc)
            return
        started = time.perf_counter()
        state = state_of(scope)
        try:
            answer = await self._answer(scope, state, payload) if self.planner is not None else None
        except NewsfactsError:
            answer = None  # the view refuses it with the same typed error
        except Exception as exc:
            mapped = from_database(exc)
            if isinstance(mapped, Unavailable):
                await _refuse(send, mapped)
                return
            # Never worse than the resolvers: they answer, and the log says why.
            log.warning("planned GraphQL read failed; answered by the resolvers", exc_info=True)
            answer = None
        if answer is None:
            await self.view(scope, graphql_cache.replaying(body, complete, receive), send)
            return
        scope[graphql_cache.CONTEXT_KEY] = answer
        headers = [*_JSON_HEADERS, (b"content-length", str(len(answer.body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": answer.body})
        metrics = state.metrics
        if metrics is not None:
            name = operation_label(metrics, scope.get(OPERATION_NAME_KEY))
            metrics.child(metrics.graphql, name, "ok").observe(time.perf_counter() - started)
            metrics.child(metrics.graphql_path, "planned").inc()

    async def _answer(self, scope: Scope, state: State, payload: dict[str, Any]) -> Answer | None:
        assert self.planner is not None
        query = payload.get("query")
        operation_name = payload.get("operationName")
        variables = payload.get("variables")
        extensions = payload.get("extensions")
        if not isinstance(operation_name, str | None) or not isinstance(variables, dict | None):
            return None
        if extensions is not None or self.settings.graphql_persisted_only:
            if not isinstance(extensions, dict | None):
                return None
            query = await persisted.resolve(
                state.redis, query, extensions, allow_list_only=self.settings.graphql_persisted_only
            )
        if not isinstance(query, str):
            return None
        plan = self.planner.plan(query, operation_name)
        if plan is None:
            return None
        principal = await authenticate(Request(scope))
        require(principal, "read", anonymous_reads=self.settings.anonymous_reads)
        cache = state.cache
        collect = cache is not None and cache.enabled
        lens = for_scope(principal.scope)
        try:
            answer = await self.planner.execute(plan, variables, state.reads.acquire, collect_ids=collect, lens=lens)
        except Exception as exc:
            if not isinstance(from_database(exc), Unavailable):
                raise
            # Reads may run on a replica that just went away: the primary answers before anyone
            # sees a 503 (a primary outage fails here again, and is the 503).
            answer = await self.planner.execute(plan, variables, state.pool.acquire, collect_ids=collect, lens=lens)
        if answer is not None:
            scope[graphql_cache.OPERATION_KEY] = "query"
            scope[OPERATION_NAME_KEY] = operation_name
        return answer


async def _refuse(send: Send, exc: NewsfactsError) -> None:
    """A request refused before any execution: GraphQL's error shape with the catalogue's code, at
    the error's HTTP status (and Retry-After for UNAVAILABLE)."""
    body = orjson.dumps(error_body(exc.code, exc.detail, errors=[e.as_dict() for e in exc.errors]))
    headers = [*_JSON_HEADERS, (b"content-length", str(len(body)).encode())]
    if isinstance(exc, Unavailable):
        headers.append((b"retry-after", str(exc.retry_after).encode()))
    await send({"type": "http.response.start", "status": exc.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _is_json(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"content-type":
            return bool(value.split(b";", 1)[0].strip().lower() == b"application/json")
    return False
