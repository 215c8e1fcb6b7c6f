"""RFC 9457 problem+json: how every NewsfactsError (and anything unexpected) leaves over HTTP — the
only renderer REST has. Each error code has a stable ``type`` URI; validation errors list every bad
field as a JSON pointer (and, for query, header and path parameters, the parameter's name). Database
outages are translated by db.errors.from_database into 503 UNAVAILABLE with ``Retry-After``."""

from __future__ import annotations

import logging
from typing import Any

import asyncpg
import orjson
from starlette._exception_handler import wrap_app_handling_exceptions
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from api.settings import Settings
from db.errors import NewsfactsError, code_for_status, from_database

log = logging.getLogger("newsfacts.errors")

TYPE_BASE = "https://newsfacts.dev/problems/"
MEDIA_TYPE = "application/problem+json"
# Where a FieldError path can start besides the body: the parameter it names is echoed by name.
PARAMETER_LOCATIONS = ("query", "header", "path")


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
    """The problem+json of ``exc``: its code, one ``errors[]`` entry per bad field or parameter, and
    ``Retry-After`` when the error says how long to wait (RATE_LIMITED, UNAVAILABLE)."""
    errors: list[dict[str, Any]] = []
    for e in exc.errors:
        item: dict[str, Any] = {"pointer": e.pointer(), "code": e.code, "detail": e.message}
        if len(e.path) >= 2 and e.path[0] in PARAMETER_LOCATIONS:
            item["in"], item["parameter"] = e.path[0], str(e.path[1])
        errors.append(item)
    extra = {k: v for k, v in exc.extra.items() if isinstance(v, str | int | float | bool)}
    headers = {"Retry-After": str(extra["retry_after"])} if "retry_after" in extra else None
    return problem(exc.status, exc.code, exc.title, exc.detail, instance=instance, errors=errors, headers=headers)


def exception_handlers(settings: Settings) -> dict[Any, Any]:
    def internal(request: Request, exc: Exception) -> Response:
        log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        detail = "an unexpected error occurred" if settings.production else f"{type(exc).__name__}: {exc}"
        return problem(500, "INTERNAL", "Internal error", detail, instance=request.url.path)

    async def on_newsfacts_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, NewsfactsError)
        if exc.status >= 500:
            log.error("request failed: %s", exc.detail)
        return from_error(exc, instance=request.url.path)

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        code = code_for_status(exc.status_code)
        title = code.replace("_", " ").capitalize()
        headers = dict(exc.headers) if exc.headers else None
        return problem(exc.status_code, code, title, str(exc.detail), instance=request.url.path, headers=headers)

    async def on_database_error(request: Request, exc: Exception) -> Response:
        # Connection refused/reset/closed, pool timeouts, shutdown SQLSTATEs: 503 + Retry-After. The
        # cause goes to the log only — its text names hosts and sockets, in production or not.
        mapped = from_database(exc)
        if mapped is None:
            return internal(request, exc)
        if mapped.status >= 500:
            log.warning("%s %s: %s (%s: %s)", request.method, request.url.path, mapped.code, type(exc).__name__, exc)
        return from_error(mapped, instance=request.url.path)

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        return internal(request, exc)

    return {
        NewsfactsError: on_newsfacts_error,
        HTTPException: on_http_error,
        asyncpg.PostgresError: on_database_error,
        asyncpg.InterfaceError: on_database_error,
        # A connection the server cut mid-protocol (from_database says which are outages).
        asyncpg.InternalClientError: on_database_error,
        OSError: on_database_error,
        Exception: on_unexpected,
    }


async def answer(failure: Exception, scope: Scope, receive: Receive, send: Send) -> None:
    """``failure``, raised before anything was sent, answered as Starlette's exception layer would:
    by the app's handler for it (the tables in ``scope``), or raised on when it has none. For the
    ways past that layer: the shortcuts, and a response that reads before it starts."""

    async def again(scope: Scope, receive: Receive, send: Send) -> None:
        raise failure

    await wrap_app_handling_exceptions(again, Request(scope, receive))(scope, receive, send)
