"""REST for webhooks (scope admin): endpoints (create, list, get, update, delete, rotate-secret, ping,
replay) and the delivery log (per endpoint, per event, one delivery, redeliver)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from api import body
from api.auth import authenticate, require
from api.rest import responses
from api.rest.params import refuse_unstorable, small_int
from api.state import get_state
from api.webhooks import delivery, keyring, signing
from db import pagination, webhooks
from db.errors import BadUserInput, Conflict, FieldError, NotFound, ValidationFailed
from db.ids import is_id
from db.webhooks import rules

MAX_LIMIT = 100
DEFAULT_LIMIT = 20
JSON_TYPES = ("application/json", "application/merge-patch+json")

Handler = Callable[[Request], Awaitable[Response]]


# --- helpers ---------------------------------------------------------------------------------


async def _admin(request: Request) -> None:
    require(await authenticate(request), "admin", anonymous_reads=get_state(request).settings.anonymous_reads)


async def _body(request: Request, *, required: bool = True) -> dict[str, Any]:
    raw = await body.read(request, get_state(request).settings.max_body_bytes)
    if not raw.strip() and not required:
        return {}
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in JSON_TYPES:
        raise BadUserInput(
            "send the body as application/json",
            errors=[FieldError(("header", "Content-Type"), "UNSUPPORTED_MEDIA_TYPE", "must be application/json")],
        )
    return body.parse_object(raw)


def _unknown(body: dict[str, Any], allowed: tuple[str, ...]) -> list[FieldError]:
    return [
        FieldError((name,), "UNKNOWN_FIELD", f"is not a field here (allowed: {', '.join(allowed)})")
        for name in body
        if name not in allowed
    ]


def _query(request: Request, allowed: tuple[str, ...]) -> tuple[int, str | None]:
    errors = [
        FieldError(("query", name), "UNKNOWN_PARAMETER", f"is not a parameter here (allowed: {', '.join(allowed)})")
        for name in request.query_params
        if name not in allowed
    ]
    limit = DEFAULT_LIMIT
    raw = request.query_params.get("limit")
    if raw is not None:
        parsed = small_int(raw, low=1, high=MAX_LIMIT)
        if parsed is None:
            errors.append(FieldError(("query", "limit"), "INVALID_LIMIT", f"must be an integer from 1 to {MAX_LIMIT}"))
        else:
            limit = parsed
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
    return rules.endpoint_id(request.path_params["id"])


def _check_url(request: Request) -> rules.CheckUrl:
    settings = get_state(request).settings

    async def check(url: object) -> str:
        return await delivery.validate_url(url, settings)

    return check


async def _existing(request: Request, endpoint_id: str) -> None:
    async with get_state(request).pool.acquire() as conn:
        if await webhooks.get_endpoint(conn, endpoint_id) is None:
            raise NotFound(f"no webhook endpoint {endpoint_id}")


# --- endpoints -------------------------------------------------------------------------------


async def create_endpoint(request: Request) -> Response:
    await _admin(request)
    body = await _body(request)
    unknown = _unknown(body, ("url", "enabledEvents", "description", "payloadScope"))
    fields = await rules.create(body, _check_url(request), errors=unknown)
    secret = signing.new_secret()
    principal = await authenticate(request)
    state = get_state(request)
    async with state.pool.acquire() as conn:
        row = await webhooks.create_endpoint(
            conn, keyring.box_of(state), url=fields.url or "", description=fields.description,
            enabled_events=fields.enabled_events or ["*"], secret=secret, created_by=principal.key_id,
            payload_scope=fields.payload_scope or "public",
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
    unknown = _unknown(body, ("url", "enabledEvents", "description", "status", "payloadScope"))
    fields = await rules.update(body, _check_url(request), errors=unknown)
    async with get_state(request).pool.acquire() as conn:
        row = await webhooks.update_endpoint(
            conn, endpoint_id, url=fields.url, description=fields.description,
            set_description=fields.set_description, enabled_events=fields.enabled_events, status=fields.status,
            payload_scope=fields.payload_scope,
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
    state = get_state(request)
    unknown = _unknown(body, ("graceSeconds",))
    if unknown:
        raise ValidationFailed("the rotation request is not valid", errors=unknown)
    grace = rules.grace_seconds(body.get("graceSeconds", state.settings.webhook_secret_grace_hours * 3600))
    secret = signing.new_secret()
    async with state.pool.acquire() as conn:
        row = await webhooks.rotate_secret(conn, keyring.box_of(state), endpoint_id, secret, grace)
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
    unknown = _unknown(body, ("since", "afterSequence"))
    if unknown:
        raise ValidationFailed("the replay request is not valid", errors=unknown)
    since, after = rules.replay_window(body, one_of=("body",))
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
    event_id = request.query_params.get("eventId")
    ids = [("endpoint", endpoint_id, "webhook_endpoint"), ("eventId", event_id, "event")]
    bad = [FieldError(("query", name), "INVALID_ID", f"must be the id of a {kind}") for name, value, kind in ids
           if value is not None and not is_id(value, kind) and not request.path_params.get("id")]  # fmt: skip
    if bad:
        raise BadUserInput(f"invalid query parameters: {', '.join(str(e.path[1]) for e in bad)}", errors=bad)
    async with get_state(request).pool.acquire() as conn:
        if endpoint_id and request.path_params.get("id") and await webhooks.get_endpoint(conn, endpoint_id) is None:
            raise NotFound(f"no webhook endpoint {endpoint_id}")
        rows, has_more = await webhooks.list_deliveries(
            conn, endpoint_id=endpoint_id, event_id=event_id, status=status,
            limit=limit, before=before,
        )  # fmt: skip
    return _listing([webhooks.delivery_doc(r) for r in rows], has_more)


async def list_deliveries(request: Request) -> Response:
    await _admin(request)
    return await _deliveries(request, endpoint_id=None)


async def get_delivery(request: Request) -> Response:
    await _admin(request)
    delivery_id = rules.delivery_id(request.path_params["id"])
    async with get_state(request).pool.acquire() as conn:
        row = await webhooks.get_delivery(conn, delivery_id)
    if row is None:
        raise NotFound(f"no webhook delivery {delivery_id}")
    return responses.json_response(webhooks.delivery_doc(row))


async def retry_delivery(request: Request) -> Response:
    await _admin(request)
    delivery_id = rules.delivery_id(request.path_params["id"])
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

    # No except here: refusals leave through the app's one handler (api/problems.py).
    def dispatcher(handlers: dict[str, Handler]) -> Handler:
        async def endpoint(request: Request) -> Response:
            refuse_unstorable(request)
            return await handlers[request.method](request)

        return endpoint

    return [Route(path, dispatcher(handlers), methods=list(handlers)) for path, handlers in table.items()]
