"""The one declaration per fact kind (db/<kind>.py) and both contracts agree, field by field: the
committed SDL's write inputs, filters and sort orders, and the OpenAPI document's request bodies
and fact schemas (names, types, enums, required-ness, read-only fields). Each check reports its
differences, and is shown to catch one."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    build_schema,
    get_named_type,
)

from db.fields import Field, Shape, shape_of
from db.kinds import KINDS, Kind
from db.registry import fact_type
from tests.contract.declared import request_schemas

ROOT = Path(__file__).resolve().parents[2]
SDL = build_schema((ROOT / "schema" / "schema.graphql").read_text())
DOCUMENT: dict[str, Any] = yaml.safe_load((ROOT / "openapi" / "openapi.yaml").read_text())
SCALARS = {
    "string": "String",
    "integer": "Int",
    "number": "Float",
    "date": "Date",
    "datetime": "DateTime",
    "ref": "ID",
    "geojson": "JSON",
    "json": "JSON",
}


def upper_snake(value: str) -> str:
    return re.sub(r"([A-Z])", r"_\1", value).upper()


# ---- GraphQL --------------------------------------------------------------------------------


def _graphql_type_differences(where: str, shape: Shape, gql: Any, sdl: GraphQLSchema) -> Iterator[str]:
    if shape.type == "list":
        assert shape.item is not None
        if not isinstance(gql, GraphQLList) or not isinstance(gql.of_type, GraphQLNonNull):
            yield f"{where}: expected a list of non-null items, found {gql}"
            return
        yield from _graphql_type_differences(where + "[]", shape.item, gql.of_type.of_type, sdl)
    elif shape.type == "enum":
        names = set(gql.values) if isinstance(gql, GraphQLEnumType) else None
        if names != {upper_snake(v) for v in shape.values}:
            yield f"{where}: expected an enum of {shape.values}, found {gql} {sorted(names or ())}"
    elif shape.type == "object":
        if not isinstance(gql, GraphQLInputObjectType) or gql.name != f"{shape.name}Input":
            yield f"{where}: expected {shape.name}Input, found {gql}"
            return
        yield from input_differences(gql.name, shape.fields, sdl, patch=False)
    elif getattr(gql, "name", None) != SCALARS[shape.type]:
        yield f"{where}: expected {SCALARS[shape.type]}, found {gql}"


def input_differences(name: str, fields: tuple[Field, ...], sdl: GraphQLSchema, *, patch: bool) -> list[str]:
    """How the SDL input type ``name`` differs from the declared fields."""
    gql = sdl.get_type(name)
    if not isinstance(gql, GraphQLInputObjectType):
        return [f"{name}: not an input type in the SDL"]
    out = []
    declared = {f.name: f for f in fields}
    if set(gql.fields) != set(declared):
        out.append(f"{name}: fields {sorted(gql.fields)} != declared {sorted(declared)}")
    for field_name, f in declared.items():
        if field_name not in gql.fields:
            continue
        kind = gql.fields[field_name].type
        non_null = isinstance(kind, GraphQLNonNull)
        if non_null != (f.required and not patch):
            out.append(f"{name}.{field_name}: non-null is {non_null}, declared required is {f.required}")
        inner = kind.of_type if isinstance(kind, GraphQLNonNull) else kind
        out.extend(_graphql_type_differences(f"{name}.{field_name}", shape_of(f.validate), inner, sdl))
    return out


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.name)
def test_the_sdl_write_inputs_are_the_declared_fields(kind: Kind) -> None:
    fields = fact_type(kind.name).fields
    assert input_differences(f"Create{kind.title}Input", fields, SDL, patch=False) == []
    assert input_differences(f"{kind.title}Patch", fields, SDL, patch=True) == []
    mutation = SDL.mutation_type
    assert mutation is not None
    assert str(mutation.fields[f"create{kind.title}"].args["input"].type) == f"Create{kind.title}Input!"
    for verb in ("update", "correct"):
        assert str(mutation.fields[f"{verb}{kind.title}"].args["patch"].type) == f"{kind.title}Patch!"


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.name)
def test_the_sdl_filters_and_orders_are_the_declared_ones(kind: Kind) -> None:
    t = fact_type(kind.name)
    gql = SDL.get_type(f"{kind.title}Filter")
    assert isinstance(gql, GraphQLInputObjectType)
    assert set(gql.fields) == {f.name for f in t.filters}
    problems = []
    for f in t.filters:
        problems.extend(
            _graphql_type_differences(f"{kind.title}Filter.{f.name}", shape_of(f.parse), gql.fields[f.name].type, SDL)
        )
    assert problems == []
    order = SDL.get_type(f"{kind.title}OrderField")
    assert isinstance(order, GraphQLEnumType)
    assert set(order.values) == {upper_snake(o.name) for o in t.orders}


@pytest.mark.parametrize(
    ("input_type", "output_type", "field"),
    [
        ("CreateClaimInput", "Claim", "quoteType"),
        ("ClaimPatch", "Claim", "status"),
        ("CreateActorInput", "Actor", "kind"),
        ("CreateIncidentInput", "Incident", "occurredPrecision"),
        ("IncidentActorInput", "IncidentActor", "role"),
        ("QuantityInput", "Quantity", "approximation"),
        ("AssetInput", "Asset", "assetType"),
    ],
)
def test_input_and_output_share_one_enum_per_value_set(input_type: str, output_type: str, field: str) -> None:
    written, read = SDL.get_type(input_type), SDL.get_type(output_type)
    assert isinstance(written, GraphQLInputObjectType) and isinstance(read, GraphQLObjectType)
    assert get_named_type(written.fields[field].type) is get_named_type(read.fields[field].type)


def test_the_sdl_check_catches_a_changed_field() -> None:
    sdl = (ROOT / "schema" / "schema.graphql").read_text()
    broken = build_schema(
        sdl.replace(
            "input CreateClaimInput {\n  statement: String!", "input CreateClaimInput {\n  statement: String", 1
        )
    )
    assert input_differences("CreateClaimInput", fact_type("claim").fields, broken, patch=False) == [
        "CreateClaimInput.statement: non-null is False, declared required is True"
    ]


# ---- OpenAPI --------------------------------------------------------------------------------


def schema_differences(document: dict[str, Any]) -> list[str]:
    """How the document's request schemas differ from the ones the declarations imply."""
    components = document["components"]["schemas"]
    out = []
    for name, expected in request_schemas().items():
        if components.get(name) != expected:
            out.append(
                f"{name}: the document's schema differs from the declaration's (python -m tests.contract.declared)"
            )
    return out


def test_the_document_request_schemas_are_the_declared_ones() -> None:
    assert schema_differences(DOCUMENT) == []


def test_the_openapi_check_catches_a_changed_field() -> None:
    broken = yaml.safe_load((ROOT / "openapi" / "openapi.yaml").read_text())
    broken["components"]["schemas"]["ClaimCreate"]["required"].remove("statement")
    assert schema_differences(broken) == [
        "ClaimCreate: the document's schema differs from the declaration's (python -m tests.contract.declared)"
    ]


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.name)
def test_fact_writes_take_their_typed_bodies(kind: Kind) -> None:
    paths = DOCUMENT["paths"]
    bodies = {
        ("post", f"/v1/{kind.plural}"): ("application/json", f"{kind.title}Create"),
        ("patch", f"/v1/{kind.plural}/{{id}}"): ("application/merge-patch+json", f"{kind.title}Patch"),
        ("post", f"/v1/{kind.plural}/{{id}}/corrections"): ("application/json", f"{kind.title}Correction"),
    }
    for (method, path), (media, model) in bodies.items():
        content = paths[path][method]["requestBody"]["content"]
        assert content == {media: {"schema": {"$ref": f"#/components/schemas/{model}"}}}, (method, path)


def test_every_request_body_is_one_named_model() -> None:
    for path, item in DOCUMENT["paths"].items():
        for method, op in item.items():
            if not isinstance(op, dict) or "requestBody" not in op:
                continue
            content = op["requestBody"]["content"]
            assert len(content) == 1, f"{method} {path}: one content type, so one generated model"
            (media,) = content.values()
            assert set(media["schema"]) == {"$ref"}, f"{method} {path}: a named model, not an inline schema"


def _arrays(node: Any, where: str) -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        kind = node.get("type")
        if kind == "array" or (isinstance(kind, list) and "array" in kind):
            yield where, node
        for key, value in node.items():
            yield from _arrays(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _arrays(value, f"{where}/{i}")


def test_every_array_has_items() -> None:
    assert [where for where, node in _arrays(DOCUMENT, "") if "items" not in node] == []


def _enums(schema: dict[str, Any], components: dict[str, Any]) -> set[Any] | None:
    if "$ref" in schema:
        return _enums(components[schema["$ref"].rsplit("/", 1)[1]], components)
    if "enum" in schema:
        return {v for v in schema["enum"] if v is not None}
    for option in schema.get("anyOf", []):
        found = _enums(option, components)
        if found:
            return found
    return None


def _output_differences(where: str, shape: Shape, schema: dict[str, Any], components: dict[str, Any]) -> Iterator[str]:
    if "$ref" in schema and shape.type in ("object", "enum"):
        schema = components[schema["$ref"].rsplit("/", 1)[1]]
    if shape.type == "enum":
        if _enums(schema, components) != set(shape.values):
            yield f"{where}: enum {schema.get('enum')} != declared {shape.values}"
    elif shape.type == "list":
        assert shape.item is not None
        if schema.get("type") != "array":
            yield f"{where}: expected an array"
        else:
            yield from _output_differences(where + "[]", shape.item, schema["items"], components)
    elif shape.type == "object":
        properties = schema.get("properties", {})
        # A stored reference keeps the offsets that occurrence picked, not occurrence itself.
        declared = {f.name: f for f in shape.fields if not (shape.name == "Reference" and f.name == "occurrence")}
        if set(properties) != set(declared):
            yield f"{where}: properties {sorted(properties)} != declared {sorted(declared)}"
        for name, f in declared.items():
            if name in properties:
                yield from _output_differences(f"{where}.{name}", shape_of(f.validate), properties[name], components)
    elif shape.type in ("string", "date", "datetime", "integer", "number"):
        types = schema.get("type")
        family = {"date": "string", "datetime": "string"}.get(shape.type, shape.type)
        if family not in (types if isinstance(types, list) else [types]):
            yield f"{where}: type {types} != declared {family}"
        formats = {"date": "date", "datetime": "date-time"}
        if shape.type in formats and schema.get("format") != formats[shape.type]:
            yield f"{where}: format {schema.get('format')} != {formats[shape.type]}"


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.name)
def test_the_fact_schemas_are_the_declared_fields_plus_read_only_ones(kind: Kind) -> None:
    components = DOCUMENT["components"]["schemas"]
    schema = components[kind.title]
    fields = fact_type(kind.name).fields
    read_only_keys = fact_type(kind.name).read_only
    assert set(schema["properties"]) == {f.name for f in fields} | read_only_keys
    read_only = {name for name, p in schema["properties"].items() if p.get("readOnly")}
    assert read_only == read_only_keys
    problems = []
    for f in fields:
        problems.extend(
            _output_differences(
                f"{kind.title}.{f.name}", shape_of(f.validate), schema["properties"][f.name], components
            )
        )
    assert problems == []
