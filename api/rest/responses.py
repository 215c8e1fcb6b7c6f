"""How REST reads answer: JSON bodies with caching headers, 304s, and problem+json whose
validation errors name the query parameter at fault."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from api import problems
from db.errors import NewsfactsError

# Cache lifetimes (seconds): a single fact changes rarely and carries an ETag to revalidate with;
# lists change with every write anywhere in the table.
ITEM_MAX_AGE = 30
LIST_MAX_AGE = 5
HISTORY_MAX_AGE = 300


def cache_control(request: Request, max_age: int) -> str:
    """Shared caches may keep reads only when anyone may make them (anonymous reads on)."""
    public = request.app.state.newsfacts.settings.anonymous_reads
    return f"{'public' if public else 'private'}, max-age={max_age}, must-revalidate"


def caching_headers(request: Request, *, etag: str | None, last_modified: str | None, max_age: int) -> dict[str, str]:
    headers = {"Cache-Control": cache_control(request, max_age), "Vary": "Accept, Authorization"}
    if etag:
        headers["ETag"] = etag
    if last_modified:
        headers["Last-Modified"] = last_modified
    return headers


def json_response(
    body: Any, *, media_type: str = "application/json", status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type=media_type, headers=headers)


def not_modified(headers: dict[str, str]) -> Response:
    return Response(status_code=304, headers=headers)


def error(exc: NewsfactsError, request: Request) -> Response:
    """problem+json for ``exc``; errors under ``query`` also carry the ``parameter`` they concern."""
    errors: list[dict[str, Any]] = []
    for e in exc.errors:
        item: dict[str, Any] = {"pointer": e.pointer(), "code": e.code, "detail": e.message}
        if len(e.path) >= 2 and e.path[0] in ("query", "header", "path"):
            item["in"], item["parameter"] = e.path[0], str(e.path[1])
        errors.append(item)
    headers = {"Retry-After": str(exc.extra["retry_after"])} if "retry_after" in exc.extra else None
    return problems.problem(
        exc.status, exc.code, exc.title, exc.detail, instance=request.url.path, errors=errors, headers=headers
    )
