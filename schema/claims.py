"""Claims: who said what, quoted or paraphrased, reported by whom, about whom — with provenance,
links to other claims and revisions; root fields ``claim`` and ``claims``."""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.types import Info

from db import claims as spec
from schema.common import (
    SOURCING_DESCRIPTION,
    Connection,
    Date,
    DateTime,
    OrderDirection,
    Reference,
    Sourcing,
    filter_dict,
    make_enum,
    references,
)
from schema.context import Context
from schema.kinds import register
from schema.node import Fact, fetch_one, linked, linked_one, list_connection, related

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
    ) -> Connection[Claim]:
        return await related(info, "claim", "linksTo", self.id, first, after)


@strawberry.input(description="Claim filters; all given conditions must hold.")
class ClaimFilter:
    speaker: strawberry.ID | None = None
    reported_by: strawberry.ID | None = None
    subject: strawberry.ID | None = None
    article: strawberry.ID | None = None
    status: ClaimStatus | None = None  # type: ignore[valid-type]
    quote_type: QuoteType | None = None  # type: ignore[valid-type]
    sourcing: Sourcing | None = None  # type: ignore[valid-type]
    claim_date_from: Date | None = None
    claim_date_to: Date | None = None
    updated_since: DateTime | None = None
    query: str | None = strawberry.field(default=None, description="Full-text search over statements and quotes.")


@strawberry.enum
class ClaimOrderField(Enum):
    CREATED_AT = "createdAt"
    UPDATED_AT = "updatedAt"
    CLAIM_DATE = "claimDate"


@strawberry.input
class ClaimOrder:
    field: ClaimOrderField
    direction: OrderDirection = OrderDirection.ASC


@strawberry.type
class ClaimQueries:
    @strawberry.field(description="One claim by id; with asOf, as it stood at that time.")
    async def claim(self, info: Info[Context, None], id: strawberry.ID, as_of: DateTime | None = None) -> Claim | None:
        return await fetch_one(info, "claim", id, as_of)  # type: ignore[no-any-return]

    @strawberry.field(
        description="Claims, filtered and ordered, as a keyset connection; with asOf (or an asOf cursor), as they stood then."
    )
    async def claims(
        self,
        info: Info[Context, None],
        filter: ClaimFilter | None = None,
        order_by: ClaimOrder | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        as_of: DateTime | None = None,
    ) -> Connection[Claim]:
        order = order_by or ClaimOrder(field=ClaimOrderField.CREATED_AT)
        return await list_connection(
            info, "claim", filter_dict(filter), order.field.value, order.direction is OrderDirection.DESC,
            first, after, last, before, as_of,
        )  # fmt: skip
