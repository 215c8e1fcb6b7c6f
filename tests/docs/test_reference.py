"""The reference pages under docs/reference/ are what the generators write from the contracts now
(schema/schema.graphql, openapi/openapi.yaml, db/errors.py, db/kinds.py, db/ids.py): a contract
changed without `make docs` fails here, and so does a page edited by hand."""

from __future__ import annotations

import shutil
from pathlib import Path

from db.kinds import EVENT_TYPES
from docs.generate import ROOT, stale
from docs.generate.catalogues import undocumented


def test_every_generated_page_is_current() -> None:
    assert stale() == [], "regenerate them with `make docs` (python -m docs.generate) and commit"


def test_a_stale_page_and_a_page_no_generator_writes_are_found(tmp_path: Path) -> None:
    for source in ("schema", "openapi"):
        (tmp_path / source).symlink_to(ROOT / source)
    shutil.copytree(ROOT / "docs" / "reference", tmp_path / "docs" / "reference")
    edited = tmp_path / "docs" / "reference" / "errors.md"
    edited.write_text(edited.read_text().replace("Not found", "Gone missing"))
    (tmp_path / "docs" / "reference" / "old.md").write_text("# a page for a tag that no longer exists\n")
    assert stale(tmp_path) == ["reference/errors.md", "reference/old.md"]


def test_every_error_code_says_when_it_happens() -> None:
    # The catalogue page takes each code's meaning from its class's docstring in db/errors.py.
    assert undocumented() == []


def test_the_event_catalogue_lists_every_event_type() -> None:
    page = (ROOT / "docs" / "reference" / "events.md").read_text()
    assert [t for t in EVENT_TYPES if f"| `{t}` |" not in page] == []
