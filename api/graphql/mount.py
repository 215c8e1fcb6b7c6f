"""The /graphql routes, wired: over HTTP the request is taken apart in front (over_http.py), then
the response cache (api/cache/graphql.py), the planner (endpoint.py) and strawberry's view
(view.py); over WebSocket, ws.py."""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from api.cache import graphql as graphql_cache
from api.graphql import ws
from api.graphql.endpoint import PlannedGraphQL
from api.graphql.over_http import GraphQLOverHTTP
from api.graphql.view import GraphQLApp, graphiql, limits_of
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
    front = GraphQLOverHTTP(settings, cached, graphiql if settings.graphiql_enabled else None)
    return [Route("/graphql", front, methods=["GET", "POST"]), *ws.routes(settings)]
