"""The resolvers' path of /graphql — strawberry's ASGI view, given the parameters
api/graphql/over_http.py took apart (strawberry parses no body of its own): per request,
authenticate (read scope), build the schema Context (pool, fresh DataLoaders, caller), and answer
every error — even those raised before execution — as GraphQL JSON with ``extensions.code``
(rendered by api/graphql/refusals.py), as the negotiated media type: as
application/graphql-response+json a request error is a 400 without ``data``. It serves webhook
and key mutations, webhook queries and whatever the planner (api/graphql/endpoint.py) hands it;
GraphiQL's page is ``graphiql``. Path onward: schema/<noun>.py → schema/loaders.py → db/."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import orjson
from cross_web import HTTPException, StarletteRequestAdapter
from graphql import GraphQLError
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.types import ExecutionResult

from api.auth import authenticate, require
from api.cache import graphql as graphql_cache
from api.graphql.context import ContextFactory
from api.graphql.refusals import plain_refusal, refusal
from api.graphql.request import JSON, media_of, params_of
from api.settings import Settings
from api.state import get_state, state_of
from db.errors import BadUserInput, FieldError, NewsfactsError, Unavailable, code_for_status
from schema import build_schema
from schema.context import Context
from schema.errors import format_error
from schema.limits import Limits

OPERATION_NAME_KEY = "newsfacts.graphql.operation_name"
_REQUEST_ERROR_KEY = "newsfacts.graphql.request_error"
# Our own GraphiQL page (api/static/graphiql/): every script and style it loads is served by this
# app, where strawberry's page loads react, graphiql and js-cookie from a CDN.
GRAPHIQL_HTML = (Path(__file__).resolve().parent.parent / "static" / "graphiql" / "index.html").read_text()


class RequestAdapter(StarletteRequestAdapter):
    """strawberry's adapter, holding its request where parse_http_body can read its scope."""

    def __init__(self, request: Request) -> None:
        super().__init__(request)
        self.request = request


class GraphQLApp(GraphQL[Context, None]):
    request_adapter_class = RequestAdapter

    def __init__(self, settings: Settings, **kwargs: Any) -> None:
        super().__init__(
            build_schema(limits=limits_of(settings), introspection=settings.introspection_enabled, **kwargs),
            # The page is served by api/graphql/over_http.py; GETs reach here as queries only.
            graphql_ide=None,
            allow_queries_via_get=True,
        )
        self.settings = settings
        self.contexts = ContextFactory(settings)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope, receive)
        started = time.perf_counter()
        media = media_of(scope)
        try:
            response = await self.run(request)
        except NewsfactsError as exc:
            response = refusal(exc, media)
        except HTTPException as exc:
            response = plain_refusal(exc.status_code, code_for_status(exc.status_code), exc.reason, media)
        else:
            if media != JSON:
                response.headers["content-type"] = media
                if scope.get(_REQUEST_ERROR_KEY):
                    response.status_code = 400
        response = _outage_status(response)
        await response(scope, receive, send)
        metrics = state_of(scope).metrics
        if metrics is not None:
            outcome = "ok" if response.status_code == 200 else "error"
            seconds = time.perf_counter() - started
            metrics.graphql_operation(scope.get(OPERATION_NAME_KEY), outcome, "resolved", seconds)

    def should_render_graphql_ide(self, request: Any) -> bool:
        return False  # api/graphql/over_http.py serves the page, before anything else

    async def parse_http_body(self, request: RequestAdapter) -> GraphQLRequestData:  # type: ignore[override]
        """The parameters api/graphql/over_http.py took apart (strawberry's own parsing is not
        used: every decoder is db/json_input.py)."""
        params = params_of(request.request.scope)
        transport = self._get_stream_transport_from_headers(request.headers)
        return GraphQLRequestData(
            query=params.query,
            variables=params.variables,
            operation_name=params.operation_name,
            extensions=params.extensions,
            protocol=transport.protocol if transport else "http",
        )

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> Context:
        state = get_state(request)
        principal = await authenticate(request)
        require(principal, "read", anonymous_reads=self.settings.anonymous_reads)
        context = self.contexts(state, principal)
        request.scope[graphql_cache.CONTEXT_KEY] = context  # the cache tags its entry with context.touched
        return context

    async def execute_single(
        self,
        request: Request,
        request_adapter: Any,
        sub_response: Response,
        context: Context,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        query = request_data.query  # a persisted query's hash was resolved in front
        if query is not None:
            operation = graphql_cache.operation_type(query, request_data.operation_name)
            request.scope[graphql_cache.OPERATION_KEY] = operation
            if operation == "query":  # read-only: it may run on a replica, as planned reads do
                context.reads = get_state(request).reads.acquire
            elif operation == "subscription":
                # Executed once as a query, its resolver's stream is no value: an INTERNAL error
                # with a traceback in the log. (A streaming Accept never comes here.)
                message = "a subscription runs over WebSocket at /graphql (graphql-transport-ws), not a plain request"
                raise BadUserInput(message, errors=[FieldError(("query",), "SUBSCRIPTION_OVER_HTTP", message)])
        request.scope[OPERATION_NAME_KEY] = request_data.operation_name
        return await super().execute_single(request, request_adapter, sub_response, context, root_value, request_data)

    async def process_result(self, request: Request, result: ExecutionResult) -> GraphQLHTTPResponse:
        data: GraphQLHTTPResponse = {"data": result.data}
        if request_error(result) and media_of(request.scope) != JSON:
            # A parse, validation or variable coercion error: nothing ran. As
            # application/graphql-response+json that is a 400 without a data entry;
            # application/json answers keep theirs, as they always have.
            data = {}
            request.scope[_REQUEST_ERROR_KEY] = True
        if result.errors:
            production = self.settings.production
            data["errors"] = [format_error(e, production=production) for e in result.errors]
        if result.extensions:
            data["extensions"] = result.extensions
        return data

    def _handle_errors(self, errors: list[GraphQLError], response_data: GraphQLHTTPResponse) -> None:
        """Errors were already logged by the schema (process_errors)."""

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)


def request_error(result: ExecutionResult) -> bool:
    """Whether execution never started: no data, and errors none of which is a field's."""
    return result.data is None and bool(result.errors) and all(e.path is None for e in result.errors or [])


async def graphiql(scope: Scope, receive: Receive, send: Send) -> None:
    """The page is static: served before authentication, so with ANONYMOUS_READS off it still
    opens, and its requests carry the key from its Headers tab."""
    await HTMLResponse(GRAPHIQL_HTML, headers={"Cache-Control": "no-cache"})(scope, receive, send)


def _outage_status(response: Response) -> Response:
    """An answer with no data at all — null, or every root field null — because the database is
    unavailable is an HTTP 503 with Retry-After, as REST's and the planned path's are; partial data
    stays a 200."""
    body = bytes(response.body)
    if response.status_code != 200 or b'"UNAVAILABLE"' not in body:
        return response
    parsed = orjson.loads(body)
    errors = parsed.get("errors") or []
    data = parsed.get("data")
    if not errors or (data is not None and any(v is not None for v in data.values())):
        return response
    if any((e.get("extensions") or {}).get("code") != "UNAVAILABLE" for e in errors):
        return response
    retry = str(Unavailable("").retry_after)
    media = response.headers.get("content-type", JSON)
    return Response(body, status_code=503, media_type=media, headers={"Retry-After": retry})


def limits_of(settings: Settings) -> Limits:
    return Limits(max_depth=settings.graphql_max_depth, max_cost=settings.graphql_max_cost)
