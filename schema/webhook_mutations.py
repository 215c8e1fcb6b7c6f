"""GraphQL mutations for webhooks (scope admin): create, update, enable/disable, delete, rotate the
secret, ping, replay, retry — over db/webhooks like REST, with the same rules (db/webhooks/rules.py),
URL policy (Context.webhooks) and codes. Refusals the caller can fix are typed ``userErrors``, as for facts."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import strawberry
from strawberry.types import Info

from db import webhooks
from db.errors import BadUserInput, Conflict, NotFound
from db.webhooks import rules
from schema.common import DateTime
from schema.context import Context
from schema.mutations import UserError, _user_errors
from schema.webhooks import (
    EndpointStatus,
    PayloadScope,
    WebhookDelivery,
    WebhookEndpoint,
    delivery_object,
    endpoint_object,
    enum_value,
    require_admin,
    webhook_policy,
)

P = TypeVar("P")


def _endpoint_id(value: str) -> str:
    return rules.endpoint_id(value)


async def _refusable(payload: Callable[..., P], where: tuple[str, ...], action: Callable[[], Awaitable[P]]) -> P:
    """Run ``action``; a refusal the caller can fix becomes the payload's userErrors (as fact mutations do)."""
    try:
        return await action()
    except (BadUserInput, NotFound, Conflict) as exc:
        at: tuple[str, ...] = ("id",) if isinstance(exc, NotFound | Conflict) and not exc.errors else where
        return payload(user_errors=_user_errors(exc, at))


@strawberry.input(
    description="A new endpoint: where to POST, which events (default '*'), a note for people, its payload scope."
)
class CreateWebhookEndpointInput:
    url: str
    enabled_events: list[str] | None = None
    description: str | None = None
    payload_scope: PayloadScope | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="PUBLIC (the default: the recall rules) or FULL (stored snapshots)."
    )


@strawberry.input(description="Fields to change; omitted ones stay, description: null clears it.")
class WebhookEndpointPatch:
    url: str | None = strawberry.UNSET
    enabled_events: list[str] | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    status: EndpointStatus | None = strawberry.UNSET  # type: ignore[valid-type]
    payload_scope: PayloadScope | None = strawberry.UNSET  # type: ignore[valid-type]


@strawberry.type(description="A created endpoint and its signing secret (whsec_…), shown this once.")
class CreateWebhookEndpointPayload:
    webhook_endpoint: WebhookEndpoint | None = None
    secret: str | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type(description="An endpoint mutation's result: the endpoint, or why the change was refused.")
class WebhookEndpointPayload:
    webhook_endpoint: WebhookEndpoint | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type(description="The new secret (shown once); the previous one keeps signing for the grace period.")
class RotateWebhookSecretPayload:
    webhook_endpoint: WebhookEndpoint | None = None
    secret: str | None = None
    previous_secret_grace_seconds: int | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type(description="The id of the deleted endpoint (its deliveries go with it).")
class DeleteWebhookEndpointPayload:
    deleted_id: strawberry.ID | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type(description="A queued delivery (ping, retry), or why it was refused.")
class WebhookDeliveryPayload:
    delivery: WebhookDelivery | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type(description="How many events were queued for redelivery.")
class ReplayWebhookEventsPayload:
    queued: int | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


def _set(value: Any) -> bool:
    return value is not strawberry.UNSET


@strawberry.type
class WebhookMutations:
    @strawberry.mutation(description="Register an endpoint (scope admin); the URL passes the same policy as REST.")
    async def create_webhook_endpoint(
        self, info: Info[Context, None], input: CreateWebhookEndpointInput
    ) -> CreateWebhookEndpointPayload:
        principal, policy = require_admin(info), webhook_policy(info)

        async def run() -> CreateWebhookEndpointPayload:
            given: dict[str, Any] = {"url": input.url, "description": input.description}
            if input.enabled_events is not None:
                given["enabledEvents"] = input.enabled_events
            if input.payload_scope is not None:
                given["payloadScope"] = enum_value(input.payload_scope)
            fields = await rules.create(given, policy.check_url)
            secret = policy.new_secret()
            async with info.context.connection() as conn:
                row = await webhooks.create_endpoint(
                    conn, policy.box, url=fields.url or "", description=fields.description,
                    enabled_events=fields.enabled_events or ["*"], secret=secret, created_by=principal.key_id,
                    payload_scope=fields.payload_scope or "public",
                )  # fmt: skip
            return CreateWebhookEndpointPayload(webhook_endpoint=endpoint_object(row), secret=secret)

        return await _refusable(CreateWebhookEndpointPayload, ("input",), run)

    @strawberry.mutation(
        description="Change an endpoint's url, events, description, status or payload scope (scope admin)."
    )
    async def update_webhook_endpoint(
        self, info: Info[Context, None], id: strawberry.ID, patch: WebhookEndpointPatch
    ) -> WebhookEndpointPayload:
        require_admin(info)
        policy = webhook_policy(info)

        async def run() -> WebhookEndpointPayload:
            endpoint_id = _endpoint_id(id)
            given: dict[str, Any] = {
                "url": patch.url, "enabledEvents": patch.enabled_events, "description": patch.description,
                "status": enum_value(patch.status) if _set(patch.status) and patch.status is not None else patch.status,
                "payloadScope": enum_value(patch.payload_scope)
                if _set(patch.payload_scope) and patch.payload_scope is not None else patch.payload_scope,
            }  # fmt: skip
            fields = await rules.update({k: v for k, v in given.items() if _set(v)}, policy.check_url)
            return await _update(info, endpoint_id, url=fields.url, description=fields.description,
                                 set_description=fields.set_description, enabled_events=fields.enabled_events,
                                 status=fields.status, payload_scope=fields.payload_scope)  # fmt: skip

        return await _refusable(WebhookEndpointPayload, ("patch",), run)

    @strawberry.mutation(description="Stop deliveries to an endpoint; they queue again once it is enabled.")
    async def disable_webhook_endpoint(self, info: Info[Context, None], id: strawberry.ID) -> WebhookEndpointPayload:
        require_admin(info)
        return await _refusable(WebhookEndpointPayload, (), lambda: _update(info, _endpoint_id(id), status="disabled"))

    @strawberry.mutation(description="Resume deliveries to an endpoint; clears its disable reason and failure clock.")
    async def enable_webhook_endpoint(self, info: Info[Context, None], id: strawberry.ID) -> WebhookEndpointPayload:
        require_admin(info)
        return await _refusable(WebhookEndpointPayload, (), lambda: _update(info, _endpoint_id(id), status="enabled"))

    @strawberry.mutation(description="Delete an endpoint and its delivery log (scope admin).")
    async def delete_webhook_endpoint(
        self, info: Info[Context, None], id: strawberry.ID
    ) -> DeleteWebhookEndpointPayload:
        require_admin(info)

        async def run() -> DeleteWebhookEndpointPayload:
            endpoint_id = _endpoint_id(id)
            async with info.context.connection() as conn:
                if not await webhooks.delete_endpoint(conn, endpoint_id):
                    raise NotFound(f"no webhook endpoint {endpoint_id}")
            return DeleteWebhookEndpointPayload(deleted_id=strawberry.ID(endpoint_id))

        return await _refusable(DeleteWebhookEndpointPayload, (), run)

    @strawberry.mutation(description="A new signing secret; the old one keeps signing for graceSeconds (0..7 days).")
    async def rotate_webhook_secret(
        self, info: Info[Context, None], id: strawberry.ID, grace_seconds: int | None = None
    ) -> RotateWebhookSecretPayload:
        require_admin(info)
        policy = webhook_policy(info)

        async def run() -> RotateWebhookSecretPayload:
            endpoint_id = _endpoint_id(id)
            grace = rules.grace_seconds(policy.default_grace_seconds if grace_seconds is None else grace_seconds)
            secret = policy.new_secret()
            async with info.context.connection() as conn:
                row = await webhooks.rotate_secret(conn, policy.box, endpoint_id, secret, grace)
            if row is None:
                raise NotFound(f"no webhook endpoint {endpoint_id}")
            return RotateWebhookSecretPayload(
                webhook_endpoint=endpoint_object(row), secret=secret, previous_secret_grace_seconds=grace
            )

        return await _refusable(RotateWebhookSecretPayload, (), run)

    @strawberry.mutation(description="Queue a webhook.ping delivery to the endpoint now.")
    async def ping_webhook_endpoint(self, info: Info[Context, None], id: strawberry.ID) -> WebhookDeliveryPayload:
        require_admin(info)

        async def run() -> WebhookDeliveryPayload:
            endpoint_id = _endpoint_id(id)
            payload = {
                "type": "webhook.ping",
                "timestamp": datetime.now(UTC).isoformat(),
                "data": {"endpoint": endpoint_id},
            }
            async with info.context.connection() as conn:
                if await webhooks.get_endpoint(conn, endpoint_id) is None:
                    raise NotFound(f"no webhook endpoint {endpoint_id}")
                row = await webhooks.ping(conn, endpoint_id, payload)
            return WebhookDeliveryPayload(delivery=delivery_object(row))

        return await _refusable(WebhookDeliveryPayload, (), run)

    @strawberry.mutation(description="Queue again every subscribed event since a time or after a sequence (one of).")
    async def replay_webhook_events(
        self,
        info: Info[Context, None],
        id: strawberry.ID,
        since: DateTime | None = None,
        after_sequence: int | None = None,
    ) -> ReplayWebhookEventsPayload:
        require_admin(info)

        async def run() -> ReplayWebhookEventsPayload:
            endpoint_id = _endpoint_id(id)
            start, after = rules.replay_window({"since": since, "afterSequence": after_sequence}, one_of=("since",))
            async with info.context.connection() as conn:
                if await webhooks.get_endpoint(conn, endpoint_id) is None:
                    raise NotFound(f"no webhook endpoint {endpoint_id}")
                queued = await webhooks.replay(conn, endpoint_id, after_sequence=after, since=start)
            return ReplayWebhookEventsPayload(queued=queued)

        return await _refusable(ReplayWebhookEventsPayload, (), run)

    @strawberry.mutation(description="Make a delivery due now with a fresh retry schedule (its attempts stay).")
    async def retry_webhook_delivery(self, info: Info[Context, None], id: strawberry.ID) -> WebhookDeliveryPayload:
        require_admin(info)

        async def run() -> WebhookDeliveryPayload:
            rules.delivery_id(id)
            async with info.context.connection() as conn:
                if await webhooks.get_delivery(conn, id) is None:
                    raise NotFound(f"no webhook delivery {id}")
                row = await webhooks.retry_delivery(conn, id)
            if row is None:
                raise Conflict(f"webhook delivery {id} is being attempted right now; try again shortly")
            return WebhookDeliveryPayload(delivery=delivery_object(row))

        return await _refusable(WebhookDeliveryPayload, (), run)


async def _update(info: Info[Context, None], endpoint_id: str, **changes: Any) -> WebhookEndpointPayload:
    async with info.context.connection() as conn:
        row = await webhooks.update_endpoint(conn, endpoint_id, **changes)
    if row is None:
        raise NotFound(f"no webhook endpoint {endpoint_id}")
    return WebhookEndpointPayload(webhook_endpoint=endpoint_object(row))
