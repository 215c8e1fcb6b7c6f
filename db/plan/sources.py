"""Where a planned object reads its document keys from: a table row (each key's column, derived
from the kind's FactType declaration) or a stored JSON document (a revision's snapshot, a value
object inside a fact). tests/db/test_plan_sources.py holds the row mapping to each ``<kind>_doc``."""

from __future__ import annotations

import re
from functools import cache

from db.facts import FactType
from db.registry import fact_type
from db.relations import revision_columns

_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Document keys every fact has that no input field declares, and their columns.
_READ_ONLY_COLUMNS = {
    "id": "{a}.id",
    "createdAt": "{a}.created_at",
    "updatedAt": "{a}.updated_at",
    "version": "{a}.version",
    "retractedAt": "{a}.retracted_at",
}


def _checked(key: str) -> str:
    if not _KEY.fullmatch(key):  # keys are GraphQL names; anything else must never reach SQL text
        raise ValueError(f"not a document key: {key!r}")
    return key


@cache
def row_columns(kind: str) -> dict[str, str]:
    """Document key → SQL template over ``{a}`` (the row's alias) for one kind of fact."""
    t: FactType = fact_type(kind)
    columns = {**_READ_ONLY_COLUMNS, "object": f"'{t.kind}'"}
    if t.sourced:
        columns["sourcing"] = "{a}.sourcing"  # derived and stored (0007), read-only like the above
    for f in t.fields:
        if f.store is None:
            columns[f.name] = "{a}." + (f.column or f.name)
            continue
        # A value stored across several columns (a place: <prefix>_name, <prefix>_geojson): the
        # declaration's own store() names them; the document nests them under the field's key.
        stored = f.store({})
        prefix = f"{f.name}_"
        pairs = ", ".join(f"'{c.removeprefix(prefix)}', {{a}}.{c}" for c in stored)
        columns[f.name] = f"jsonb_build_object({pairs})"
    return columns


class RowSource:
    """A row of a fact table (or of revisions) under ``alias``."""

    def __init__(self, columns: dict[str, str], alias: str) -> None:
        self._columns = columns
        self.alias = alias

    @classmethod
    def fact(cls, kind: str, alias: str) -> RowSource:
        return cls(row_columns(kind), alias)

    @classmethod
    def revision(cls, alias: str, public: bool) -> RowSource:
        return cls(revision_columns(public), alias)

    def json(self, key: str) -> str:
        template = self._columns.get(key)
        if template is None:
            raise KeyError(key)
        return template.format(a=self.alias)

    text = json  # text, enum and id columns are already text
    jsonb = json  # value objects are jsonb columns (or built as jsonb)

    def id_array(self, key: str, many: bool) -> str:
        column = self.json(key)
        return column if many else f"array_remove(ARRAY[{column}], NULL)"


class DocSource:
    """A jsonb document (``expr``), read key by key."""

    def __init__(self, expr: str) -> None:
        self.expr = expr

    def json(self, key: str) -> str:
        return f"({self.expr} -> '{_checked(key)}')"

    def text(self, key: str) -> str:
        return f"({self.expr} ->> '{_checked(key)}')"

    jsonb = json

    def id_array(self, key: str, many: bool) -> str:
        if not many:
            return f"array_remove(ARRAY[{self.text(key)}], NULL)"
        value = self.json(key)
        return f"ARRAY(SELECT jsonb_array_elements_text({as_array(value)}))"


Source = RowSource | DocSource


def as_array(jsonb: str) -> str:
    """``jsonb`` when it is an array, else an empty one (absent lists read as empty)."""
    return f"(CASE WHEN jsonb_typeof({jsonb}) = 'array' THEN {jsonb} ELSE '[]'::jsonb END)"
