"""REST for API keys (scope admin): create one (its secret is in that response only), list them
(never a secret), revoke one. The same records `newsfacts keys create` makes (db/keys.py)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from api import body
from api.auth import authenticate, require
from api.rest.responses import json_response
from api.state import get_state
from db import keys
from db.errors import BadUserInput, FieldError, NotFound, ValidationFailed
from db.ids import is_id

FIELDS = ("name", "scope")


async def _admin(request: Request) -> None:
    require(await authenticate(request), "admin", anonymous_reads=get_state(request).settings.anonymous_reads)


async def _body(request: Request) -> dict[str, Any]:
    """The JSON object sent, taken apart as every body is (api/body.py)."""
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
        raise BadUserInput(
            "send the body as application/json",
            errors=[FieldError(("header", "Content-Type"), "UNSUPPORTED_MEDIA_TYPE", "must be application/json")],
        )
    return body.parse_object(await body.read(request, get_state(request).settings.max_body_bytes))


async def create_key(request: Request) -> Response:
    await _admin(request)
    body = await _body(request)
    unknown = [
        FieldError((f,), "UNKNOWN_FIELD", f"is not a field here (allowed: {', '.join(FIELDS)})")
        for f in body
        if f not in FIELDS
    ]
    if unknown:
        raise ValidationFailed("unknown fields: " + ", ".join(str(e.path[0]) for e in unknown), errors=unknown)
    name, scope = keys.check_new(body.get("name"), body.get("scope"))
    async with get_state(request).pool.acquire() as conn:
        key, secret = await keys.create(conn, name=name, scope=scope)
        doc = await keys.document(conn, key.id)
    assert doc is not None
    # The secret appears in this response only: it is stored as a hash and cannot be shown again.
    return json_response(
        {**doc, "secret": secret}, status=201, headers={"Location": f"/v1/keys/{key.id}", "Cache-Control": "no-store"}
    )


async def list_keys(request: Request) -> Response:
    await _admin(request)
    bad = [n for n in request.query_params if n != "includeRevoked"]
    if bad:
        raise BadUserInput(
            f"invalid query parameters: {', '.join(bad)}",
            errors=[
                FieldError(("query", n), "UNKNOWN_PARAMETER", "is not a parameter here (allowed: includeRevoked)")
                for n in bad
            ],
        )
    include = request.query_params.get("includeRevoked", "false")
    if include not in ("true", "false"):
        raise BadUserInput(
            "invalid query parameters: includeRevoked",
            errors=[FieldError(("query", "includeRevoked"), "INVALID_TYPE", "must be true or false")],
        )
    async with get_state(request).pool.acquire() as conn:
        data = await keys.list_documents(conn, include_revoked=include == "true")
    return json_response({"object": "list", "data": data, "hasMore": False}, headers={"Cache-Control": "no-store"})


async def _keys(request: Request) -> Response:
    return await (create_key(request) if request.method == "POST" else list_keys(request))


async def revoke_key(request: Request) -> Response:
    key_id = request.path_params["id"]
    await _admin(request)
    if not is_id(key_id, "key"):
        raise NotFound(f"no API key {key_id!r} (ids look like key_…)")
    state = get_state(request)
    async with state.pool.acquire() as conn:
        doc = await keys.revoke_document(conn, key_id)
    if doc is None:
        raise NotFound(f"no API key {key_id!r}")
    if state.key_cache is not None:
        state.key_cache.forget(key_id)
    return json_response(doc, headers={"Cache-Control": "no-store"})


routes: list[BaseRoute] = [
    # One route per path, so a 405 lists every method the path has in Allow.
    Route("/v1/keys", _keys, methods=["GET", "POST"]),
    Route("/v1/keys/{id}", revoke_key, methods=["DELETE"]),
]
