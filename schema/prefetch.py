"""Look-ahead for connections: when a page of facts is loaded, the to-one and id-list relations
selected on its nodes (a claim's speaker, an article's outlet…) are loaded for the whole page
before the page is returned. Their resolvers then find finished loader futures and answer
synchronously, so graphql-core completes the page without a task per item — the statement count
is unchanged (one batch per level and kind), the CPU per resolved relation drops."""

from __future__ import annotations

import asyncio
from typing import Any

from graphql import FieldNode, SelectionSetNode
from strawberry.types import Info

from schema.limits import inlined_fields

# kind → GraphQL field → (related kind, document key, is a list of ids)
RELATIONS: dict[str, dict[str, tuple[str, str, bool]]] = {
    "claim": {
        "speaker": ("actor", "speaker", False),
        "reportedBy": ("actor", "reportedBy", False),
        "subjects": ("actor", "subjects", True),
    },
    "article": {
        "outlet": ("actor", "outlet", False),
        "authors": ("actor", "authors", True),
        "basedOn": ("actor", "basedOn", True),
    },
    "deployment": {"deployer": ("actor", "deployer", False)},
}


def _fields(sel: SelectionSetNode | None, fragments: dict[str, Any]) -> list[FieldNode]:
    """The field nodes of ``sel``, fragments inlined (each once, as the limits walk them)."""
    return [node for node, _ in inlined_fields(sel, fragments)]


def node_fields(info: Info[Any, Any]) -> set[str]:
    """Names of the fields selected on a connection's items (under ``nodes`` or ``edges.node``)."""
    raw = info._raw_info
    fragments = raw.fragments
    names: set[str] = set()
    for conn in raw.field_nodes:
        for f in _fields(conn.selection_set, fragments):
            if f.name.value == "nodes":
                names.update(n.name.value for n in _fields(f.selection_set, fragments))
            elif f.name.value == "edges":
                for e in _fields(f.selection_set, fragments):
                    if e.name.value == "node":
                        names.update(n.name.value for n in _fields(e.selection_set, fragments))
    return names


async def prefetch(info: Info[Any, Any], kind: str, objects: list[Any]) -> None:
    """Load the selected relations of ``objects`` (one batch per related kind and level)."""
    relations = RELATIONS.get(kind)
    if not relations or not objects:
        return
    selected = node_fields(info).intersection(relations)
    if not selected:
        return
    loaders = info.context.loaders_for(info)
    ids: dict[str, set[str]] = {}
    for name in selected:
        target, key, many = relations[name]
        wanted = ids.setdefault(target, set())
        for o in objects:
            value = o.doc.get(key)
            if many:
                wanted.update(value or ())
            elif value:
                wanted.add(value)
    await asyncio.gather(*(loaders.by_kind[t].load_many(list(v)) for t, v in ids.items() if v))
