"""How openapi/openapi.yaml declares what a read answers, for the contract tests. The default JSON
representation is the 200 response's one `content` entry, the only one client generators type;
the others (NDJSON, JSON-LD, ninjs), chosen with ``format=`` or ``Accept``, are listed under the
response's ``x-representations``; with ``fields=`` (``x-sparse-fieldset``) a fact document keeps
only the fields named, so its schema's ``required`` list holds for those and id, object only."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import jsonschema
import orjson
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from db.kinds import KINDS

FACT_SCHEMAS = tuple(k.title for k in KINDS)
ALWAYS = ["id", "object"]


@dataclass(frozen=True)
class Representation:
    media_type: str
    schema: dict[str, Any]
    sparse: bool  # the fact documents carry only the fields= named (and id, object)
    lines: dict[str, Any] | None = None  # NDJSON: the schema of each line


def _resolve(document: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        found: Any = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            found = found[part]
        node = found
    return node


def representation(
    document: dict[str, Any], path: str, method: str, status: int, query: dict[str, Any]
) -> Representation | None:
    """What the document says a ``status`` answer to this request carries; None when it declares no body."""
    responses = document["paths"][path][method]["responses"]
    response = _resolve(document, responses.get(str(status)) or responses.get("default") or {})
    content = response.get("content") or {}
    if not content:
        return None
    parameters = [_resolve(document, p) for p in document["paths"][path][method].get("parameters", [])]
    sparse = any(p.get("x-sparse-fieldset") and p["name"] in query for p in parameters)
    chosen = query.get("format")
    if chosen not in (None, "json"):
        for media_type, media in (response.get("x-representations") or {}).items():
            if media.get("format") == chosen:
                lines = None
                if media_type == "application/x-ndjson":
                    (json_media,) = content.values()
                    lines = _resolve(document, json_media["schema"])["properties"]["data"]["items"]
                return Representation(media_type, media["schema"], sparse, lines)
        raise AssertionError(f"{method} {path}: format={chosen} is not among the 200 response's x-representations")
    (media_type,) = content  # one content type per response: the typed default
    return Representation(media_type, content[media_type]["schema"], sparse)


def validator(
    document: dict[str, Any], schema: dict[str, Any], *, sparse: bool = False
) -> jsonschema.Draft202012Validator:
    """A validator of ``schema`` (often a $ref into the document); ``sparse`` relaxes the fact schemas
    to a sparse fieldset's promise."""
    if sparse:
        document = copy.deepcopy(document)
        for name in FACT_SCHEMAS:
            document["components"]["schemas"][name]["required"] = ALWAYS
    registry: Registry[Any] = Registry().with_resource(
        "urn:openapi", Resource.from_contents(document, default_specification=DRAFT202012)
    )
    if "$ref" in schema:
        schema = {**schema, "$ref": "urn:openapi" + schema["$ref"]}
    return jsonschema.Draft202012Validator(schema, registry=registry)


def problems(document: dict[str, Any], found: Representation, content_type: str, body: bytes) -> list[str]:
    """How an answer differs from the representation the document declares for it."""
    media_type = content_type.split(";")[0].strip().lower()
    if media_type != found.media_type:
        return [f"content type {media_type}, the document declares {found.media_type}"]
    if found.lines is not None:
        check = validator(document, found.lines, sparse=found.sparse)
        return [e.message for line in body.splitlines() if line for e in check.iter_errors(orjson.loads(line))]
    if found.media_type.endswith("json"):
        return [
            e.message for e in validator(document, found.schema, sparse=found.sparse).iter_errors(orjson.loads(body))
        ]
    return []
