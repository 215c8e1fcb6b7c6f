"""Stripe-style ``expand``: ids of related facts in a document replaced by the facts themselves,
fetched in one batched query per expanded path for a whole page of documents."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from db import queries
from db.lens import Lens
from db.pool import Conn

# kind → dotted path of a relation in its document → the kind of fact it names.
RELATIONS: dict[str, dict[str, str]] = {
    "actor": {},
    "article": {"outlet": "actor", "authors": "actor", "basedOn": "actor"},
    "claim": {
        "speaker": "actor",
        "reportedBy": "actor",
        "subjects": "actor",
        "supersedes": "claim",
        "contradicts": "claim",
        "sameAs": "claim",
        "references.article": "article",
    },
    "deployment": {"deployer": "actor", "references.article": "article", "assets.references.article": "article"},
    "incident": {"actors.actor": "actor", "references.article": "article"},
}


def expandable(kind: str) -> frozenset[str]:
    return frozenset(RELATIONS.get(kind, {}))


def _slots(value: Any, segments: list[str]) -> Iterator[tuple[dict[str, Any], str]]:
    """Every (object, key) holding the relation at ``segments``, through lists at any level."""
    if isinstance(value, list):
        for item in value:
            yield from _slots(item, segments)
    elif isinstance(value, dict) and segments:
        head, rest = segments[0], segments[1:]
        if not rest:
            if head in value:
                yield value, head
        else:
            yield from _slots(value.get(head), rest)


async def expand(conn: Conn, kind: str, docs: list[dict[str, Any]], paths: list[str], *, lens: Lens) -> None:
    """Replace, in place, the ids at each of ``paths`` in ``docs`` by their documents (as the
    lens shows them: at the read's time, under the caller's recall rules)."""
    for path in paths:
        target = RELATIONS[kind][path]
        slots = list(_slots(docs, path.split(".")))
        wanted: dict[str, None] = {}
        for obj, key in slots:
            value = obj[key]
            for ident in value if isinstance(value, list) else [value]:
                if isinstance(ident, str):
                    wanted[ident] = None
        if not wanted:
            continue
        ids = list(wanted)
        found = dict(zip(ids, await queries.get_many(conn, target, ids, lens=lens), strict=True))
        for obj, key in slots:
            value = obj[key]
            if isinstance(value, list):
                obj[key] = [found.get(i) or i if isinstance(i, str) else i for i in value]
            elif isinstance(value, str):
                obj[key] = found.get(value) or value


def trim(doc: dict[str, Any], fields: frozenset[str] | None) -> dict[str, Any]:
    if fields is None:
        return doc
    return {k: v for k, v in doc.items() if k in fields}
