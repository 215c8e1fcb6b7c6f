"""/graphql, one package per transport: over HTTP, reads the planner can answer go through
endpoint.py (one SQL statement each) and everything else through strawberry's view (view.py),
behind the response cache (api/cache/graphql.py); over WebSocket, ws.py speaks
graphql-transport-ws and shared.py runs identical live subscriptions once. context.py builds
every operation's Context for both."""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from api.cache import graphql as graphql_cache
from api.graphql import ws
from api.graphql.endpoint import PlannedGraphQL
from api.graphql.view import GraphQLApp, limits_of
from api.settings import Settings
from schema.plan.mutations import MutationPlanner
from schema.plan.run import Planner


def routes(settings: Settings) -> list[BaseRoute]:
    view = GraphQLApp(settings)
    planner = (
        Planner(view.schema._schema, limits_of(settings), production=settings.production)  # type: ignore[attr-defined]
        if settings.graphql_planner
        else None
    )
    mutations = MutationPlanner(planner, view.schema) if planner is not None else None
    app = PlannedGraphQL(settings, view, planner, mutations, view.contexts)
    # Without the cache its layer would only pass requests through (a call per request).
    cached = graphql_cache.GraphQLCache(app) if settings.cache_enabled else app
    return [Route("/graphql", cached, methods=["GET", "POST"]), *ws.routes(settings)]
