"""RFC 9457 problem+json: how every NewsfactsError (and anything unexpected) leaves over HTTP.
Each error code has a stable ``type`` URI; validation errors list every bad field as a JSON pointer."""

from __future__ import annotations

import logging
from typing import Any

import asyncpg
import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from api.settings import Settings
from db.errors import NewsfactsError, from_postgres

log = logging.getLogger("newsfacts.errors")

TYPE_BASE = "https://newsfacts.dev/problems/"
MEDIA_TYPE = "application/problem+json"

_HTTP_CODES = {
    400: "BAD_REQUEST", 401: "UNAUTHENTICATED", 403: "FORBIDDEN", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED",
    406: "NOT_ACCEPTABLE", 409: "CONFLICT", 412: "VERSION_CONFLICT", 413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE", 422: "BAD_USER_INPUT", 429: "RATE_LIMITED",
}  # fmt: skip


def problem_type(code: str) -> str:
    return TYPE_BASE + code.lower().replace("_", "-")


def problem(
    status: int,
    code: str,
    title: str,
    detail: str,
    *,
    instance: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response:
    body: dict[str, Any] = {
        "type": problem_type(code),
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
    }
    if instance:
        body["instance"] = instance
    if errors:
        body["errors"] = errors
    body.update({k: v for k, v in extra.items() if v is not None})
    return Response(orjson.dumps(body), status_code=status, media_type=MEDIA_TYPE, headers=headers)


def from_error(exc: NewsfactsError, *, instance: str | None = None) -> Response:
    errors = [{"pointer": e.pointer(), "code": e.code, "detail": e.message} for e in exc.errors]
    extra = {k: v for k, v in exc.extra.items() if isinstance(v, str | int | float | bool)}
    headers = {"Retry-After": str(extra["retry_after"])} if "retry_after" in extra else None
    return problem(exc.status, exc.code, exc.title, exc.detail, instance=instance, errors=errors, headers=headers)


def exception_handlers(settings: Settings) -> dict[Any, Any]:
    async def on_newsfacts_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, NewsfactsError)
        if exc.status >= 500:
            log.error("request failed: %s", exc.detail)
        return from_error(exc, instance=request.url.path)

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        code = _HTTP_CODES.get(exc.status_code, "HTTP_ERROR")
        title = code.replace("_", " ").capitalize()
        headers = dict(exc.headers) if exc.headers else None
        return problem(exc.status_code, code, title, str(exc.detail), instance=request.url.path, headers=headers)

    async def on_postgres_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, asyncpg.PostgresError)
        return from_error(from_postgres(exc), instance=request.url.path)

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        detail = "an unexpected error occurred" if settings.production else f"{type(exc).__name__}: {exc}"
        return problem(500, "INTERNAL", "Internal error", detail, instance=request.url.path)

    return {
        NewsfactsError: on_newsfacts_error,
        HTTPException: on_http_error,
        asyncpg.PostgresError: on_postgres_error,
        Exception: on_unexpected,
    }
