"""The REST request schemas the fact-kind declarations (db/<kind>.py) imply: ``<Kind>Create`` (the
declared-required fields listed), ``<Kind>Patch`` (merge patch: every field nullable, none required),
``<Kind>Correction`` and one ``<Name>Input`` per value object. openapi/openapi.yaml is edited by hand
and stays the contract partners read; tests/contract/test_declarations.py holds its schemas equal
to these. ``python -m tests.contract.declared`` prints them as YAML to paste after a declaration
changes."""

from __future__ import annotations

import sys
from typing import Any

import yaml

from db.facts import READ_ONLY
from db.fields import Field, Shape, shape_of
from db.kinds import BY_NAME, KINDS
from db.registry import fact_type

Schema = dict[str, Any]
_REF = "#/components/schemas/"
MAX_REASON = 2000  # api/rest/writes.py


def _nullable(schema: Schema) -> Schema:
    if "$ref" in schema:
        return {"anyOf": [schema, {"type": "null"}]}
    return {**schema, "type": [schema["type"], "null"]}


def enum_name(values: tuple[str, ...], owner: str) -> str:
    import schema.mutations  # noqa: F401 - registers every output enum
    from schema.inputs import shared_enum

    return str(shared_enum(values, owner).__name__)


def schema_of(shape: Shape, objects: dict[str, Schema], owner: str) -> Schema:
    """The JSON Schema of one declared shape; value objects are collected into ``objects``."""
    if shape.type == "string":
        out: Schema = {"type": "string"}
        if shape.pattern:
            out["pattern"] = f"^{shape.pattern}$"
        if shape.max_length is not None:
            out["maxLength"] = shape.max_length
        return out
    if shape.type == "integer":
        return {"type": "integer", "minimum": shape.minimum, "maximum": shape.maximum}
    if shape.type == "number":
        return {"type": "number"}
    if shape.type == "date":
        return {"type": "string", "format": "date"}
    if shape.type == "datetime":
        return {"type": "string", "format": "date-time"}
    if shape.type == "enum":
        # One named enum per value set, named as in GraphQL (QuoteType, IncidentRole, …).
        name = enum_name(shape.values, owner)
        objects.setdefault(name, {"type": "string", "enum": list(shape.values)})
        return {"$ref": _REF + name}
    if shape.type == "ref":
        if shape.description:  # an article by id or uri
            return {"type": "string", "description": shape.description}
        if shape.kind in BY_NAME:
            return {"$ref": f"{_REF}{BY_NAME[shape.kind].title}Id"}
        return {"type": "string", "pattern": "^ast_[0-7][0-9A-HJKMNP-TV-Z]{25}$"}
    if shape.type == "list":
        assert shape.item is not None
        return {"type": "array", "items": schema_of(shape.item, objects, owner), "maxItems": shape.max_items}
    if shape.type == "object":
        name = f"{shape.name}Input"
        if name not in objects:
            from schema.inputs import OBJECT_DESCRIPTIONS

            objects[name] = {}  # placeholder: a value object may not contain itself
            described = {"type": "object", "description": OBJECT_DESCRIPTIONS.get(shape.name, "")}
            objects[name] = {**described, **_object(shape.fields, objects, shape.name, patch=False)}
        return {"$ref": _REF + name}
    if shape.type == "geojson":
        return {"$ref": _REF + "GeoJson"}  # RFC 7946, typed in the document (db/geojson.py checks it)
    return {}


def _object(fields: tuple[Field, ...], objects: dict[str, Schema], owner: str, *, patch: bool) -> Schema:
    properties: dict[str, Schema] = {}
    required = []
    from schema.inputs import FIELD_DESCRIPTIONS

    for f in fields:
        schema = schema_of(shape_of(f.validate), objects, owner)
        if (owner, f.name) in FIELD_DESCRIPTIONS:
            schema = {**schema, "description": FIELD_DESCRIPTIONS[owner, f.name]}
        if f.required and not patch:
            required.append(f.name)
            properties[f.name] = schema
        else:
            # Null means "not given" on create and "clear it" in a merge patch.
            properties[f.name] = _nullable(schema)
    out: Schema = {"type": "object"}
    if required:
        out["required"] = required
    out["properties"] = properties
    return out


def request_schemas() -> dict[str, Schema]:
    objects: dict[str, Schema] = {}
    out: dict[str, Schema] = {}
    for k in KINDS:
        t = fact_type(k.name)
        create = _object(t.fields, objects, k.title, patch=False)
        create["properties"] = {"id": {"$ref": f"{_REF}{k.title}Id"}, **create["properties"]}
        out[f"{k.title}Create"] = {
            "type": "object",
            "description": f"a new {k.name}; an id ({k.prefix}_…) is kept when given, the other read-only fields "
            f"({', '.join(sorted(READ_ONLY - {'id'}))}) are ignored",
            **create,
        }
        out[f"{k.title}Patch"] = {
            "type": "object",
            "description": f"JSON merge patch (RFC 7396) of a {k.name}: null clears a field, an absent one is kept",
            **_object(t.fields, objects, k.title, patch=True),
        }
        out[f"{k.title}Correction"] = {
            "type": "object",
            "required": ["changes", "reason"],
            "additionalProperties": False,
            "properties": {
                "changes": {"$ref": f"{_REF}{k.title}Patch"},
                "reason": {"type": "string", "minLength": 1, "maxLength": MAX_REASON},
            },
        }
    return {**out, **dict(sorted(objects.items()))}


if __name__ == "__main__":
    dumped = yaml.safe_dump(request_schemas(), sort_keys=False, width=120, allow_unicode=True)
    sys.stdout.write("".join("    " + line if line.strip() else line for line in dumped.splitlines(True)))
