"""A payload selection answered from the document alone, in Python: what a planned statement over a
handed-in document (``tree.Payload``) would select when every selected field is a constant, a
stored value or an enum name of one (an event's ``sequence``, ``type``, ``objectId``…). A shared
subscription then renders each event without a round trip to PostgreSQL: that wait, one per
event or backlog, was a hop of its own between the broadcaster and the write, and its asyncpg work
a share of every event's CPU. Any other field (relations, embedded objects, typed data) leaves the
selection to the statement (``render`` returns None)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from db.plan import tree as t
from db.plan.sql import MAX_KEYS

# A document → (the selection's JSON as the statement's ``json_build_object`` would build it, the ids
# of the facts it read when they are collected: the staleness check's input).
Render = Callable[[dict[str, Any]], tuple[dict[str, Any], frozenset[str]]]


def _text(value: Any) -> str | None:
    """``doc ->> key`` for the scalars an enum is stored as (strings; JSON's own spelling else)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return None  # no stored enum value is a float, list or object: no name matches, as in SQL


def _getter(v: t.Value) -> Callable[[dict[str, Any]], Any] | None:
    if isinstance(v, t.Const):
        text = v.text
        return lambda _doc: text
    if isinstance(v, t.Scalar):
        key = v.key
        return lambda doc: doc.get(key)
    if isinstance(v, t.EnumScalar):
        enum_key, names = v.key, dict(v.names)
        return lambda doc: names.get(_text(doc.get(enum_key)) or "")
    return None


def render(obj: t.Obj, variables: Any, collect_ids: bool) -> Render | None:
    """``obj``'s selection over one document, computed here; None unless every selected field can be."""
    getters: list[tuple[str, Callable[[dict[str, Any]], Any]]] = []
    for f in obj.fields:
        if f.include is not None and not f.include(variables):
            continue
        getter = _getter(f.value)
        if getter is None:
            return None
        getters.append((f.key, getter))
    if len(getters) > MAX_KEYS:
        return None
    kind = obj.kind if collect_ids else None

    def one(doc: dict[str, Any]) -> tuple[dict[str, Any], frozenset[str]]:
        body = {key: get(doc) for key, get in getters}
        if kind is None:
            return body, frozenset()
        fact_id = _text(doc.get("id"))
        return body, frozenset((fact_id,)) if fact_id else frozenset()

    return one
