"""The code blocks of the site's pages and the markers that say whether the tests run them.

A block a reader could run carries, on the line before its fence, ``<!-- run -->`` (with options:
``<!-- run: as=write expect="text" -->``) or ``<!-- not run: why -->``. Options: ``expect=TEXT``
(repeatable), ``fails``, ``as=anonymous|read|write|admin``, ``vars=JSON``, ``save=NAME=path``,
``post=/v1/path`` (a JSON body to send), ``background`` with ``ready=TEXT``."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

DOCS = Path(__file__).resolve().parents[2] / "docs"
# Languages a reader runs as they are: each of their blocks must say whether the tests run it.
RUNNABLE = {"sh", "bash", "shell", "console", "python", "py", "js", "javascript", "mjs", "ts", "typescript", "graphql"}
FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<lang>[\w+-]*)")
MARKER = re.compile(r"^\s*<!--\s*(?P<kind>run|not run)\s*(?::\s*(?P<rest>.*?))?\s*-->\s*$")


@dataclass
class Block:
    page: str
    line: int  # 1-based line of the opening fence
    language: str
    text: str
    marker: str | None = None  # "run", "not run" or None
    reason: str = ""
    expect: list[str] = field(default_factory=list)
    options: dict[str, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)

    @property
    def where(self) -> str:
        return f"docs/{self.page}:{self.line}"

    @property
    def runs(self) -> bool:
        return self.marker == "run"


def parse_marker(block: Block, line: str) -> None:
    match = MARKER.match(line)
    if not match:
        return
    block.marker = match["kind"]
    rest = match["rest"] or ""
    if block.marker == "not run":
        block.reason = rest
        return
    for token in shlex.split(rest):
        name, equals, value = token.partition("=")
        if not equals:
            block.flags.add(name)
        elif name == "expect":
            block.expect.append(value)
        else:
            block.options[name] = value


def page_blocks(page: Path) -> list[Block]:
    """Every fenced block of a page, in order, with the marker before it (if any)."""
    lines = page.read_text().splitlines()
    blocks, i = [], 0
    name = str(page.relative_to(DOCS))
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        indent, fence = opening["indent"], opening["fence"]
        end = i + 1
        while end < len(lines) and not lines[end].startswith(indent + fence[0] * len(fence)):
            end += 1
        body = [line[len(indent) :] if line.startswith(indent) else line.lstrip() for line in lines[i + 1 : end]]
        block = Block(name, i + 1, opening["lang"].lower(), "\n".join(body) + "\n")
        before = i - 1
        while before >= 0 and not lines[before].strip():
            before -= 1
        if before >= 0:
            parse_marker(block, lines[before])
        blocks.append(block)
        i = end + 1
    return blocks


def pages() -> list[Path]:
    return sorted(p for p in DOCS.rglob("*.md") if "reference" not in p.relative_to(DOCS).parts)
