"""GraphQL write inputs generated from the fact-kind declarations (db/<kind>.py), never retyped:
``Create<Kind>Input`` (declared-required fields non-null), ``<Kind>Patch`` (every field optional:
an explicit null clears a field, an absent one leaves it — JSON merge patch, kept in GraphQL) and
one input per value object (``ReferenceInput``, ``QuantityInput``, …). Enums are the output enums,
so a client sends ``quoteType: DIRECT`` exactly as it reads it."""

from __future__ import annotations

from enum import Enum
from typing import Any

import strawberry
from strawberry.scalars import JSON

from db.fields import Field, Shape, shape_of
from db.kinds import BY_NAME
from db.registry import fact_type
from schema.common import ENUMS, Date, DateTime

# Descriptions for the generated fields that need more than their name (the rest are in the docs and the generated reference).
FIELD_DESCRIPTIONS = {
    ("Reference", "article"): "The article quoted: its id (art_…) or its uri.",
    ("Reference", "charStart"): (
        "Offset (in Unicode code points) of the quote's first character; omit both offsets to have the quote found."
    ),
    ("Reference", "charEnd"): "Offset just past the quote's last code point.",
    ("Reference", "quoteText"): "The exact words of the article body the fact is drawn from.",
    (
        "Reference",
        "occurrence",
    ): "Which match (1-based) of a quote given without offsets, when it occurs more than once.",
    ("Asset", "id"): "Keep an asset's id to update it in place; omit it for a new asset.",
}

OBJECT_DESCRIPTIONS = {
    "Reference": "Provenance: the article and the words quoted; without offsets the service finds quoteText.",
    "Quantity": "A count that keeps its uncertainty: 'at least 65' is lowerBound 65, approximation AT_LEAST.",
    "Place": "A named place, optionally with GeoJSON geometry.",
    "Role": "A role an actor holds or held, optionally in an organization.",
    "IncidentActor": "An actor's part in an incident.",
    "Asset": "One kind of asset deployed, how many, and where it is cited.",
}

_NESTED: dict[str, type] = {}


def shared_enum(values: tuple[str, ...], owner: str) -> Any:
    """The output enum with these values: the owner's own when two share values (DatePrecision and
    IncidentDatePrecision), else the first declared."""
    candidates = ENUMS[values]
    return next((e for e in candidates if e.__name__.startswith(owner)), candidates[0])


def annotation(shape: Shape, owner: str) -> Any:
    """The Python type strawberry maps to the GraphQL input type of ``shape``."""
    if shape.type == "enum":
        return shared_enum(shape.values, owner)
    if shape.type == "ref":
        return strawberry.ID
    if shape.type == "list":
        assert shape.item is not None
        return list[annotation(shape.item, owner)]  # type: ignore[misc]
    if shape.type == "object":
        return nested(shape)
    simple: dict[str, Any] = {
        "string": str,
        "integer": int,
        "number": float,
        "date": Date,
        "datetime": DateTime,
        "geojson": JSON,
        "json": JSON,
    }
    return simple[shape.type]


def _input_type(name: str, owner: str, fields: tuple[Field, ...], *, patch: bool, description: str) -> type:
    annotations: dict[str, Any] = {}
    namespace: dict[str, Any] = {"__annotations__": annotations, "__module__": __name__}
    for f in fields:
        kind = annotation(shape_of(f.validate), owner)
        text = FIELD_DESCRIPTIONS.get((owner, f.name))
        if f.required and not patch:
            annotations[f.name] = kind
            if text:
                namespace[f.name] = strawberry.field(description=text)
        else:
            annotations[f.name] = kind | None
            namespace[f.name] = strawberry.field(default=strawberry.UNSET, description=text)
    cls = type(name, (), namespace)
    return strawberry.input(cls, name=name, description=description)


def nested(shape: Shape) -> type:
    """The input type of a value object (``ReferenceInput`` …), one per name."""
    name = f"{shape.name}Input"
    if name not in _NESTED:
        _NESTED[name] = _input_type(
            name, shape.name, shape.fields, patch=False, description=OBJECT_DESCRIPTIONS.get(shape.name, "")
        )
    return _NESTED[name]


def create_input(kind: str) -> type:
    title = BY_NAME[kind].title
    return _input_type(
        f"Create{title}Input",
        title,
        fact_type(kind).fields,
        patch=False,
        description=f"A new {kind}: the fields of the REST body (POST /v1/{BY_NAME[kind].plural}).",
    )


def patch_input(kind: str) -> type:
    title = BY_NAME[kind].title
    return _input_type(
        f"{title}Patch",
        title,
        fact_type(kind).fields,
        patch=True,
        description=f"Changes to {kind} fields (JSON merge patch): null clears a field, an absent one is left as is.",
    )


def as_record(value: Any) -> Any:
    """A generated input as the camelCase record the write service validates: absent (UNSET) fields
    are left out, explicit nulls kept, enums turned into their document values."""
    if value is strawberry.UNSET:
        return value
    if isinstance(value, list):
        return [as_record(v) for v in value]
    if isinstance(value, Enum):
        return value.value
    definition = getattr(value, "__strawberry_definition__", None)
    if definition is None:
        return value
    out: dict[str, Any] = {}
    for f in definition.fields:
        v = getattr(value, f.python_name)
        if v is not strawberry.UNSET:
            out[f.python_name] = as_record(v)
    return out
