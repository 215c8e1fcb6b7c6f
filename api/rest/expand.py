"""Stripe-style ``expand``: which ids of related facts in a document may be replaced by the facts
themselves. The replacing happens in PostgreSQL, in the read's one statement (api/rest/plan.py)."""

from __future__ import annotations

from typing import Any

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


def trim(doc: dict[str, Any], fields: frozenset[str] | None) -> dict[str, Any]:
    if fields is None:
        return doc
    return {k: v for k, v in doc.items() if k in fields}
