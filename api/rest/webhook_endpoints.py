"""REST for webhooks (scope admin): endpoints (create, list, get, update, delete, rotate-secret, ping,
replay) and the delivery log (per endpoint, per event, one delivery, redeliver)."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from api.auth import authenticate, require
from api.rest import responses
from api.state import get_state
from api.webhooks import delivery, signing
from db import pagination, webhooks
from db.errors import BadUserInput, Conflict, FieldError, NewsfactsError, NotFound, PayloadTooLarge, ValidationFailed
from db.ids import is_id
from db.kinds import EVENT_TYPES as _ALL_EVENT_TYPES

EVENT_TYPES = frozenset(_ALL_EVENT_TYPES)
_EVENT_TYPE_RE = re.compile(r"^[a-z]+\.[a-z]+$")
MAX_LIMIT = 100
DEFAULT_LIMIT = 20
JSON_TYPES = ("application/json", "application/merge-patch+json")

Handler = Callable[[Request], Awaitable[Response]]


# --- helpers ---------------------------------------------------------------------------------


async def _admin(request: Request) -> None:
    require(await authenticate(request), "admin", anonymous_reads=get_state(request).settings.anonymous_reads)


async def _body(request: Request, *, required: bool = True) -> dict[str, Any]:
    raw = b""
    limit = get_state(request).settings.max_body_bytes
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > limit:
            raise PayloadTooLarge(
                f"the body is larger than {limit} bytes",
                errors=[FieldError(("body",), "PAYLOAD_TOO_LARGE", f"is larger than {limit} bytes")],
            )
    if not raw.strip() and not required:
        return {}
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in JSON_TYPES:
        raise BadUserInput(
            "send the body as application/json",
            errors=[FieldError(("header", "Content-Type"), "UNSUPPORTED_MEDIA_TYPE", "must be application/json")],
        )
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadUserInput(
            f"the body is not valid JSON: {exc}", errors=[FieldError(("body",), "INVALID_JSON", str(exc))]
        ) from None
    if not isinstance(value, dict):
        raise BadUserInput(
            "the body must be a JSON object", errors=[FieldError(("body",), "INVALID_TYPE", "must be an object")]
        )
    return value


def _unknown(body: dict[str, Any], allowed: tuple[str, ...]) -> list[FieldError]:
    return [
        FieldError((name,), "UNKNOWN_FIELD", f"is not a field here (allowed: {', '.join(allowed)})")
        for name in body
        if name not in allowed
    ]


def _enabled_events(value: Any, errors: list[FieldError]) -> list[str] | None:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        errors.append(FieldError(("enabledEvents",), "INVALID_TYPE", "must be a non-empty array of event types"))
        return None
    for i, name in enumerate(value):
        if name != "*" and name not in EVENT_TYPES:
            hint = "" if _EVENT_TYPE_RE.match(name) else " (types look like claim.created)"
            errors.append(
                FieldError(("enabledEvents", i), "UNKNOWN_EVENT_TYPE", f"{name!r} is not an event type or '*'{hint}")
            )
    return list(dict.fromkeys(value))


def _description(value: Any, errors: list[FieldError]) -> str | None:
    if value is not None and (not isinstance(value, str) or len(value) > 1000):
        errors.append(FieldError(("description",), "INVALID_TYPE", "must be a string of at most 1000 characters"))
        return None
    return value


def _query(request: Request, allowed: tuple[str, ...]) -> tuple[int, str | None]:
    errors = [
        FieldError(("query", name), "UNKNOWN_PARAMETER", f"is not a parameter here (allowed: {', '.join(allowed)})")
        for name in request.query_params
        if name not in allowed
    ]
    limit = DEFAULT_LIMIT
    raw = request.query_params.get("limit")
    if raw is not None:
        if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
            errors.append(FieldError(("query", "limit"), "INVALID_LIMIT", f"must be an integer from 1 to {MAX_LIMIT}"))
        else:
            limit = int(raw)
    after = None
    cursor = request.query_params.get("cursor")
    if cursor is not None:
        try:
            after = pagination.decode(cursor, order="id", param="cursor").id
        except BadUserInput as exc:
            errors += [FieldError(("query", "cursor"), e.code, e.message) for e in exc.errors]
    if errors:
        raise BadUserInput(errors[0].message if len(errors) == 1 else "invalid query parameters", errors=errors)
    return limit, after


def _listing(docs: list[dict[str, Any]], has_more: bool) -> Response:
    next_cursor = pagination.encode(pagination.Cursor("id", docs[-1]["id"], docs[-1]["id"])) if has_more else None
    return responses.json_response({"object": "list", "data": docs, "hasMore": has_more, "nextCursor": next_cursor})


def _endpoint_id(request: Request) -> str:
    value: str = request.path_params["id"]
    if not is_id(value, "webhook_endpoint"):
        raise NotFound(f"no webhook endpoint {value!r} (ids look like whe_…)")
    return value


async def _existing(request: Request, endpoint_id: str) -> None:
    async with get_state(request).pool.acquire() as conn:
        if await webhooks.get_endpoint(conn, endpoint_id) is None:
            raise NotFound(f"no webhook endpoint {endpoint_id}")


# --- endpoints -------------------------------------------------------------------------------


async def create_endpoint(request: Request) -> Response:
    await _admin(request)
    body = await _body(request)
    settings = get_state(request).settings
    errors = _unknown(body, ("url", "enabledEvents", "description"))
    if "url" not in body:
        errors.append(FieldError(("url",), "REQUIRED", "is required"))
    events = _enabled_events(body.get("enabledEvents", ["*"]), errors)
    description = _description(body.get("description"), errors)
    if errors:
        raise ValidationFailed("the webhook endpoint is not valid", errors=errors)
    url = await delivery.validate_url(body["url"], settings)
    secret = signing.new_secret()
    principal = await authenticate(request)
    async with get_state(request).pool.acquire() as conn:
        row = await webhooks.create_endpoint(
            conn, url=url, description=description, enabled_events=events or ["*"], secret=secret,
            created_by=principal.key_id,
        )  # fmt: skip
    doc = {**webhooks.endpoint_doc(row), "secret": secret}
    return responses.json_response(doc, status=201, headers={"Location": f"/v1/webhook-endpoints/{row['id']}"})


async def list_endpoints(request: Request) -> Response:
    await _admin(request)
    limit, after = _query(request, ("limit", "cursor"))
    async with get_state(request).pool.acquire() as conn:
        rows, has_more = await webhooks.list_endpoints(conn, limit=limit, after=after)
    return _listing([webhooks.endpoint_doc(r) for r in rows], has_more)


async def get_endpoint(request: Request) -> Response:
    await _admin(request)
    endpoint_id = _endpoint_id(request)
    async with get_state(request).pool.acquire() as conn:
        row = await webhooks.get_endpoint(conn, endpoint_id)
    if row is None:
        raise NotFound(f"no webhook endpoint {endpoint_id}")
    return responses.json_response(webhooks.endpoint_doc(row))


async def update_endpoint(request: Request) -> Response:
    await _admin(request)
    endpoint_id = _endpoint_id(request)
    body = await _body(request)
    errors = _unknown(body, ("url", "enabledEvents", "description", "status"))
    events = _enabled_events(body["enabledEvents"], errors) if "enabledEvents" in body else None
    description = _description(body.get("description"), errors)
    status = body.get("status")
    if status is not None and status not in ("enabled", "disabled"):
        errors.append(FieldError(("status",), "INVALID_VALUE", "must be 'enabled' or 'disabled'"))
    if errors:
        raise ValidationFailed("the webhook endpoint update is not valid", errors=errors)
    url = await delivery.validate_url(body["url"], get_state(request).settings) if "url" in body else None
    async with get_state(request).pool.acquire() as conn:
        row = await webhooks.update_endpoint(
            conn, endpoint_id, url=url, description=description, set_description="description" in body,
            enabled_events=events, status=status,
        )  # fmt: skip
    if row is None:
        raise NotFound(f"no webhook endpoint {endpoint_id}")
    return responses.json_response(webhooks.endpoint_doc(row))


async def delete_endpoint(request: Request) -> Response:
    await _admin(request)
    endpoint_id = _endpoint_id(request)
    async with get_state(request).pool.acquire() as conn:
        if not await webhooks.delete_endpoint(conn, endpoint_id):
            raise NotFound(f"no webhook endpoint {endpoint_id}")
    return Response(status_code=204)


async def rotate_secret(request: Request) -> Response:
    await _admin(request)
    endpoint_id = _endpoint_id(request)
    body = await _body(request, required=False)
    settings = get_state(request).settings
    errors = _unknown(body, ("graceSeconds",))
    grace = body.get("graceSeconds", settings.webhook_secret_grace_hours * 3600)
    if isinstance(grace, bool) or not isinstance(grace, int) or not 0 <= grace <= 7 * 86400:
        errors.append(FieldError(("graceSeconds",), "INVALID_VALUE", "must be an integer from 0 to 604800 (7 days)"))
    if errors:
        raise ValidationFailed("the rotation request is not valid", errors=errors)
    secret = signing.new_secret()
    async with get_state(request).pool.acquire() as conn:
        row = await webhooks.rotate_secret(conn, endpoint_id, secret, grace)
    if row is None:
        raise NotFound(f"no webhook endpoint {endpoint_id}")
    return responses.json_response(
        {**webhooks.endpoint_doc(row), "secret": secret, "previousSecretGraceSeconds": grace}
    )


async def endpoint_deliveries(request: Request) -> Response:
    await _admin(request)
    endpoint_id = _endpoint_id(request)
    return await _deliveries(request, endpoint_id=endpoint_id)


async def ping(request: Request) -> Response:
    await _admin(request)
    endpoint_id = _endpoint_id(request)
    await _existing(request, endpoint_id)
    payload = {
        "type": "webhook.ping",
        "timestamp": datetime.now(UTC).isoformat(),
        "data": {"endpoint": endpoint_id},
    }
    async with get_state(request).pool.acquire() as conn:
        row = await webhooks.ping(conn, endpoint_id, payload)
    return responses.json_response(webhooks.delivery_doc(row), status=202)


async def replay(request: Request) -> Response:
    await _admin(request)
    endpoint_id = _endpoint_id(request)
    body = await _body(request)
    errors = _unknown(body, ("since", "afterSequence"))
    since: datetime | None = None
    after: int | None = None
    if ("since" in body) == ("afterSequence" in body):
        errors.append(FieldError(("body",), "ONE_OF", "give exactly one of since (a time) or afterSequence"))
    if "since" in body:
        try:
            since = datetime.fromisoformat(str(body["since"]).replace("Z", "+00:00"))
            if since.tzinfo is None:
                raise ValueError("no offset")
        except ValueError:
            errors.append(FieldError(("since",), "INVALID_DATETIME", "must be an RFC 3339 time with an offset"))
    if "afterSequence" in body:
        value = body["afterSequence"]
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            errors.append(FieldError(("afterSequence",), "INVALID_VALUE", "must be a non-negative integer"))
        else:
            after = value
    if errors:
        raise ValidationFailed("the replay request is not valid", errors=errors)
    await _existing(request, endpoint_id)
    async with get_state(request).pool.acquire() as conn:
        queued = await webhooks.replay(conn, endpoint_id, after_sequence=after, since=since)
    return responses.json_response({"object": "webhook_replay", "endpoint": endpoint_id, "queued": queued}, status=202)


# --- the delivery log ------------------------------------------------------------------------


async def _deliveries(request: Request, *, endpoint_id: str | None) -> Response:
    allowed = ("limit", "cursor", "status", "eventId") + (() if endpoint_id else ("endpoint",))
    limit, before = _query(request, allowed)
    status = request.query_params.get("status")
    if status is not None and status not in ("pending", "delivered", "failed"):
        raise BadUserInput(
            "status must be pending, delivered or failed",
            errors=[FieldError(("query", "status"), "INVALID_VALUE", "must be pending, delivered or failed")],
        )
    endpoint_id = endpoint_id or request.query_params.get("endpoint")
    async with get_state(request).pool.acquire() as conn:
        if endpoint_id and request.path_params.get("id") and await webhooks.get_endpoint(conn, endpoint_id) is None:
            raise NotFound(f"no webhook endpoint {endpoint_id}")
        rows, has_more = await webhooks.list_deliveries(
            conn, endpoint_id=endpoint_id, event_id=request.query_params.get("eventId"), status=status,
            limit=limit, before=before,
        )  # fmt: skip
    return _listing([webhooks.delivery_doc(r) for r in rows], has_more)


async def list_deliveries(request: Request) -> Response:
    await _admin(request)
    return await _deliveries(request, endpoint_id=None)


async def get_delivery(request: Request) -> Response:
    await _admin(request)
    delivery_id = request.path_params["id"]
    async with get_state(request).pool.acquire() as conn:
        row = await webhooks.get_delivery(conn, delivery_id)
    if row is None:
        raise NotFound(f"no webhook delivery {delivery_id}")
    return responses.json_response(webhooks.delivery_doc(row))


async def retry_delivery(request: Request) -> Response:
    await _admin(request)
    delivery_id = request.path_params["id"]
    async with get_state(request).pool.acquire() as conn:
        if await webhooks.get_delivery(conn, delivery_id) is None:
            raise NotFound(f"no webhook delivery {delivery_id}")
        row = await webhooks.retry_delivery(conn, delivery_id)
    if row is None:
        raise Conflict(f"webhook delivery {delivery_id} is being attempted right now; try again shortly")
    return responses.json_response(webhooks.delivery_doc(row), status=202)


def operations() -> list[tuple[str, str, Handler]]:
    """(path, method, handler) for every webhook operation."""
    base = "/v1/webhook-endpoints"
    return [
        (base, "POST", create_endpoint),
        (base, "GET", list_endpoints),
        (base + "/{id}", "GET", get_endpoint),
        (base + "/{id}", "PATCH", update_endpoint),
        (base + "/{id}", "DELETE", delete_endpoint),
        (base + "/{id}/rotate-secret", "POST", rotate_secret),
        (base + "/{id}/deliveries", "GET", endpoint_deliveries),
        (base + "/{id}/ping", "POST", ping),
        (base + "/{id}/replay", "POST", replay),
        ("/v1/webhook-deliveries", "GET", list_deliveries),
        ("/v1/webhook-deliveries/{id}", "GET", get_delivery),
        ("/v1/webhook-deliveries/{id}/retry", "POST", retry_delivery),
    ]


def routes() -> list[BaseRoute]:
    """One Route per path dispatching on the method (problem+json for every refusal)."""
    table: dict[str, dict[str, Handler]] = {}
    for path, method, handler in operations():
        table.setdefault(path, {})[method] = handler

    def dispatcher(handlers: dict[str, Handler]) -> Handler:
        async def endpoint(request: Request) -> Response:
            try:
                return await handlers[request.method](request)
            except NewsfactsError as exc:
                return responses.error(exc, request)

        return endpoint

    return [Route(path, dispatcher(handlers), methods=list(handlers)) for path, handlers in table.items()]
