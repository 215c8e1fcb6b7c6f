"""/graphql's planned path, behind the request's taking apart (api/graphql/over_http.py) and the
response cache: a request whose query the planner can answer (schema/plan/) costs one cached plan
look-up, one SQL statement and no Python object per field; a database outage on that path is a
503 with Retry-After. A fact mutation runs its own resolver and has its payload read by a planned
statement (schema/plan/mutations.py). Everything else — other mutations, webhook queries, invalid
documents, errors inside lists — goes, untouched, to the view (api/graphql/view.py), the
reference for every answer. Whatever may have written (a mutation's answer, the view's) carries
the reader's consistency token (api/reads/); a planned read needs none."""

from __future__ import annotations

import logging
import time
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from api.auth import authenticate_scope, known_principal, require
from api.cache import graphql as graphql_cache
from api.graphql.context import ContextFactory
from api.graphql.refusals import refusal
from api.graphql.request import GraphQLParams, media_of, params_of
from api.graphql.view import OPERATION_NAME_KEY
from api.reads import context as reads
from api.reads.middleware import with_write_token
from api.settings import Settings
from api.state import State, state_of
from db.errors import NewsfactsError, Unavailable, from_database
from db.lens import for_scope
from schema.plan.mutations import MutationAnswer, MutationPlanner
from schema.plan.run import Answer, Planner

log = logging.getLogger("newsfacts.graphql")


class PlannedGraphQL:
    """Answers planned reads itself and hands every other request to ``view``."""

    def __init__(
        self,
        settings: Settings,
        view: ASGIApp,
        planner: Planner | None,
        mutations: MutationPlanner | None = None,
        contexts: ContextFactory | None = None,
    ) -> None:
        self.settings = settings
        self.view = view
        self.planner = planner
        self.mutations = mutations
        self.contexts = contexts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        params = params_of(scope)
        started = time.perf_counter()
        state = state_of(scope)
        media = media_of(scope)
        try:
            answer = await self._answer(scope, state, params) if self.planner is not None else None
        except NewsfactsError:
            answer = None  # the view refuses it with the same typed error
        except Exception as exc:
            mapped = from_database(exc)
            if isinstance(mapped, Unavailable):
                await refusal(mapped, media)(scope, receive, send)
                return
            # Never worse than the resolvers: they answer, and the log says why.
            log.warning("planned GraphQL read failed; answered by the resolvers", exc_info=True)
            answer = None
        if answer is None:
            await self.view(scope, receive, with_write_token(scope, send))
            return
        status = 200
        headers = [(b"content-type", media.encode()), (b"content-length", str(len(answer.body)).encode())]
        if not isinstance(answer, MutationAnswer):
            scope[graphql_cache.CONTEXT_KEY] = answer  # the caches tag what it read
        else:
            send = with_write_token(scope, send)
            if answer.unavailable:
                # As the resolvers' path answers a response with no data for want of the database.
                status = 503
                headers.append((b"retry-after", str(Unavailable("").retry_after).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": answer.body})
        metrics = state.metrics
        if metrics is not None:
            outcome = "ok" if status == 200 else "error"
            metrics.graphql_operation(scope.get(OPERATION_NAME_KEY), outcome, "planned", time.perf_counter() - started)

    async def _answer(self, scope: Scope, state: State, params: GraphQLParams) -> Answer | MutationAnswer | None:
        assert self.planner is not None
        query, operation_name, variables = params.query, params.operation_name, params.variables
        if query is None:
            return None
        plan = self.planner.plan(query, operation_name)
        if plan is None:
            return await self._mutation(scope, state, query, operation_name, variables)
        principal = known_principal(scope) or await authenticate_scope(scope)
        require(principal, "read", anonymous_reads=self.settings.anonymous_reads)
        cache = state.cache
        # What it read: the response cache's tags, and a GET's CDN tags (api/graphql/caching.py).
        collect = (cache is not None and cache.enabled) or scope["method"] == "GET"
        lens = for_scope(principal.scope)
        try:
            answer = await self.planner.execute(plan, variables, state.reads.acquire, collect_ids=collect, lens=lens)
        except Exception as exc:
            if not (isinstance(from_database(exc), Unavailable) and reads.current().replica_failed):
                raise
            # The replica it ran on just went away: the primary answers before anyone sees a 503.
            # A primary that failed is not asked twice: the request would wait out its bounds again.
            answer = await self.planner.execute(plan, variables, state.pool.acquire, collect_ids=collect, lens=lens)
        if answer is not None:
            scope[graphql_cache.OPERATION_KEY] = "query"
            scope[OPERATION_NAME_KEY] = operation_name
        return answer

    async def _mutation(
        self, scope: Scope, state: State, query: str, operation_name: str | None, variables: dict[str, Any] | None
    ) -> MutationAnswer | None:
        """A mutation whose payloads the planner reads (schema/plan/mutations.py), or None for the
        resolvers. Nothing raised here may come after a write: the view would write again."""
        if self.mutations is None or self.contexts is None:
            return None
        plan = self.mutations.plan(query, operation_name)
        if plan is None:
            return None
        principal = await authenticate_scope(scope)
        require(principal, "read", anonymous_reads=self.settings.anonymous_reads)
        # Before anything is sent: the cache layer catches up on the write's events, and read
        # routing hands out its consistency token, for mutations.
        scope[graphql_cache.OPERATION_KEY] = "mutation"
        scope[OPERATION_NAME_KEY] = operation_name
        answer = await self.mutations.execute(plan, variables, self.contexts(state, principal), state.pool.acquire)
        if answer is None:
            del scope[graphql_cache.OPERATION_KEY]  # the resolvers' path says what it runs
        return answer
