"""Every fact type by kind, by table and by id prefix."""

from __future__ import annotations

from db import actors, articles, claims, deployments, incidents
from db.facts import FactType
from db.ids import id_type
from db.kinds import LOAD_ORDER as LOAD_ORDER  # re-exported for the bulk loader

_DECLARED = {t.kind: t for t in (actors.TYPE, articles.TYPE, claims.TYPE, deployments.TYPE, incidents.TYPE)}
# In the registry's load order (db/kinds.py), so iterating fact types follows dependencies.
FACT_TYPES: dict[str, FactType] = {kind: _DECLARED[kind] for kind in LOAD_ORDER}
assert set(_DECLARED) == set(LOAD_ORDER), "db/kinds.py and the fact type declarations disagree"


def fact_type(kind: str) -> FactType:
    return FACT_TYPES[kind]


def type_of_id(value: str) -> FactType | None:
    """The fact type a public id names, or None for a malformed id or a non-fact id."""
    kind = id_type(value)
    return FACT_TYPES.get(kind) if kind else None
