"""Deployments: who sent what where — each asset with its quantity, attributes and provenance;
root fields ``deployment`` and ``deployments``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.types import Info

from db import deployments as spec
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

DeploymentStatus = make_enum("DeploymentStatus", spec.STATUSES)
AssetType = make_enum("AssetType", spec.ASSET_TYPES)
ActorRef = Annotated["Actor", strawberry.lazy("schema.actors")]


@strawberry.type(description="One kind of asset deployed (troops, a carrier, jets…), how many, and where it is cited.")
class Asset:
    id: strawberry.ID
    asset_type: AssetType  # type: ignore[valid-type]
    name: str | None
    attributes: list[str]
    doc: strawberry.Private[dict[str, Any]]

    @strawberry.field
    def quantity(self) -> Quantity | None:
        return quantity(self.doc.get("quantity"))

    @strawberry.field
    def references(self) -> list[Reference]:
        return references(self.doc.get("references"))


@register("deployment")
@strawberry.type(description="A deployment of military or other assets by an actor to a region.")
class Deployment(Fact):
    stated_purpose: str | None
    status: DeploymentStatus  # type: ignore[valid-type]
    sourcing: Sourcing = strawberry.field(description=SOURCING_DESCRIPTION)  # type: ignore[valid-type]
    started_on: Date | None
    ended_on: Date | None

    @strawberry.field
    def deployer(self, info: Info[Context, None]) -> ActorRef | None:
        return linked_one(info, "actor", self.doc["deployer"])  # type: ignore[no-any-return]

    @strawberry.field
    def region(self) -> Place | None:
        return place(self.doc["region"])

    @strawberry.field
    def assets(self) -> list[Asset]:
        return from_docs(Asset, self.doc["assets"])

    @strawberry.field
    def references(self) -> list[Reference]:
        return references(self.doc["references"])


DeploymentConnection = kind_connection("deployment", Deployment)
DeploymentQueries = kind_roots("deployment", Deployment)
