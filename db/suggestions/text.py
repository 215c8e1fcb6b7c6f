"""Text primitives the rules share: accent-folded text of the same length (so a match in it is a
span of the body), paragraphs and sentences as code-point spans, and words with their offsets."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

# Abbreviations that end with a period inside a sentence (titles, ranks, initials are handled apart).
_ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof col gen lt sgt capt cmdr adm gov sen rep st jr sr co corp inc ltd no vs etc "
    "jan feb mar apr jun jul aug sep sept oct nov dec u.s u.k u.n a.m p.m e.g i.e".split()
)
_SENTENCE_END = re.compile(r"[.!?]+[\"”’»)]*(?=\s+[\"“‘«(]?[A-Z0-9ÁÉÍÓÚÑ])")
# "PUERTO CABELLO, Venezuela (Reuters) - ", "WASHINGTON (AP) — ": a wire story's dateline
DATELINE = re.compile(r"[A-Z][A-Z .'’-]+(?:,[^()\n]{1,40})?\s*\([^()\n]{1,40}\)\s*[-—–]+\s*")
_WORD = re.compile(r"[\w’'-]+", re.UNICODE)


@lru_cache(maxsize=4096)
def _fold_char(ch: str) -> str:
    if ch in "’‘`´":
        return "'"
    if ch in "“”«»„":
        return '"'
    if ch in "–—":
        return "-"
    base = unicodedata.normalize("NFD", ch)[0].lower()
    return base if len(base) == 1 else ch


def fold(text: str) -> str:
    """Lower case without accents, one character for one: "Nicolás" → "nicolas", "’" → "'"."""
    lowered = text.lower()
    if len(lowered) != len(text):  # a few characters lower-case into two ("İ"): fold one by one
        lowered = "".join(c.lower() if len(c.lower()) == 1 else c for c in text)
    if lowered.isascii():
        return lowered
    return "".join(c if c < "\x80" else _fold_char(c) for c in lowered)


@dataclass(frozen=True)
class Span:
    start: int
    end: int


def paragraphs(text: str) -> list[Span]:
    """Non-blank lines: news bodies put one paragraph on a line."""
    out = []
    for m in re.finditer(r"[^\n]+", text):
        start, end = m.start(), m.end()
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if end > start:
            out.append(Span(start, end))
    return out


def _ends_abbreviation(text: str, at: int) -> bool:
    """Whether the period at ``at`` ends an abbreviation or an initial ("Col.", "R.", "U.S.")."""
    start = at
    while start > 0 and (text[start - 1].isalpha() or text[start - 1] == "."):
        start -= 1
    word = text[start:at].lower()
    return len(word) == 1 or word in _ABBREVIATIONS


def sentences(text: str, within: Span) -> list[Span]:
    """Sentences of one paragraph: split after . ! ? (and closing quotes) before a capital, except
    after abbreviations and initials."""
    out = []
    start = within.start
    dateline = DATELINE.match(text, within.start, within.end)
    if dateline:
        start = dateline.end()
    chunk = text[within.start : within.end]
    for m in _SENTENCE_END.finditer(chunk):
        end = within.start + m.end()
        if chunk[m.start()] == "." and _ends_abbreviation(text, within.start + m.start()):
            continue
        out.append(Span(start, end))
        start = end
        while start < within.end and text[start].isspace():
            start += 1
    if start < within.end:
        out.append(Span(start, within.end))
    return out


@dataclass(frozen=True)
class Word:
    text: str
    start: int
    end: int


def words(text: str, start: int = 0, end: int | None = None) -> list[Word]:
    end = len(text) if end is None else end
    return [Word(m.group(), m.start(), m.end()) for m in _WORD.finditer(text, start, end)]


def trim(text: str, start: int, end: int, chars: str = " \t\n,;:") -> tuple[int, int]:
    """``start``/``end`` moved inwards past ``chars``."""
    while start < end and text[start] in chars:
        start += 1
    while end > start and text[end - 1] in chars:
        end -= 1
    return start, end


def overlap(a: list[tuple[int, int]], b: list[tuple[int, int]]) -> float:
    """Code points two sets of spans share, over the longer one's length: 1.0 is the same text, and
    0.8 is "found" for the benchmark and for marking a suggestion that repeats a fact."""
    shared = sum(max(0, min(e1, e2) - max(s1, s2)) for s1, e1 in a for s2, e2 in b)
    longest = max(sum(e - s for s, e in a), sum(e - s for s, e in b))
    return shared / longest if longest else 0.0
