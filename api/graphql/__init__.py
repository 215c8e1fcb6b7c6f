"""/graphql over HTTP: reads the planner can answer go through api/graphql/endpoint.py (one SQL
statement each), everything else through strawberry's view (api/graphql/view.py); the response
cache (api/cache/graphql.py) sits in front of both."""

from __future__ import annotations

from starlette.routing import Route

from api.cache import graphql as graphql_cache
from api.graphql.endpoint import PlannedGraphQL
from api.graphql.view import GraphQLApp, limits_of
from api.settings import Settings
from schema.plan.run import Planner


def routes(settings: Settings) -> list[Route]:
    view = GraphQLApp(settings)
    app = view
    if settings.graphql_planner:
        planner = Planner(view.schema._schema, limits_of(settings), production=settings.production)  # type: ignore[attr-defined]
        app = PlannedGraphQL(settings, view, planner)  # type: ignore[assignment]
    return [Route("/graphql", graphql_cache.GraphQLCache(app), methods=["GET", "POST"])]
