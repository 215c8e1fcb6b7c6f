"""/graphql over HTTP, in front of everything else there (the response cache, the planner, the
resolvers' view): GraphiQL for a browser's GET; otherwise the answer's media type is negotiated
and the request taken apart (api/graphql/request.py) — a POST's body must be application/json
(415 otherwise, 413 past MAX_BODY_BYTES), a GET carries its parameters in the URL — and a
persisted query's hash is resolved into its document, all before anything runs: each refusal is
a typed error as the negotiated media type (api/graphql/refusals.py). A GET runs queries only (a
mutation is 405 with ``Allow: POST``) and its answer carries ETag, Cache-Control and the CDN tags
(api/graphql/caching.py). The layers inside read what is found here from the scope."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from api.cache.graphql import operation_type
from api.graphql.caching import caching
from api.graphql.refusals import refusal
from api.graphql.request import (
    MEDIA_KEY,
    PARAMS_KEY,
    GraphQLParams,
    check_content_type,
    from_body,
    from_query_string,
    negotiate,
    query_pairs,
)
from api.settings import Settings
from api.state import state_of
from db.errors import FieldError, IncompleteBody, MethodNotAllowed, NewsfactsError, NotFound, PayloadTooLarge
from db.json_input import decode_object
from schema import persisted


class GraphQLOverHTTP:
    def __init__(self, settings: Settings, app: ASGIApp, ide: ASGIApp | None) -> None:
        self.settings = settings
        self.app = app
        self.ide = ide  # GraphiQL's page, when it is on

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        get = method != "POST"  # the route takes GET (and so HEAD) and POST
        media = scope[MEDIA_KEY] = negotiate(scope)
        if get and _wants_ide(scope):
            # GraphiQL's page; where it is off (production) a browser finds nothing, as before.
            page = self.ide or refusal(NotFound("GraphiQL is not served here"), media)
            await page(scope, receive, send)
            return
        try:
            params = await self._params(scope, receive, get=get)
        except NewsfactsError as exc:
            response = refusal(exc, media)
            if isinstance(exc, MethodNotAllowed):
                response.headers["Allow"] = "POST"
            await response(scope, receive, send)
            return
        scope[PARAMS_KEY] = params
        if not get:
            await self.app(scope, receive, send)
            return
        # HEAD is GET without the body, which the server leaves out by the request's own scope:
        # the layers inside see a GET (strawberry takes no HEAD).
        inner = scope if method == "GET" else {**scope, "method": "GET"}
        # Shared caches may keep what anyone may read: an answer to a key (whose scope may see
        # what the recall rules hold back from others) is private, whatever Vary says.
        public = self.settings.anonymous_reads and not any(name == b"authorization" for name, _ in scope["headers"])
        await self.app(inner, receive, caching(inner, send, public=public))

    async def _params(self, scope: Scope, receive: Receive, *, get: bool) -> GraphQLParams:
        limit = self.settings.max_body_bytes
        if get:
            params = from_query_string(scope["query_string"], limit)
        else:
            check_content_type(scope)
            body, complete = await read_body(receive, limit)
            if not complete or len(body) > limit:
                message = f"is larger than {limit} bytes"
                raise PayloadTooLarge(
                    f"the body {message}", errors=[FieldError(("body",), "PAYLOAD_TOO_LARGE", message)]
                )
            params = from_body(decode_object(body))
        if params.extensions is not None or self.settings.graphql_persisted_only:
            query = await persisted.resolve(
                state_of(scope).redis,
                params.query,
                params.extensions,
                allow_list_only=self.settings.graphql_persisted_only,
            )
            params = GraphQLParams(query, params.variables, params.operation_name, params.extensions)
        if get and params.query is not None and operation_type(params.query, params.operation_name) == "mutation":
            message = "a mutation cannot run over GET, which is for reads that may be cached; send it with POST"
            raise MethodNotAllowed(message, errors=[FieldError(("query", "query"), "MUTATION_OVER_GET", message)])
        return params


def _wants_ide(scope: Scope) -> bool:
    """A browser opening /graphql: it accepts HTML and sends no operation in the URL."""
    for name, value in scope["headers"]:
        if name == b"accept":
            if b"text/html" not in value:
                return False
            names = {name for name, _ in query_pairs(scope["query_string"])}
            return not names & {b"query", b"extensions"}
    return False


async def read_body(receive: Receive, limit: int) -> tuple[bytes, bool]:
    """Up to ``limit`` bytes of the request body, and whether that was all of it (IncompleteBody
    when the client leaves first)."""
    message = await receive()
    if message["type"] == "http.request" and not message.get("more_body", False):
        body: bytes = message.get("body", b"")
        return body, True  # the usual case: the whole body in one message
    chunks: list[bytes] = []
    size = 0
    while True:
        if message["type"] != "http.request":
            # The client left before its body was whole: not a body too large (it was logged as a 413).
            raise IncompleteBody.after(size)
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), True
        if size > limit:
            return b"".join(chunks), False
        message = await receive()
