"""Incidents: what happened, to and by whom, when and where, with counts that keep their
uncertainty; root fields ``incident`` and ``incidents``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.types import Info

from db import incidents as spec
from schema.common import (
    SOURCING_DESCRIPTION,
    Date,
    Place,
    Quantity,
    Reference,
    Sourcing,
    from_docs,
    make_enum,
    place,
    quantity,
    references,
)
from schema.connections import kind_connection
from schema.context import Context
from schema.kinds import register
from schema.node import Fact, linked_one
from schema.roots import kind_roots

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


IncidentConnection = kind_connection("incident", Incident)
IncidentQueries = kind_roots("incident", Incident)
