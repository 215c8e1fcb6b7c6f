"""Deployments: who sent what where — each asset with its quantity, attributes and provenance;
root fields ``deployment`` and ``deployments``."""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.types import Info

from db import deployments as spec
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


@strawberry.input(description="Deployment filters; all given conditions must hold.")
class DeploymentFilter:
    deployer: strawberry.ID | None = None
    status: DeploymentStatus | None = None  # type: ignore[valid-type]
    region: str | None = strawberry.field(default=None, description="Region name, case-insensitive.")
    asset_type: AssetType | None = None  # type: ignore[valid-type]
    article: strawberry.ID | None = None
    sourcing: Sourcing | None = None  # type: ignore[valid-type]
    started_from: Date | None = None
    started_to: Date | None = None
    updated_since: DateTime | None = None
    query: str | None = None


@strawberry.enum
class DeploymentOrderField(Enum):
    CREATED_AT = "createdAt"
    UPDATED_AT = "updatedAt"
    STARTED_ON = "startedOn"


@strawberry.input
class DeploymentOrder:
    field: DeploymentOrderField
    direction: OrderDirection = OrderDirection.ASC


@strawberry.type
class DeploymentQueries:
    @strawberry.field(description="One deployment by id; with asOf, as it stood at that time.")
    async def deployment(
        self, info: Info[Context, None], id: strawberry.ID, as_of: DateTime | None = None
    ) -> Deployment | None:
        return await fetch_one(info, "deployment", id, as_of)  # type: ignore[no-any-return]

    @strawberry.field(
        description="Deployments, filtered and ordered, as a keyset connection; with asOf (or an asOf cursor), as they stood then."
    )
    async def deployments(
        self,
        info: Info[Context, None],
        filter: DeploymentFilter | None = None,
        order_by: DeploymentOrder | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        as_of: DateTime | None = None,
    ) -> Connection[Deployment]:
        order = order_by or DeploymentOrder(field=DeploymentOrderField.CREATED_AT)
        return await list_connection(
            info, "deployment", filter_dict(filter), order.field.value, order.direction is OrderDirection.DESC,
            first, after, last, before, as_of,
        )  # fmt: skip
