"""GraphQL for API keys (scope admin): the ``apiKeys`` query (never a secret) and the
``createApiKey`` (the secret is in its payload only) and ``revokeApiKey`` mutations, over db/keys.py
like REST. Refusals are typed ``userErrors``, as for facts."""

from __future__ import annotations

from enum import Enum
from typing import Any

import strawberry
from strawberry.types import Info

from db import keys
from db.errors import Forbidden, NotFound, Unauthenticated, ValidationFailed
from db.ids import is_id
from schema.common import DateTime
from schema.context import Context
from schema.mutations import UserError, _user_errors


@strawberry.enum(description="What a key may do; each includes the ones before it.")
class ApiKeyScope(Enum):
    READ = "read"
    WRITE = "write"
    ADMIN = "admin"


@strawberry.type(description="An API key as the API shows it: never its secret.")
class ApiKey:
    id: strawberry.ID
    name: str
    scope: ApiKeyScope
    created_at: DateTime
    revoked_at: DateTime | None


@strawberry.type(description="createApiKey's result: the key and its secret (shown only here), or why not.")
class CreateApiKeyPayload:
    api_key: ApiKey | None = None
    secret: str | None = strawberry.field(
        default=None, description="The key itself, for 'Authorization: Bearer'; stored only as a hash."
    )
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type(description="revokeApiKey's result: the revoked key, or why not.")
class RevokeApiKeyPayload:
    api_key: ApiKey | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


def _key(doc: dict[str, Any]) -> ApiKey:
    return ApiKey(
        id=strawberry.ID(doc["id"]), name=doc["name"], scope=ApiKeyScope(doc["scope"]),
        created_at=DateTime(doc["createdAt"]), revoked_at=doc["revokedAt"],
    )  # fmt: skip


def _require_admin(info: Info[Context, None]) -> None:
    info.context.cacheable = False  # keys change without a fact event: never a cached answer
    principal = info.context.principal
    if principal is None or principal.anonymous:
        raise Unauthenticated("API keys need an API key with the admin scope")
    if not principal.allows("admin"):
        raise Forbidden(f"API keys need the admin scope; the key has {principal.scope}")


@strawberry.type
class ApiKeyQueries:
    @strawberry.field(description="API keys, newest first, never their secrets (scope admin).")
    async def api_keys(self, info: Info[Context, None], include_revoked: bool = False) -> list[ApiKey]:
        _require_admin(info)
        async with info.context.connection() as conn:
            return [_key(d) for d in await keys.list_documents(conn, include_revoked=include_revoked)]


@strawberry.type
class ApiKeyMutations:
    @strawberry.mutation(description="Create an API key; its secret is in this payload only (scope admin).")
    async def create_api_key(
        self, info: Info[Context, None], scope: ApiKeyScope, name: str | None = None
    ) -> CreateApiKeyPayload:
        _require_admin(info)
        try:
            checked_name, checked_scope = keys.check_new(name, scope.value)
        except ValidationFailed as exc:
            return CreateApiKeyPayload(user_errors=_user_errors(exc))
        async with info.context.connection() as conn:
            key, secret = await keys.create(conn, name=checked_name, scope=checked_scope)
            doc = await keys.document(conn, key.id)
        assert doc is not None
        return CreateApiKeyPayload(api_key=_key(doc), secret=secret)

    @strawberry.mutation(
        description="Revoke an API key (again is a no-op); it stops working within 30 s everywhere (scope admin)."
    )
    async def revoke_api_key(self, info: Info[Context, None], id: strawberry.ID) -> RevokeApiKeyPayload:
        _require_admin(info)
        doc = None
        if is_id(str(id), "key"):
            async with info.context.connection() as conn:
                doc = await keys.revoke_document(conn, str(id))
        if doc is None:
            return RevokeApiKeyPayload(user_errors=_user_errors(NotFound(f"no API key {str(id)!r}"), ("id",)))
        return RevokeApiKeyPayload(api_key=_key(doc))
