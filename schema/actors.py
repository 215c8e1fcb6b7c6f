"""Actors: people, organisations, governments, outlets, units and unnamed sources — with their roles
and every fact that points at them (claims as speaker, subject or reporter, articles, deployments,
incidents); root fields ``actor`` and ``actors``."""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.types import Info

from db import actors as spec
from schema.common import Connection, Date, DateTime, OrderDirection, filter_dict, from_docs, make_enum
from schema.context import Context
from schema.kinds import register
from schema.node import Fact, fetch_one, linked_one, list_connection, related

if TYPE_CHECKING:
    from schema.articles import Article
    from schema.claims import Claim
    from schema.deployments import Deployment
    from schema.incidents import Incident

ActorKind = make_enum("ActorKind", spec.KINDS)
ClaimRef = Annotated["Claim", strawberry.lazy("schema.claims")]
ArticleRef = Annotated["Article", strawberry.lazy("schema.articles")]
DeploymentRef = Annotated["Deployment", strawberry.lazy("schema.deployments")]
IncidentRef = Annotated["Incident", strawberry.lazy("schema.incidents")]


@strawberry.type(description="A position an actor holds, optionally in an organisation, over a period.")
class Role:
    title: str
    since: Date | None
    until: Date | None
    doc: strawberry.Private[dict[str, Any]]

    @strawberry.field
    def organization(self, info: Info[Context, None]) -> Actor | None:
        return linked_one(info, "actor", self.doc.get("organization"))  # type: ignore[no-any-return]


@register("actor")
@strawberry.type(description="A person, organisation, government, outlet, unit or unnamed source.")
class Actor(Fact):
    kind: ActorKind  # type: ignore[valid-type]
    name: str
    aliases: list[str]
    description: str | None
    country: str | None = strawberry.field(description="ISO 3166-1 alpha-2 code.")
    wikidata_id: str | None

    @strawberry.field
    def roles(self) -> list[Role]:
        return from_docs(Role, self.doc["roles"])

    @strawberry.field(description="Claims this actor made.")
    async def claims_as_speaker(
        self, info: Info[Context, None], first: int | None = None, after: str | None = None
    ) -> Connection[ClaimRef]:
        return await related(info, "claim", "speaker", self.id, first, after)

    @strawberry.field(description="Claims about this actor.")
    async def claims_as_subject(
        self, info: Info[Context, None], first: int | None = None, after: str | None = None
    ) -> Connection[ClaimRef]:
        return await related(info, "claim", "subject", self.id, first, after)

    @strawberry.field(description="Claims this actor (an outlet, usually) reported.")
    async def claims_reported(
        self, info: Info[Context, None], first: int | None = None, after: str | None = None
    ) -> Connection[ClaimRef]:
        return await related(info, "claim", "reportedBy", self.id, first, after)

    @strawberry.field(description="Articles this actor wrote, published or is relayed from.")
    async def articles(
        self, info: Info[Context, None], first: int | None = None, after: str | None = None
    ) -> Connection[ArticleRef]:
        return await related(info, "article", "actor", self.id, first, after)

    @strawberry.field(description="Deployments this actor made.")
    async def deployments(
        self, info: Info[Context, None], first: int | None = None, after: str | None = None
    ) -> Connection[DeploymentRef]:
        return await related(info, "deployment", "deployer", self.id, first, after)

    @strawberry.field(description="Incidents this actor took part in, in any role.")
    async def incidents(
        self, info: Info[Context, None], first: int | None = None, after: str | None = None
    ) -> Connection[IncidentRef]:
        return await related(info, "incident", "actor", self.id, first, after)


@strawberry.input(description="Actor filters; all given conditions must hold.")
class ActorFilter:
    kind: ActorKind | None = None  # type: ignore[valid-type]
    country: str | None = None
    updated_since: DateTime | None = None
    query: str | None = strawberry.field(default=None, description="Full-text search over names and descriptions.")


@strawberry.enum
class ActorOrderField(Enum):
    CREATED_AT = "createdAt"
    UPDATED_AT = "updatedAt"


@strawberry.input
class ActorOrder:
    field: ActorOrderField
    direction: OrderDirection = OrderDirection.ASC


@strawberry.type
class ActorQueries:
    @strawberry.field(description="One actor by id; with asOf, as it stood at that time.")
    async def actor(self, info: Info[Context, None], id: strawberry.ID, as_of: DateTime | None = None) -> Actor | None:
        return await fetch_one(info, "actor", id, as_of)  # type: ignore[no-any-return]

    @strawberry.field(
        description="Actors, filtered and ordered, as a keyset connection; with asOf (or an asOf cursor), as they stood then."
    )
    async def actors(
        self,
        info: Info[Context, None],
        filter: ActorFilter | None = None,
        order_by: ActorOrder | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        as_of: DateTime | None = None,
    ) -> Connection[Actor]:
        order = order_by or ActorOrder(field=ActorOrderField.CREATED_AT)
        return await list_connection(
            info, "actor", filter_dict(filter), order.field.value, order.direction is OrderDirection.DESC,
            first, after, last, before, as_of,
        )  # fmt: skip
