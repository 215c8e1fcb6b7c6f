"""A GraphQL request refused before any execution, rendered in one place for the planned endpoint
and the resolvers' view: GraphQL's error shape with the catalogue's code (and the field errors
that say what was wrong where), at the error's HTTP status, with Retry-After for UNAVAILABLE."""

from __future__ import annotations

import orjson
from starlette.responses import Response

from db.errors import NewsfactsError, Unavailable
from schema.errors import error_body


def refusal(exc: NewsfactsError) -> Response:
    body = orjson.dumps(error_body(exc.code, exc.detail, errors=[e.as_dict() for e in exc.errors]))
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, Unavailable) else None
    return Response(body, status_code=exc.status, media_type="application/json", headers=headers)


def plain_refusal(status: int, code: str, message: str) -> Response:
    """One that did not come from the catalogue (strawberry's HTTP errors: bad method, bad body)."""
    return Response(orjson.dumps(error_body(code, message)), status_code=status, media_type="application/json")
