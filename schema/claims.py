"""Claims: who said what, quoted or paraphrased, reported by whom, about whom — with provenance,
links to other claims and revisions; root fields ``claim`` and ``claims``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.types import Info

from db import claims as spec
from schema.common import (
    SOURCING_DESCRIPTION,
    Date,
    Reference,
    Sourcing,
    make_enum,
    references,
)
from schema.connections import kind_connection
from schema.context import Context
from schema.kinds import register
from schema.node import Fact, linked, linked_one, related
from schema.roots import kind_roots

if TYPE_CHECKING:
    from schema.actors import Actor

QuoteType = make_enum("QuoteType", spec.QUOTE_TYPES, "Verbatim quote, paraphrase, bare assertion or analysis.")
ClaimStatus = make_enum("ClaimStatus", spec.STATUSES)
DatePrecision = make_enum("DatePrecision", spec.PRECISIONS)
ActorRef = Annotated["Actor", strawberry.lazy("schema.actors")]


@register("claim")
@strawberry.type(description="A statement someone made, as reported, with the spans of articles it comes from.")
class Claim(Fact):
    statement: str
    quote: str | None
    quote_type: QuoteType  # type: ignore[valid-type]
    speaker_description: str | None = strawberry.field(
        description="Who spoke, when no named actor can be given (an unnamed source)."
    )
    claim_date: Date | None
    claim_date_precision: DatePrecision | None  # type: ignore[valid-type]
    status: ClaimStatus  # type: ignore[valid-type]
    sourcing: Sourcing = strawberry.field(description=SOURCING_DESCRIPTION)  # type: ignore[valid-type]

    @strawberry.field(description="The named actor who made the claim; null for unnamed sources.")
    def speaker(self, info: Info[Context, None]) -> ActorRef | None:
        return linked_one(info, "actor", self.doc["speaker"])  # type: ignore[no-any-return]

    @strawberry.field(description="The outlet or actor that reported the claim.")
    def reported_by(self, info: Info[Context, None]) -> ActorRef | None:
        return linked_one(info, "actor", self.doc["reportedBy"])  # type: ignore[no-any-return]

    @strawberry.field(description="The actors the claim is about.")
    def subjects(self, info: Info[Context, None]) -> list[ActorRef]:
        return linked(info, "actor", self.doc["subjects"])  # type: ignore[no-any-return]

    @strawberry.field
    def references(self) -> list[Reference]:
        return references(self.doc["references"])

    @strawberry.field(description="Claims this one supersedes.")
    def supersedes(self, info: Info[Context, None]) -> list[Claim]:
        return linked(info, "claim", self.doc["supersedes"])  # type: ignore[no-any-return]

    @strawberry.field(description="Claims this one contradicts.")
    def contradicts(self, info: Info[Context, None]) -> list[Claim]:
        return linked(info, "claim", self.doc["contradicts"])  # type: ignore[no-any-return]

    @strawberry.field(description="Claims that state the same thing.")
    def same_as(self, info: Info[Context, None]) -> list[Claim]:
        return linked(info, "claim", self.doc["sameAs"])  # type: ignore[no-any-return]

    @strawberry.field(description="Claims that supersede, contradict or restate this one.")
    async def related_claims(
        self, info: Info[Context, None], first: int | None = None, after: str | None = None
    ) -> ClaimConnection:  # type: ignore[valid-type]
        return await related(info, "claim", "linksTo", self.id, first, after)  # type: ignore[no-any-return]


ClaimConnection = kind_connection("claim", Claim)
ClaimQueries = kind_roots("claim", Claim)
