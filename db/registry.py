"""Every fact type by kind, by table and by id prefix."""

from __future__ import annotations

from db import actors, articles, claims, deployments, incidents
from db.facts import FactType
from db.ids import id_type

FACT_TYPES: dict[str, FactType] = {
    t.kind: t for t in (actors.TYPE, articles.TYPE, claims.TYPE, deployments.TYPE, incidents.TYPE)
}
# Dependency order: a record may only reference kinds that come before it (claims link claims,
# so a kind may also reference itself).
LOAD_ORDER = ("actor", "article", "claim", "deployment", "incident")


def fact_type(kind: str) -> FactType:
    return FACT_TYPES[kind]


def type_of_id(value: str) -> FactType | None:
    """The fact type a public id names, or None for a malformed id or a non-fact id."""
    kind = id_type(value)
    return FACT_TYPES.get(kind) if kind else None
