"""GET /v1/quota: what the caller's rate-limit window allows and has left (the request itself counted)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from api.auth import authenticate
from api.ratelimit import SCOPE_KEY, Decision
from api.rest.params import parse_none
from api.rest.responses import json_response


async def get_quota(request: Request) -> Response:
    principal = await authenticate(request)
    parse_none(request)
    decision = request.scope.get(SCOPE_KEY)
    body: dict[str, object] = {
        "object": "quota",
        "subject": "key" if principal.key_id else "clientAddress",
        "keyId": principal.key_id,
        "scope": principal.scope,
    }
    if isinstance(decision, Decision):
        body |= {
            "limit": decision.limit,
            "remaining": decision.remaining,
            "resetSeconds": decision.reset,
            "windowSeconds": decision.window,
            "backend": decision.backend,
        }
    return json_response(body, headers={"Cache-Control": "no-store"})
