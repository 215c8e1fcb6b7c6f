"""newsfacts' GraphQL schema: strawberry types over the db layer (imports db/, never api/).
``build_schema(...)`` assembles it; the root types are listed once, in ``QUERY_TYPES``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import strawberry
from graphql import ASTValidationRule, GraphQLError
from strawberry.extensions import (
    AddValidationRules,
    DisableIntrospection,
    MaxTokensLimiter,
    ParserCache,
    SchemaExtension,
    ValidationCache,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from schema.actors import ActorQueries
from schema.articles import ArticleQueries
from schema.claims import ClaimQueries
from schema.common import SCALARS
from schema.corrections import CorrectionQueries
from schema.deployments import DeploymentQueries
from schema.errors import log_errors
from schema.incidents import IncidentQueries
from schema.keys import ApiKeyMutations, ApiKeyQueries
from schema.limits import Limits, QueryCost, alias_rule, depth_rule
from schema.mutations import Mutation
from schema.node import NodeQueries
from schema.search import SearchQueries
from schema.subscriptions import Subscription
from schema.suggestions import SuggestionMutations
from schema.webhook_mutations import WebhookMutations
from schema.webhooks import WebhookQueries

# Every root query mixin; mutations and subscriptions are passed to build_schema by their modules.
QUERY_TYPES: tuple[type, ...] = (
    NodeQueries,
    ArticleQueries,
    ActorQueries,
    ClaimQueries,
    DeploymentQueries,
    IncidentQueries,
    SearchQueries,
    CorrectionQueries,
    WebhookQueries,
    ApiKeyQueries,
)
CACHE_SIZE = 512


@strawberry.type(
    description="Read every fact: by id, as filtered connections, or by full-text search; webhooks (scope admin)."
)
class Query(*QUERY_TYPES):  # type: ignore[misc]
    pass


class NewsfactsSchema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        log_errors(errors)


def build_schema(
    *,
    limits: Limits | None = None,
    introspection: bool = True,
    mutation: type | None = None,
    subscription: type | None = None,
) -> strawberry.Schema:
    """The schema with its limits and bounded parser/validation caches."""
    limits = limits or Limits()
    rules: list[type[ASTValidationRule]] = [depth_rule(limits.max_depth), alias_rule(limits.max_aliases)]
    extensions: list[Callable[[], SchemaExtension] | type[SchemaExtension]] = [
        lambda: MaxTokensLimiter(max_token_count=limits.max_tokens),
        lambda: AddValidationRules(rules),
        lambda: ParserCache(maxsize=CACHE_SIZE),
        lambda: ValidationCache(maxsize=CACHE_SIZE),
        lambda: QueryCost(limits.max_cost),
    ]
    if not introspection:
        extensions.append(DisableIntrospection)

    @strawberry.type(
        name="Mutation",
        description="Write facts (scope write) and manage webhooks (scope admin). Refusals are userErrors in each payload.",
    )
    class RootMutation(Mutation, WebhookMutations, ApiKeyMutations, SuggestionMutations):  # type: ignore[misc, valid-type]
        pass

    kwargs: dict[str, Any] = {"mutation": mutation or RootMutation, "subscription": subscription or Subscription}
    return NewsfactsSchema(query=Query, extensions=extensions, config=StrawberryConfig(scalar_map=SCALARS), **kwargs)
