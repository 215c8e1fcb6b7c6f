"""Incidents: what happened, to and by whom, when and where, with counts that keep their
uncertainty; root fields ``incident`` and ``incidents``."""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.types import Info

from db import incidents as spec
from schema.common import (
    SOURCING_DESCRIPTION,
    Connection,
    Date,
    DateTime,
    OrderDirection,
    Place,
    Quantity,
    Reference,
    Sourcing,
    filter_dict,
    from_docs,
    make_enum,
    place,
    quantity,
    references,
)
from schema.context import Context
from schema.kinds import register
from schema.node import Fact, fetch_one, linked_one, list_connection

if TYPE_CHECKING:
    from schema.actors import Actor

IncidentRole = make_enum("IncidentRole", spec.ROLES)
DatePrecision = make_enum("IncidentDatePrecision", spec.PRECISIONS)
ActorRef = Annotated["Actor", strawberry.lazy("schema.actors")]


@strawberry.type(description="An actor's part in an incident.")
class IncidentActor:
    role: IncidentRole  # type: ignore[valid-type]
    doc: strawberry.Private[dict[str, Any]]

    @strawberry.field
    def actor(self, info: Info[Context, None]) -> ActorRef | None:
        return linked_one(info, "actor", self.doc["actor"])  # type: ignore[no-any-return]


@register("incident")
@strawberry.type(description="Something that happened: a strike, a seizure, an arrest…")
class Incident(Fact):
    incident_type: str
    description: str | None
    occurred_from: Date | None
    occurred_to: Date | None
    occurred_precision: DatePrecision | None  # type: ignore[valid-type]
    sourcing: Sourcing = strawberry.field(description=SOURCING_DESCRIPTION)  # type: ignore[valid-type]

    @strawberry.field
    def actors(self) -> list[IncidentActor]:
        return from_docs(IncidentActor, self.doc["actors"])

    @strawberry.field
    def location(self) -> Place | None:
        return place(self.doc["location"])

    @strawberry.field(description="How many events this incident groups (e.g. 16 strikes).")
    def count(self) -> Quantity | None:
        return quantity(self.doc["count"])

    @strawberry.field
    def fatalities(self) -> Quantity | None:
        return quantity(self.doc["fatalities"])

    @strawberry.field
    def injuries(self) -> Quantity | None:
        return quantity(self.doc["injuries"])

    @strawberry.field
    def references(self) -> list[Reference]:
        return references(self.doc["references"])


@strawberry.input(description="Incident filters; all given conditions must hold.")
class IncidentFilter:
    incident_type: str | None = None
    actor: strawberry.ID | None = strawberry.field(default=None, description="Involved in any role.")
    perpetrator: strawberry.ID | None = None
    target: strawberry.ID | None = None
    authorizer: strawberry.ID | None = None
    article: strawberry.ID | None = None
    sourcing: Sourcing | None = None  # type: ignore[valid-type]
    occurred_from: Date | None = None
    occurred_to: Date | None = None
    updated_since: DateTime | None = None
    query: str | None = None


@strawberry.enum
class IncidentOrderField(Enum):
    CREATED_AT = "createdAt"
    UPDATED_AT = "updatedAt"
    OCCURRED_FROM = "occurredFrom"


@strawberry.input
class IncidentOrder:
    field: IncidentOrderField
    direction: OrderDirection = OrderDirection.ASC


@strawberry.type
class IncidentQueries:
    @strawberry.field(description="One incident by id; with asOf, as it stood at that time.")
    async def incident(
        self, info: Info[Context, None], id: strawberry.ID, as_of: DateTime | None = None
    ) -> Incident | None:
        return await fetch_one(info, "incident", id, as_of)  # type: ignore[no-any-return]

    @strawberry.field(
        description="Incidents, filtered and ordered, as a keyset connection; with asOf (or an asOf cursor), as they stood then."
    )
    async def incidents(
        self,
        info: Info[Context, None],
        filter: IncidentFilter | None = None,
        order_by: IncidentOrder | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        as_of: DateTime | None = None,
    ) -> Connection[Incident]:
        order = order_by or IncidentOrder(field=IncidentOrderField.CREATED_AT)
        return await list_connection(
            info, "incident", filter_dict(filter), order.field.value, order.direction is OrderDirection.DESC,
            first, after, last, before, as_of,
        )  # fmt: skip
