"""POST /graphql, the planned path: a JSON request whose query the planner can answer
(schema/plan/) costs one parse of the body, one cached plan look-up, one SQL statement and no
Python object per field. Everything else — GET (GraphiQL), other content types, mutations,
webhook queries, invalid documents, errors inside lists — is replayed, untouched, to the
resolvers' view (api/graphql/view.py), which stays the reference for every answer."""

from __future__ import annotations

import logging
import time
from typing import Any

import orjson
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from api.auth import authenticate, require
from api.cache import graphql as graphql_cache
from api.graphql.view import OPERATION_NAME_KEY
from api.metrics import operation_label
from api.settings import Settings
from api.state import get_state
from db.errors import NewsfactsError
from schema import persisted
from schema.plan.run import Planner

log = logging.getLogger("newsfacts.graphql")
_JSON_HEADERS = [(b"content-type", b"application/json")]


class PlannedGraphQL:
    """Answers planned reads itself and hands every other request to ``view``."""

    def __init__(self, settings: Settings, view: ASGIApp, planner: Planner) -> None:
        self.settings = settings
        self.view = view
        self.planner = planner

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or not _is_json(scope):
            await self.view(scope, receive, send)
            return
        body, complete = await graphql_cache.read_body(receive, self.settings.max_body_bytes)
        replay = graphql_cache.replaying(body, complete, receive)
        started = time.perf_counter()
        try:
            answer = await self._answer(scope, body) if complete and len(body) <= self.settings.max_body_bytes else None
        except NewsfactsError:
            answer = None  # the view refuses it with the same typed error
        except Exception:  # never worse than the resolvers: they answer, and the log says why
            log.warning("planned GraphQL read failed; answered by the resolvers", exc_info=True)
            answer = None
        if answer is None:
            await self.view(scope, replay, send)
            return
        scope[graphql_cache.CONTEXT_KEY] = answer
        headers = [*_JSON_HEADERS, (b"content-length", str(len(answer.body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": answer.body})
        metrics = get_state(Request(scope)).services.get("metrics")
        if metrics is not None:
            name = operation_label(metrics, scope.get(OPERATION_NAME_KEY))
            metrics.child(metrics.graphql, name, "ok").observe(time.perf_counter() - started)
            metrics.child(metrics.graphql_path, "planned").inc()

    async def _answer(self, scope: Scope, body: bytes) -> Any:
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError:
            return None
        if not isinstance(payload, dict):
            return None
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
                get_state(Request(scope)).redis,
                query,
                extensions,
                allow_list_only=self.settings.graphql_persisted_only,
            )
        if not isinstance(query, str):
            return None
        plan = self.planner.plan(query, operation_name)
        if plan is None:
            return None
        request = Request(scope)
        principal = await authenticate(request)
        require(principal, "read", anonymous_reads=self.settings.anonymous_reads)
        state = get_state(request)
        cache = state.services.get("cache")
        answer = await self.planner.execute(
            plan, variables, state.reads.acquire, collect_ids=cache is not None and cache.enabled
        )
        if answer is not None:
            scope[graphql_cache.OPERATION_KEY] = "query"
            scope[OPERATION_NAME_KEY] = operation_name
        return answer


def _is_json(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"content-type":
            return bool(value.split(b";", 1)[0].strip().lower() == b"application/json")
    return False
