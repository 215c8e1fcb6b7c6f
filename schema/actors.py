"""Actors: people, organisations, governments, outlets, units and unnamed sources — with their roles
and every fact that points at them (claims as speaker, subject or reporter, articles, deployments,
incidents); root fields ``actor`` and ``actors``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.types import Info

from db import actors as spec
from schema.common import Date, from_docs, make_enum
from schema.connections import kind_connection
from schema.context import Context
from schema.kinds import register
from schema.node import Fact, linked_one, related
from schema.roots import kind_roots

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
# The connection types are made from the declarations (schema/connections.py): mypy sees Any.
if TYPE_CHECKING:
    ClaimConnectionRef = Any
    ArticleConnectionRef = Any
    DeploymentConnectionRef = Any
    IncidentConnectionRef = Any
else:
    ClaimConnectionRef = Annotated["ClaimConnection", strawberry.lazy("schema.claims")]  # noqa: F821
    ArticleConnectionRef = Annotated["ArticleConnection", strawberry.lazy("schema.articles")]  # noqa: F821
    DeploymentConnectionRef = Annotated["DeploymentConnection", strawberry.lazy("schema.deployments")]  # noqa: F821
    IncidentConnectionRef = Annotated["IncidentConnection", strawberry.lazy("schema.incidents")]  # noqa: F821


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
    ) -> ClaimConnectionRef:
        return await related(info, "claim", "speaker", self.id, first, after)

    @strawberry.field(description="Claims about this actor.")
    async def claims_as_subject(
        self, info: Info[Context, None], first: int | None = None, after: str | None = None
    ) -> ClaimConnectionRef:
        return await related(info, "claim", "subject", self.id, first, after)

    @strawberry.field(description="Claims this actor (an outlet, usually) reported.")
    async def claims_reported(
        self, info: Info[Context, None], first: int | None = None, after: str | None = None
    ) -> ClaimConnectionRef:
        return await related(info, "claim", "reportedBy", self.id, first, after)

    @strawberry.field(description="Articles this actor wrote, published or is relayed from.")
    async def articles(
        self, info: Info[Context, None], first: int | None = None, after: str | None = None
    ) -> ArticleConnectionRef:
        return await related(info, "article", "actor", self.id, first, after)

    @strawberry.field(description="Deployments this actor made.")
    async def deployments(
        self, info: Info[Context, None], first: int | None = None, after: str | None = None
    ) -> DeploymentConnectionRef:
        return await related(info, "deployment", "deployer", self.id, first, after)

    @strawberry.field(description="Incidents this actor took part in, in any role.")
    async def incidents(
        self, info: Info[Context, None], first: int | None = None, after: str | None = None
    ) -> IncidentConnectionRef:
        return await related(info, "incident", "actor", self.id, first, after)


ActorConnection = kind_connection("actor", Actor)
ActorQueries = kind_roots("actor", Actor)
