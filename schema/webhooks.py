"""GraphQL webhook types and queries (scope admin): endpoints and the delivery log, over the same
db/webhooks.py functions, documents and cursors as REST (api/rest/webhook_endpoints.py). Mutations
are in schema/webhook_mutations.py; the URL policy comes in through ``Context.webhooks``."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

from db import pagination, webhooks
from db.errors import FieldError, Forbidden, NotFound, ServiceUnavailable, Unauthenticated
from db.ids import is_id
from schema.common import DateTime, from_doc, make_enum, page_size
from schema.context import Context, WebhookPolicy

EndpointStatus = make_enum("WebhookEndpointStatus", ("enabled", "disabled"), "Whether an endpoint receives deliveries.")
DeliveryStatus = make_enum(
    "WebhookDeliveryStatus", ("pending", "delivered", "failed"), "Where a delivery stands: queued, done, given up."
)
AttemptOutcome = make_enum("WebhookAttemptOutcome", ("succeeded", "failed"), "How one attempt ended.")
PayloadScope = make_enum(
    "WebhookPayloadScope",
    ("public", "full"),
    "What an endpoint's event bodies carry: PUBLIC applies the recall rules read-scope callers get (a withheld"
    " or canceled article as its stub, no data for a withdrawn fact); FULL, set only by an admin, the stored"
    " snapshot.",
)


@strawberry.type(description="A subscriber's endpoint, as REST's webhook_endpoint; its secret is shown only once.")
class WebhookEndpoint:
    id: strawberry.ID
    url: str
    description: str | None
    enabled_events: list[str] = strawberry.field(description="Event types delivered, or '*' for all.")
    payload_scope: PayloadScope = strawberry.field(  # type: ignore[valid-type]
        description="What its event bodies carry, applied at each attempt (PUBLIC by default)."
    )
    status: EndpointStatus  # type: ignore[valid-type]
    disabled_reason: str | None = strawberry.field(description="Why it was disabled (by an admin, 410, failures).")
    disabled_at: DateTime | None
    failing_since: DateTime | None
    last_success_at: DateTime | None
    last_failure_at: DateTime | None
    created_sequence: int = strawberry.field(description="Events after this sequence are delivered to it.")
    created_at: DateTime
    updated_at: DateTime
    doc: strawberry.Private[dict[str, Any]]


@strawberry.type(description="One HTTP attempt of a delivery.")
class WebhookAttempt:
    attempted_at: DateTime
    outcome: AttemptOutcome  # type: ignore[valid-type]
    response_status: int | None
    duration_ms: int
    response_body: str | None = strawberry.field(description="The start of the response body (truncated).")
    error: str | None
    payload_scope: PayloadScope | None = strawberry.field(  # type: ignore[valid-type]
        description="The scope this attempt's body was shaped in; null for a ping."
    )
    doc: strawberry.Private[dict[str, Any]]


@strawberry.type(description="One event (or ping) queued for one endpoint, with every attempt, as in REST.")
class WebhookDelivery:
    id: strawberry.ID
    endpoint: strawberry.ID = strawberry.field(description="The endpoint's id.")
    event: strawberry.ID | None = strawberry.field(description="The event's id (its webhook-id); null for a ping.")
    sequence: int | None
    type: str
    reason: str = strawberry.field(description="event, replay or ping.")
    status: DeliveryStatus  # type: ignore[valid-type]
    attempt_count: int
    next_attempt_at: DateTime | None
    last_status_code: int | None
    last_error: str | None
    delivered_at: DateTime | None
    created_at: DateTime
    attempts: list[WebhookAttempt]
    doc: strawberry.Private[dict[str, Any]]


@strawberry.type(description="Endpoints oldest first, a page as REST lists them: pass nextCursor as after.")
class WebhookEndpointConnection:
    nodes: list[WebhookEndpoint]
    has_more: bool
    next_cursor: str | None


@strawberry.type(description="Deliveries newest first, a page as REST lists them: pass nextCursor as after.")
class WebhookDeliveryConnection:
    nodes: list[WebhookDelivery]
    has_more: bool
    next_cursor: str | None


def endpoint_object(row: Any) -> WebhookEndpoint:
    return from_doc(WebhookEndpoint, webhooks.endpoint_doc(row))


def delivery_object(row: Any) -> WebhookDelivery:
    doc = webhooks.delivery_doc(row)
    return from_doc(WebhookDelivery, doc, attempts=[from_doc(WebhookAttempt, a) for a in doc["attempts"]])


def _next_cursor(ids: list[str], has_more: bool) -> str | None:
    # The cursors REST hands out, so a page can be continued over either API.
    return pagination.encode(pagination.Cursor("id", ids[-1], ids[-1])) if has_more and ids else None


def _after(after: str | None) -> str | None:
    return pagination.decode(after, order="id", param="after").id if after is not None else None


def require_admin(info: Info[Context, None]) -> Any:
    # Admin answers change without an event (attempts, leases), so the response cache must not keep them.
    info.context.cacheable = False
    principal = info.context.principal
    if principal is None or principal.anonymous:
        raise Unauthenticated("webhook endpoints need an API key with the admin scope")
    if not principal.allows("admin"):
        raise Forbidden(f"webhook endpoints need the admin scope; the key has {principal.scope}")
    return principal


def webhook_policy(info: Info[Context, None]) -> WebhookPolicy:
    if info.context.webhooks is None:
        raise ServiceUnavailable("webhook endpoints cannot be managed over this connection; use HTTP")
    return info.context.webhooks


def enum_value(member: Any) -> str | None:
    """The document string of an enum member (None stays None)."""
    return None if member is None else str(member.value)


# --- queries ---------------------------------------------------------------------------------


@strawberry.type
class WebhookQueries:
    @strawberry.field(description="Webhook endpoints, oldest first (scope admin).")
    async def webhook_endpoints(
        self, info: Info[Context, None], first: int = 20, after: str | None = None
    ) -> WebhookEndpointConnection:
        require_admin(info)
        limit, after_id = page_size(first, None), _after(after)
        async with info.context.connection() as conn:
            rows, has_more = await webhooks.list_endpoints(conn, limit=limit, after=after_id)
        nodes = [endpoint_object(r) for r in rows]
        return WebhookEndpointConnection(
            nodes=nodes, has_more=has_more, next_cursor=_next_cursor([str(n.id) for n in nodes], has_more)
        )

    @strawberry.field(description="One webhook endpoint by id (scope admin); null when there is none.")
    async def webhook_endpoint(self, info: Info[Context, None], id: strawberry.ID) -> WebhookEndpoint | None:
        require_admin(info)
        if not is_id(id, "webhook_endpoint"):
            return None
        async with info.context.connection() as conn:
            row = await webhooks.get_endpoint(conn, id)
        return endpoint_object(row) if row is not None else None

    @strawberry.field(description="The delivery log, newest first, with every attempt (scope admin).")
    async def webhook_deliveries(
        self,
        info: Info[Context, None],
        endpoint_id: strawberry.ID | None = None,
        event_id: strawberry.ID | None = None,
        status: DeliveryStatus | None = None,  # type: ignore[valid-type]
        first: int = 20,
        after: str | None = None,
    ) -> WebhookDeliveryConnection:
        require_admin(info)
        limit, before = page_size(first, None), _after(after)
        async with info.context.connection() as conn:
            if endpoint_id is not None and (
                not is_id(endpoint_id, "webhook_endpoint") or await webhooks.get_endpoint(conn, endpoint_id) is None
            ):
                raise NotFound(
                    f"no webhook endpoint {endpoint_id}",
                    errors=[FieldError(("endpointId",), "NOT_FOUND", "is not a webhook endpoint")],
                )
            rows, has_more = await webhooks.list_deliveries(
                conn, endpoint_id=endpoint_id, event_id=event_id, status=enum_value(status),
                limit=limit, before=before,
            )  # fmt: skip
        nodes = [delivery_object(r) for r in rows]
        return WebhookDeliveryConnection(
            nodes=nodes, has_more=has_more, next_cursor=_next_cursor([str(n.id) for n in nodes], has_more)
        )

    @strawberry.field(description="One delivery with its attempts (scope admin); null when there is none.")
    async def webhook_delivery(self, info: Info[Context, None], id: strawberry.ID) -> WebhookDelivery | None:
        require_admin(info)
        async with info.context.connection() as conn:
            row = await webhooks.get_delivery(conn, id)
        return delivery_object(row) if row is not None else None
