"""A GraphQL request refused before any execution, rendered in one place for every layer of
/graphql: GraphQL's error shape with the catalogue's code (and the field errors that say what was
wrong where), never a ``data`` entry, at the error's HTTP status — with Retry-After for
UNAVAILABLE — as the negotiated media type (api/graphql/request.py). As
application/graphql-response+json an answer without data is never a 2xx: the two codes the
catalogue answers with 200 for Apollo's clients have a 4xx of their own there (``strict_status``)."""

from __future__ import annotations

import orjson
from starlette.responses import Response

from api.graphql.request import GRAPHQL_RESPONSE, JSON
from db.errors import NewsfactsError, Unavailable
from schema.errors import error_body


def status_of(exc: NewsfactsError, media: str) -> int:
    if media == GRAPHQL_RESPONSE and exc.status < 400:
        strict: int = getattr(exc, "strict_status", 400)
        return strict
    return exc.status


def refusal(exc: NewsfactsError, media: str = JSON) -> Response:
    body = orjson.dumps(error_body(exc.code, exc.detail, errors=[e.as_dict() for e in exc.errors]))
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, Unavailable) else None
    return Response(body, status_code=status_of(exc, media), media_type=media, headers=headers)


def plain_refusal(status: int, code: str, message: str, media: str = JSON) -> Response:
    """One that did not come from the catalogue (strawberry's HTTP errors: bad method, bad body)."""
    return Response(orjson.dumps(error_body(code, message)), status_code=status, media_type=media)
