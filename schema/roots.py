"""The root fields every fact kind has, made from its declaration (db/<kind>.py) and never retyped:
``<kind>(id, asOf)`` and ``<plural>(filter, orderBy, first, after, last, before, asOf)``, with
``<Title>Filter`` (one optional field per declared filter, described as REST describes it),
``<Title>OrderField`` (one value per declared order) and ``<Title>Order``. Each kind's module calls
``kind_roots`` once its output type exists; a kind whose field by id takes more than an id (an
article's uri) passes that field in."""

from typing import Any

import strawberry
from strawberry.types import Info
from strawberry.types.field import StrawberryField
from strawberry.utils.str_converters import to_snake_case

from db.facts import FactType
from db.fields import shape_of
from db.kinds import BY_NAME
from db.registry import fact_type
from schema.common import DateTime, OrderDirection, filter_dict, make_enum
from schema.connections import connection_type
from schema.context import Context
from schema.inputs import annotation
from schema.node import fetch_one, list_connection

# Annotations here are objects, not strings (no ``from __future__ import annotations``): the
# resolvers are made at run time, and strawberry reads their annotations as they are.


def kind_roots(kind: str, node: type, by_id: StrawberryField | None = None) -> type:
    """``<Title>Queries``: the kind's root fields, ``node`` its output type; ``by_id`` replaces
    the generated field by id."""
    k, t = BY_NAME[kind], fact_type(kind)
    filter_input = _filter_input(t, k.title)
    order_field = make_enum(f"{k.title}OrderField", tuple(o.name for o in t.orders))
    order_input = strawberry.input(
        type(
            f"{k.title}Order",
            (),
            {
                "__annotations__": {"field": order_field, "direction": OrderDirection},
                "direction": OrderDirection.ASC,
                "__module__": __name__,
            },
        )
    )
    default_order = order_input(field=order_field.CREATED_AT)

    async def one(self: Any, info: Info[Context, None], id: strawberry.ID, as_of: DateTime | None = None) -> Any:
        return await fetch_one(info, kind, id, as_of)

    one.__annotations__["return"] = node | None

    async def page(
        self: Any,
        info: Info[Context, None],
        filter: filter_input | None = None,  # type: ignore[valid-type]
        order_by: order_input | None = None,  # type: ignore[valid-type]
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        as_of: DateTime | None = None,
    ) -> Any:
        order = order_by or default_order
        return await list_connection(
            info, kind, filter_dict(filter), order.field.value, order.direction is OrderDirection.DESC,
            first, after, last, before, as_of,
        )  # fmt: skip

    page.__annotations__["return"] = connection_type(kind)
    one_field = by_id or strawberry.field(
        resolver=one, description=f"One {kind} by id; with asOf, as it stood at that time."
    )
    list_field = strawberry.field(
        resolver=page,
        description=f"{k.plural.capitalize()}, filtered and ordered, as a keyset connection; with asOf"
        " (or an asOf cursor), as they stood then.",
    )
    namespace = {kind: one_field, k.plural: list_field, "__module__": __name__}
    return strawberry.type(type(f"{k.title}Queries", (), namespace))


def _filter_input(t: FactType, title: str) -> type:
    annotations: dict[str, Any] = {}
    namespace: dict[str, Any] = {"__annotations__": annotations, "__module__": __name__}
    for f in t.filters:
        name = to_snake_case(f.name)
        annotations[name] = annotation(shape_of(f.parse), title) | None
        namespace[name] = strawberry.field(default=None, description=_sentence(f.description))
    return strawberry.input(
        type(f"{title}Filter", (), namespace), description=f"{title} filters; all given conditions must hold."
    )


def _sentence(text: str) -> str | None:
    """A filter's REST description ("claims made by this actor") as GraphQL describes fields."""
    return f"{text[0].upper()}{text[1:]}." if text else None
