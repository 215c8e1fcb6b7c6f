"""The GraphQL reference, from the exported SDL (schema/schema.graphql): every root field, type,
field, argument, enum value and scalar with its description, one page per kind of type."""

from __future__ import annotations

from pathlib import Path

from graphql import (
    GraphQLArgument,
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLType,
    GraphQLUnionType,
    build_schema,
    get_named_type,
    print_ast,
)
from graphql.pyutils import Undefined
from graphql.utilities import ast_from_value

from docs.generate.markdown import banner, cell, code, paragraph, table

SOURCE = "schema/schema.graphql"
FOLDER = "reference/graphql"

# Page of each kind of named type (root operation types get pages of their own).
PAGES: dict[type[GraphQLNamedType], tuple[str, str]] = {
    GraphQLObjectType: ("objects.md", "Object types"),
    GraphQLInterfaceType: ("abstract.md", "Interfaces and unions"),
    GraphQLUnionType: ("abstract.md", "Interfaces and unions"),
    GraphQLInputObjectType: ("inputs.md", "Input types"),
    GraphQLEnumType: ("enums.md", "Enums"),
    GraphQLScalarType: ("scalars.md", "Scalars"),
}
INTRO = {
    "objects.md": "What queries, mutations and subscriptions return.",
    "abstract.md": "Types that stand for one of several object types: select their fields with fragments "
    "(`... on Claim { statement }`) and `__typename`.",
    "inputs.md": "Arguments made of several fields: mutation inputs, patches, filters and orders. A patch keeps "
    "merge-patch meaning: a field set to `null` is cleared, an absent one is kept.",
    "enums.md": "Enum values are the REST values in UPPER_SNAKE (`mediaOutlet` is `MEDIA_OUTLET`).",
    "scalars.md": "The built-in scalars and the three of our own: `Date` and `DateTime` are ISO 8601 strings, "
    "`JSON` any JSON value.",
}


class Reference:
    def __init__(self, schema: GraphQLSchema) -> None:
        self.schema = schema
        roots = [schema.query_type, schema.mutation_type, schema.subscription_type]
        self.roots = {t.name: t for t in roots if t is not None}
        self.types = sorted(
            (t for name, t in schema.type_map.items() if not name.startswith("__") and name not in self.roots),
            key=lambda t: t.name,
        )

    def page_of(self, named: GraphQLNamedType) -> str:
        if named.name in self.roots:
            return f"{named.name.lower()}.md"
        return PAGES[type(named)][0]

    def link(self, type_: GraphQLType, here: str) -> str:
        """The type as written in SDL (``[Claim!]!``), linked to the named type's entry."""
        named = get_named_type(type_)
        page = self.page_of(named)
        target = f"#{named.name.lower()}" if page == here else f"{page}#{named.name.lower()}"
        return f"[{code(str(type_))}]({target})"

    def arguments(self, args: dict[str, GraphQLArgument], here: str) -> list[str]:
        return [
            f"{code(name + default(arg))}: {self.link(arg.type, here)}"
            + (f" — {cell(arg.description)}" if arg.description else "")
            for name, arg in args.items()
        ]

    def field_row(self, name: str, field: GraphQLField | GraphQLInputField, here: str) -> list[str]:
        parts = [cell(field.description)]
        if isinstance(field, GraphQLField) and field.args:
            parts.append("**Arguments:** " + "; ".join(self.arguments(field.args, here)))
        if isinstance(field, GraphQLInputField) and field.default_value is not Undefined:
            parts.append(f"Default: {code(print_default(field.default_value, field.type))}")
        if field.deprecation_reason:
            parts.append(f"**Deprecated:** {cell(field.deprecation_reason)}")
        label = code(name + default(field) if isinstance(field, GraphQLInputField) else name)
        return [label, self.link(field.type, here), "<br>".join(p for p in parts if p)]

    def named_entry(self, named: GraphQLNamedType, here: str) -> str:
        kind = {
            GraphQLObjectType: "object",
            GraphQLInterfaceType: "interface",
            GraphQLUnionType: "union",
            GraphQLInputObjectType: "input",
            GraphQLEnumType: "enum",
            GraphQLScalarType: "scalar",
        }[type(named)]
        out = f"## {named.name} {{ #{named.name.lower()} }}\n\n*{kind}*"
        if isinstance(named, GraphQLObjectType | GraphQLInterfaceType) and named.interfaces:
            out += " — implements " + ", ".join(self.link(i, here) for i in named.interfaces)
        if isinstance(named, GraphQLInterfaceType):
            implementations = self.schema.get_implementations(named).objects
            out += " — implemented by " + ", ".join(self.link(o, here) for o in implementations)
        if isinstance(named, GraphQLUnionType):
            out += " — one of " + ", ".join(self.link(o, here) for o in named.types)
        out += "\n\n" + paragraph(named.description)
        if isinstance(named, GraphQLObjectType | GraphQLInterfaceType | GraphQLInputObjectType):
            rows = [self.field_row(n, f, here) for n, f in named.fields.items()]
            out += table(["field", "type", "description"], rows)
        elif isinstance(named, GraphQLEnumType):
            rows = [
                [
                    code(n),
                    cell(v.description)
                    + (f" **Deprecated:** {cell(v.deprecation_reason)}" if v.deprecation_reason else ""),
                ]
                for n, v in named.values.items()
            ]
            out += table(["value", "description"], rows)
        elif isinstance(named, GraphQLScalarType) and named.specified_by_url:
            out += f"Specified by {named.specified_by_url}.\n"
        return out + "\n"

    def root_page(self, root: GraphQLObjectType) -> str:
        here = self.page_of(root)
        out = banner(SOURCE) + f"\n# {root.name}\n\n" + paragraph(root.description)
        out += table(
            ["field", "returns", "description"],
            [
                [f"[{code(n)}](#{n.lower()})", self.link(f.type, here), cell(first_sentence(f.description))]
                for n, f in root.fields.items()
            ],
        )
        for name, field in root.fields.items():
            out += f"\n## {name} {{ #{name.lower()} }}\n\n"
            out += f"```graphql\n{signature(name, field)}\n```\n\n" + paragraph(field.description)
            out += f"Returns {self.link(field.type, here)}.\n\n"
            if field.args:
                rows = [
                    [
                        code(n),
                        self.link(a.type, here),
                        code(print_default(a.default_value, a.type)) if a.default_value is not Undefined else "",
                        cell(a.description),
                    ]
                    for n, a in field.args.items()
                ]
                out += table(["argument", "type", "default", "description"], rows)
            if field.deprecation_reason:
                out += f"\n**Deprecated:** {field.deprecation_reason}\n"
        return out

    def type_page(self, page: str, title: str) -> str:
        here = page
        entries = [t for t in self.types if PAGES[type(t)][0] == page]
        out = banner(SOURCE) + f"\n# {title}\n\n{INTRO[page]}\n\n"
        out += " · ".join(f"[{t.name}](#{t.name.lower()})" for t in entries) + "\n\n"
        return out + "".join(self.named_entry(t, here) for t in entries)

    def index_page(self) -> str:
        out = banner(SOURCE) + "\n# GraphQL reference\n\n"
        out += (
            "Generated from the SDL the server exports (`schema/schema.graphql`, `make schema`), so it says what "
            "the running schema says. For how to use it, see the [GraphQL guide](../../graphql/index.md).\n\n"
        )
        rows = [[f"[{name}]({name.lower()}.md)", str(len(root.fields))] for name, root in self.roots.items()]
        out += table(["root type", "fields"], rows) + "\n"
        for page, title in dict(PAGES.values()).items():
            entries = [t for t in self.types if PAGES[type(t)][0] == page]
            out += (
                f"## [{title}]({page})\n\n"
                + ", ".join(f"[{t.name}]({page}#{t.name.lower()})" for t in entries)
                + "\n\n"
            )
        return out

    def pages(self) -> dict[str, str]:
        pages = {f"{FOLDER}/index.md": self.index_page()}
        for root in self.roots.values():
            pages[f"{FOLDER}/{self.page_of(root)}"] = self.root_page(root)
        for page, title in dict(PAGES.values()).items():
            pages[f"{FOLDER}/{page}"] = self.type_page(page, title)
        return pages


def default(field: GraphQLArgument | GraphQLInputField) -> str:
    if field.default_value is Undefined or field.default_value is None:
        return ""
    return " = " + print_default(field.default_value, field.type)


def print_default(value: object, type_: GraphQLInputType) -> str:
    node = ast_from_value(value, type_)
    return print_ast(node) if node is not None else "null"


def signature(name: str, field: GraphQLField) -> str:
    if not field.args:
        return f"{name}: {field.type}"
    args = ", ".join(f"{n}: {a.type}{default(a)}" for n, a in field.args.items())
    return f"{name}({args}): {field.type}"


def first_sentence(text: str | None) -> str:
    if not text:
        return ""
    head = text.strip().split("\n\n")[0]
    end = head.find(". ")
    return head if end < 0 else head[: end + 1]


def pages(root: Path) -> dict[str, str]:
    return Reference(build_schema((root / SOURCE).read_text())).pages()
