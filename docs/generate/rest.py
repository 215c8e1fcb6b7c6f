"""The REST reference, from the hand-edited contract (openapi/openapi.yaml): every operation by tag
with its parameters, request body, answers and representations, and every component schema."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from docs.generate.markdown import banner, cell, code, paragraph, table

SOURCE = "openapi/openapi.yaml"
FOLDER = "reference/rest"
METHODS = ("get", "post", "put", "patch", "delete", "head")
SCHEMAS = "schemas.md"
ERRORS = "../errors.md"
CONSTRAINTS = ("minimum", "maximum", "minLength", "maxLength", "minItems", "maxItems", "pattern", "default")

Schema = dict[str, Any]


class Reference:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.components: dict[str, dict[str, Any]] = spec.get("components", {})
        self.operations: dict[str, list[tuple[str, str, dict[str, Any]]]] = {
            t["name"]: [] for t in spec.get("tags", [])
        }
        for path, item in spec["paths"].items():
            for method in METHODS:
                if method in item:
                    operation = item[method]
                    for tag in operation.get("tags", ["other"]):
                        self.operations.setdefault(tag, []).append((method, path, operation))

    def resolve(self, node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            _, _, section, name = node["$ref"].split("/")
            node = self.components[section][name]
        return node

    def type_of(self, schema: Schema, here: str, depth: int = 0) -> str:
        """A schema as one line: a link for a named schema, else its shape."""
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[-1]
            target = f"#{name.lower()}" if here == SCHEMAS else f"{SCHEMAS}#{name.lower()}"
            return f"[{code(name)}]({target})"
        for combiner, joiner in (("oneOf", " \\| "), ("anyOf", " \\| "), ("allOf", " & ")):
            if combiner in schema:
                return joiner.join(self.type_of(s, here, depth) for s in schema[combiner])
        if "const" in schema:
            return code(yaml_scalar(schema["const"]))
        if "enum" in schema:
            return "one of " + ", ".join(code(yaml_scalar(v)) for v in schema["enum"])
        kinds = schema.get("type")
        if isinstance(kinds, list):
            return " \\| ".join(self.type_of({**schema, "type": k}, here, depth) for k in kinds)
        if kinds == "array":
            return "array of " + self.type_of(schema.get("items", {}), here, depth)
        if kinds is None:
            return "any"
        text = code(kinds) + (f" ({schema['format']})" if "format" in schema else "")
        if kinds == "object" and isinstance(schema.get("additionalProperties"), dict):
            text += " of " + self.type_of(schema["additionalProperties"], here, depth)
        return text

    def details(self, schema: Schema) -> str:
        parts = [cell(schema.get("description"))] if schema.get("description") else []
        limits = [f"{k} {code(yaml_scalar(schema[k]))}" for k in CONSTRAINTS if k in schema]
        if limits:
            parts.append("; ".join(limits))
        if schema.get("readOnly"):
            parts.append("read-only")
        return "<br>".join(parts)

    def property_rows(self, schema: Schema, here: str, prefix: str = "", depth: int = 0) -> list[list[str]]:
        rows = []
        required = set(schema.get("required", []))
        for name, prop in schema.get("properties", {}).items():
            rows.append(
                [code(prefix + name), self.type_of(prop, here), "yes" if name in required else "", self.details(prop)]
            )
            inline = prop.get("items", prop) if prop.get("type") == "array" else prop
            if "properties" in inline and depth < 3:
                rows += self.property_rows(
                    inline, here, prefix + name + ("[]." if inline is not prop else "."), depth + 1
                )
        return rows

    def schema_entry(self, name: str, schema: Schema) -> str:
        out = f"## {name} {{ #{name.lower()} }}\n\n" + paragraph(schema.get("description"))
        if "discriminator" in schema:
            out += f"Discriminated by {code(schema['discriminator']['propertyName'])}.\n\n"
        if "properties" in schema:
            out += table(["field", "type", "required", "description"], self.property_rows(schema, SCHEMAS))
        else:
            out += f"Type: {self.type_of({k: v for k, v in schema.items() if k != 'description'}, SCHEMAS)}\n\n"
            limits = self.details({k: v for k, v in schema.items() if k != "description"})
            out += f"{limits}\n" if limits else ""
        for combiner in ("allOf",):
            for part in schema.get(combiner, []):
                if "properties" in part:
                    out += table(["field", "type", "required", "description"], self.property_rows(part, SCHEMAS))
        return out + "\n"

    def parameters(self, operation: dict[str, Any], here: str) -> str:
        rows = []
        for ref in operation.get("parameters", []):
            p = self.resolve(ref)
            schema = p.get("schema", {})
            text = "<br>".join(
                x for x in (cell(p.get("description")), self.details({**schema, "description": None})) if x
            )
            if p.get("x-sparse-fieldset"):
                text += "<br>sparse fieldset (`x-sparse-fieldset`)"
            rows.append(
                [code(p["name"]), p["in"], self.type_of(schema, here), "yes" if p.get("required") else "", text]
            )
        return table(["parameter", "in", "type", "required", "description"], rows) + "\n" if rows else ""

    def body(self, operation: dict[str, Any], here: str) -> str:
        if "requestBody" not in operation:
            return ""
        body = self.resolve(operation["requestBody"])
        rows = [[code(media), self.type_of(c.get("schema", {}), here)] for media, c in body.get("content", {}).items()]
        required = " (required)" if body.get("required") else ""
        return (
            f"**Request body**{required}. "
            + paragraph(body.get("description"))
            + table(["media type", "schema"], rows)
            + "\n"
        )

    def responses(self, operation: dict[str, Any], here: str) -> str:
        out, errors = "", []
        for status, ref in operation.get("responses", {}).items():
            response = self.resolve(ref)
            if str(status).startswith(("4", "5")):
                name = ref["$ref"].rsplit("/", 1)[-1] if "$ref" in ref else cell(response.get("description"))
                errors.append(f"{status} ({name})")
                continue
            out += f"**{status}** — {cell(response.get('description'))}\n\n"
            rows = [
                [code(media), self.type_of(c.get("schema", {}), here), ""]
                for media, c in response.get("content", {}).items()
            ]
            for media, rep in response.get("x-representations", {}).items():
                chosen = f"`format={rep['format']}` or `Accept`" if "format" in rep else "`Accept`"
                rows.append(
                    [
                        code(media),
                        self.type_of(rep.get("schema", {}), here),
                        f"another representation (`x-representations`): {chosen}",
                    ]
                )
            if rows:
                out += table(["media type", "schema", ""], rows) + "\n"
            headers = response.get("headers", {})
            if headers:
                out += "Headers: " + ", ".join(code(h) for h in headers) + "\n\n"
        if errors:
            out += f"**Errors** ([catalogue]({ERRORS})): " + ", ".join(errors) + "\n\n"
        return out

    def operation_entry(self, method: str, path: str, operation: dict[str, Any], here: str) -> str:
        anchor = operation["operationId"].lower()
        out = f"## {method.upper()} {path} {{ #{anchor} }}\n\n"
        out += f"**{cell(operation.get('summary'))}** · operation id {code(operation['operationId'])}"
        security = operation.get("security", self.spec.get("security", []))
        if security and not any(s == {} for s in security):
            out += " · requires an API key"
        out += "\n\n" + paragraph(operation.get("description"))
        return out + self.parameters(operation, here) + self.body(operation, here) + self.responses(operation, here)

    def tag_page(self, tag: str) -> str:
        page = f"{tag}.md"
        description = next((t.get("description") for t in self.spec.get("tags", []) if t["name"] == tag), None)
        out = banner(SOURCE) + f"\n# {tag}\n\n" + paragraph(description)
        entries = self.operations[tag]
        out += table(
            ["operation", "summary"],
            [[f"[{m.upper()} {code(p)}](#{o['operationId'].lower()})", cell(o.get("summary"))] for m, p, o in entries],
        )
        return out + "\n" + "".join(self.operation_entry(m, p, o, page) for m, p, o in entries)

    def index_page(self) -> str:
        info = self.spec["info"]
        out = banner(SOURCE) + "\n# REST reference\n\n"
        out += (
            f"Generated from the contract, `openapi/openapi.yaml` ({info['title']} {info['version']}, OpenAPI "
            f"{self.spec['openapi']}), which the server serves as `/openapi.json` and renders at `/docs`. For how to "
            "use it, see the [REST guide](../../rest/index.md).\n\n" + paragraph(info.get("description"))
        )
        for name, scheme in self.components.get("securitySchemes", {}).items():
            out += f"**Authentication** ({code(name)}): {cell(scheme.get('description')) or scheme.get('type')}\n\n"
        for tag, entries in self.operations.items():
            out += f"## [{tag}]({tag}.md)\n\n"
            out += table(
                ["operation", "summary"],
                [
                    [f"[{m.upper()} {code(p)}]({tag}.md#{o['operationId'].lower()})", cell(o.get("summary"))]
                    for m, p, o in entries
                ],
            )
            out += "\n"
        out += f"## [Schemas]({SCHEMAS})\n\nEvery document, input and answer the operations name.\n"
        return out

    def schemas_page(self) -> str:
        schemas = self.components.get("schemas", {})
        out = banner(SOURCE) + "\n# Schemas\n\n"
        out += " · ".join(f"[{n}](#{n.lower()})" for n in schemas) + "\n\n"
        return out + "".join(self.schema_entry(n, s) for n, s in schemas.items())

    def pages(self) -> dict[str, str]:
        pages = {f"{FOLDER}/index.md": self.index_page(), f"{FOLDER}/{SCHEMAS}": self.schemas_page()}
        for tag in self.operations:
            pages[f"{FOLDER}/{tag}.md"] = self.tag_page(tag)
        return pages


def yaml_scalar(value: object) -> str:
    if isinstance(value, str):
        return value
    return yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...").strip()


def pages(root: Path) -> dict[str, str]:
    return Reference(yaml.safe_load((root / SOURCE).read_text())).pages()
