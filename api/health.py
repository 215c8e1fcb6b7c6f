"""Liveness (/healthz: the process answers) and readiness (/readyz: PostgreSQL and Redis answer)."""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from api.state import get_state
from db.errors import UNAVAILABLE_RETRY_AFTER_SECONDS


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> JSONResponse:
    state = get_state(request)
    checks: dict[str, str] = {}
    try:
        async with asyncio.timeout(2):
            await state.pool.fetchval("SELECT 1")
        checks["postgres"] = "ok"
    except Exception as exc:  # readiness reports any failure rather than raising it
        checks["postgres"] = f"error: {type(exc).__name__}"
    try:
        async with asyncio.timeout(2):
            await state.redis.ping()
        checks["redis"] = "ok"
    except Exception as exc:
        checks["redis"] = f"error: {type(exc).__name__}"
    # PostgreSQL is the source of truth: without it we cannot serve. Without Redis we still serve
    # (from PostgreSQL, with local rate limits), so stay in rotation but say we are degraded.
    if checks["postgres"] != "ok":
        retry = {"Retry-After": str(UNAVAILABLE_RETRY_AFTER_SECONDS)}
        return JSONResponse({"status": "unavailable", "checks": checks}, status_code=503, headers=retry)
    status = "ready" if checks["redis"] == "ok" else "degraded"
    return JSONResponse({"status": status, "checks": checks}, status_code=200)


routes = [Route("/healthz", healthz, methods=["GET"]), Route("/readyz", readyz, methods=["GET"])]
