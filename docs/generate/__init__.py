"""The generators of the site's reference pages, each from the file that is the truth for it: the
GraphQL reference from schema/schema.graphql, the REST reference from openapi/openapi.yaml, the
error catalogue from db/errors.py, the event catalogue from db/kinds.py. ``make docs`` writes them
(``python -m docs.generate``); tests/docs/test_reference.py fails when a committed page is stale."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
# Every file under docs/reference/ is generated: a page no generator writes any more is stale too.
GENERATED = DOCS / "reference"


def generate(root: Path = ROOT) -> dict[str, str]:
    """Every generated page, by path under docs/."""
    from docs.generate import catalogues, graphql, rest

    return {**graphql.pages(root), **rest.pages(root), **catalogues.pages()}


def stale(root: Path = ROOT) -> list[str]:
    """Generated pages whose committed text differs from what the generators write now (or that no
    generator writes any more)."""
    pages = generate(root)
    wrong = [
        path
        for path, text in pages.items()
        if not (root / "docs" / path).is_file() or (root / "docs" / path).read_text() != text
    ]
    extra = [
        str(p.relative_to(root / "docs"))
        for p in (root / "docs" / "reference").rglob("*")
        if p.is_file() and str(p.relative_to(root / "docs")) not in pages
    ]
    return sorted(wrong + extra)


def write(root: Path = ROOT) -> list[str]:
    """Writes every generated page that changed, removes those no generator writes; returns what changed."""
    changed = stale(root)
    pages = generate(root)
    for path in changed:
        target = root / "docs" / path
        if path in pages:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(pages[path])
        else:
            target.unlink()
    return changed
