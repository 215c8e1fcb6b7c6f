"""The committed SDL (schema/schema.graphql) is the GraphQL contract: it must match the code, and
the code may not break it unless the breaking change is acknowledged in
schema/breaking-changes-acknowledged.txt."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from graphql import build_schema as build_sdl
from graphql import find_breaking_changes

from schema.export import BANNER, sdl

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "schema" / "schema.graphql"
ACKNOWLEDGED = ROOT / "schema" / "breaking-changes-acknowledged.txt"


def _committed_at_head() -> str:
    """The SDL as committed at SDL_BASE_REF (CI sets it to the branch's merge base; default HEAD, so
    an uncommitted regeneration is checked), or the working copy outside a git checkout."""
    ref = os.environ.get("SDL_BASE_REF", "HEAD")
    try:
        return subprocess.run(
            ["git", "show", f"{ref}:schema/schema.graphql"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return COMMITTED.read_text()


def _acknowledged() -> set[str]:
    lines = ACKNOWLEDGED.read_text().splitlines() if ACKNOWLEDGED.exists() else []
    return {line.strip() for line in lines if line.strip() and not line.startswith("#")}


def breaking_changes(old_sdl: str, new_sdl: str) -> list[str]:
    changes = find_breaking_changes(build_sdl(old_sdl), build_sdl(new_sdl))
    return [f"{c.type.name}: {c.description}" for c in changes]


def test_sdl_file_is_current() -> None:
    assert COMMITTED.read_text().startswith(BANNER)
    assert COMMITTED.read_text() == sdl(), "schema/schema.graphql is stale: run `make schema` and commit it"


def test_no_unacknowledged_breaking_change() -> None:
    unacknowledged = [c for c in breaking_changes(_committed_at_head(), sdl()) if c not in _acknowledged()]
    assert not unacknowledged, (
        "breaking changes (acknowledge in schema/breaking-changes-acknowledged.txt):\n" + "\n".join(unacknowledged)
    )


def test_the_check_catches_a_removed_field() -> None:
    """The comparison itself works: dropping a field is reported as breaking."""
    current = sdl()
    broken = current.replace("  speakerDescription: String\n", "", 1)
    assert broken != current
    assert any("speakerDescription" in c for c in breaking_changes(current, broken))
