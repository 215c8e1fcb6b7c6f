"""``POST /v1/articles/{id}/suggestions`` (scope write): candidate claims, quantities and actors for
the article's current body (db/suggestions/), each with the body that would create it. Nothing is
stored, so it takes no Idempotency-Key; the request body is empty or ``{}``."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from api import body
from api.auth import authenticate, require
from api.rest.responses import json_response
from api.state import get_state
from db import suggestions
from db.errors import BadUserInput, FieldError


async def suggest(request: Request) -> Response:
    principal = await authenticate(request)
    require(principal, "write", anonymous_reads=False)
    errors = [
        FieldError(("query", name), "UNKNOWN_PARAMETER", "is not a parameter here (this takes none)")
        for name in request.query_params
    ]
    raw = await body.read(request, get_state(request).settings.max_body_bytes)
    if raw.strip() and body.parse_object(raw):
        errors.append(FieldError(("body",), "UNKNOWN_FIELD", "must be empty or {}: suggestions take no options"))
    if errors:
        raise BadUserInput(f"{errors[0].pointer()}: {errors[0].message}", errors=errors)
    async with get_state(request).pool.acquire() as conn:
        doc = await suggestions.suggest(conn, request.path_params["id"])
    return json_response(doc, headers={"Cache-Control": "no-store"})


def operations() -> list[tuple[str, str, Any]]:
    """(path, method, handler) for api.rest.routes(extra)."""
    return [("/v1/articles/{id}/suggestions", "POST", suggest)]
