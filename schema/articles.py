"""Articles: the reports facts are drawn from — outlet, authors, relayed outlets, and every claim,
deployment and incident citing them; root fields ``article`` (by id or uri) and ``articles``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.types import Info

from db import articles as spec
from db import relations
from db.errors import BadUserInput, FieldError, NotFound
from schema.common import DateTime, from_doc, make_enum
from schema.connections import kind_connection
from schema.context import Context
from schema.kinds import register
from schema.node import Fact, fetch_one, linked, linked_one, related
from schema.roots import kind_roots

if TYPE_CHECKING:
    from schema.actors import Actor
    from schema.claims import Claim
    from schema.deployments import Deployment
    from schema.incidents import Incident

PubStatus = make_enum("PubStatus", spec.PUB_STATUSES)
ActorRef = Annotated["Actor", strawberry.lazy("schema.actors")]
ClaimRef = Annotated["Claim", strawberry.lazy("schema.claims")]
DeploymentRef = Annotated["Deployment", strawberry.lazy("schema.deployments")]
IncidentRef = Annotated["Incident", strawberry.lazy("schema.incidents")]
# The connection types are made from the declarations (schema/connections.py): mypy sees Any.
if TYPE_CHECKING:
    ClaimConnectionRef = Any
    DeploymentConnectionRef = Any
    IncidentConnectionRef = Any
else:
    ClaimConnectionRef = Annotated["ClaimConnection", strawberry.lazy("schema.claims")]  # noqa: F821
    DeploymentConnectionRef = Annotated["DeploymentConnection", strawberry.lazy("schema.deployments")]  # noqa: F821
    IncidentConnectionRef = Annotated["IncidentConnection", strawberry.lazy("schema.incidents")]  # noqa: F821


@register("article")
@strawberry.type(description="A news report that facts are drawn from.")
class Article(Fact):
    uri: str
    url: str | None
    headline: str | None = strawberry.field(
        description="Null while the article is withheld or canceled, for read-scope and anonymous callers."
    )
    summary: str | None
    body: str | None = strawberry.field(
        description="Null while the article is withheld or canceled, for read-scope and anonymous callers."
    )
    language: str
    published_at: DateTime | None
    subjects: list[str] = strawberry.field(description="IPTC Media Topic codes (medtop:…).")
    pub_status: PubStatus  # type: ignore[valid-type]

    @strawberry.field(description="The outlet that published the article.")
    def outlet(self, info: Info[Context, None]) -> ActorRef | None:
        return linked_one(info, "actor", self.doc["outlet"])  # type: ignore[no-any-return]

    @strawberry.field
    def authors(self, info: Info[Context, None]) -> list[ActorRef]:
        return linked(info, "actor", self.doc["authors"])  # type: ignore[no-any-return]

    @strawberry.field(description="Outlets whose reporting this article relays.")
    def based_on(self, info: Info[Context, None]) -> list[ActorRef]:
        return linked(info, "actor", self.doc["basedOn"])  # type: ignore[no-any-return]

    @strawberry.field(description="Outlet, authors and relayed outlets, once each.")
    def actors(self, info: Info[Context, None]) -> list[ActorRef]:
        ids = dict.fromkeys(
            [*([self.doc["outlet"]] if self.doc["outlet"] else []), *self.doc["authors"], *self.doc["basedOn"]]
        )
        return linked(info, "actor", list(ids))  # type: ignore[no-any-return]

    @strawberry.field(description="Claims citing this article.")
    async def claims(
        self, info: Info[Context, None], first: int | None = None, after: str | None = None
    ) -> ClaimConnectionRef:
        return await related(info, "claim", "article", self.id, first, after)

    @strawberry.field(description="Deployments citing this article.")
    async def deployments(
        self, info: Info[Context, None], first: int | None = None, after: str | None = None
    ) -> DeploymentConnectionRef:
        return await related(info, "deployment", "article", self.id, first, after)

    @strawberry.field(description="Incidents citing this article.")
    async def incidents(
        self, info: Info[Context, None], first: int | None = None, after: str | None = None
    ) -> IncidentConnectionRef:
        return await related(info, "incident", "article", self.id, first, after)


async def article_by_id_or_uri(
    self: Any,
    info: Info[Context, None],
    id: strawberry.ID | None = None,
    uri: str | None = None,
    as_of: DateTime | None = None,
) -> Article | None:
    if (id is None) == (uri is None):
        raise BadUserInput(
            "pass exactly one of id and uri", errors=[FieldError(("id",), "CONFLICTING_ARGUMENTS", "id or uri")]
        )
    if id is not None:
        return await fetch_one(info, "article", id, as_of)  # type: ignore[no-any-return]
    loaders = info.context.read_at(info, as_of)
    async with info.context.connection() as conn:
        doc = await relations.article_by_uri(conn, uri or "", lens=loaders.lens)
    if doc is None:
        when = f" at {as_of}" if as_of else ""
        raise NotFound(f"no article with uri {uri}{when}")
    info.context.touched.add(doc["id"])
    return from_doc(Article, doc)


ArticleConnection = kind_connection("article", Article)
ArticleQueries = kind_roots(
    "article",
    Article,
    by_id=strawberry.field(
        resolver=article_by_id_or_uri, description="One article by id or uri; with asOf, as it stood at that time."
    ),
)
