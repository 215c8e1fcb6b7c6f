"""Actors named in a body: known ones (by name or alias, accent-insensitively), the speakers the
claims found, and new names read from their shape — a title before a name, an organisation word,
a country (pycountry's list), "by <name>" in a byline, "the consultancy <Name>"."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from db.suggestions.gazetteer import Gazetteer, KnownActor
from db.suggestions.speakers import ORG_WORDS, PARTICLES, RANKS, TITLE_WORDS, Speaker, is_name_token, split_name
from db.suggestions.text import fold

_SEQUENCE = re.compile(
    r"(?<![\w’'-])(?:[A-ZÀ-ÖØ-Þ][\w’'.-]*)(?:[ \t]+(?:(?:de|del|da|dos|la|van|von|of|the|for)[ \t]+)?[A-ZÀ-ÖØ-Þ][\w’'.-]*)*"
)
_PLACE_BEFORE = re.compile(
    r"(?:\b(?:in|at|near|from|to|into|across|outside|inside|toward|towards|north|south|east|west|of|off|through)\s+(?:the\s+)?)$"
)
_ORG_CONTEXT = re.compile(
    r"\b(?:company|firm|consultancy|group|agency|organization|organisation|party|union|network|newspaper|broadcaster|outlet|bank|charity|ngo)\s+$"
)
_BYLINE = re.compile(r"(?:\b[Bb]y|Reporting by|Editing by|Writing by)\s+$")
_NOT_NAMES = frozenset(
    "monday tuesday wednesday thursday friday saturday sunday january february march april may june july august "
    "september october november december i we they he she it the a an this that these those but and or if since after "
    "before during earlier later meanwhile however officially in on at for with from by as when while what who "
    "nobody everybody everything nothing not any every some shares one".split()
)
_PLACE_WORDS = frozenset(
    "santa san puerto port new mount lake river saint fort cape gulf sea ocean latin north south east west central "
    "america europe asia africa caribbean pacific atlantic middle".split()
)


_EVENT_WORDS = frozenset("crisis war revolution missile summit agreement accord act treaty games cup day".split())


@dataclass
class ActorCandidate:
    name: str
    kind: str
    known: KnownActor | None = None
    title: str | None = None
    country: str | None = None
    mentions: list[tuple[int, int]] = field(default_factory=list)
    confidence: float = 0.6


@lru_cache(maxsize=1)
def _countries() -> dict[str, tuple[str, str]]:
    """Folded country name → (name as written in pycountry, ISO alpha-2)."""
    import pycountry

    out: dict[str, tuple[str, str]] = {}
    for c in pycountry.countries:
        for name in (getattr(c, "common_name", None), c.name):
            if name and "," not in name and "(" not in name:
                out.setdefault(fold(name), (name, c.alpha_2))
    return out


def find(text: str, gazetteer: Gazetteer, speakers_found: list[Speaker]) -> list[ActorCandidate]:
    folded = fold(text)
    by_key: dict[str, ActorCandidate] = {}
    taken = bytearray(len(text))  # 1 where a name already found stands

    def add(candidate: ActorCandidate, start: int, end: int) -> None:
        k = candidate.known.id if candidate.known else fold(candidate.name)
        found = by_key.setdefault(k, candidate)
        if (start, end) not in found.mentions:
            found.mentions.append((start, end))
        if candidate.title and not found.title:
            found.title = candidate.title
        taken[start:end] = b"\x01" * (end - start)

    for m in gazetteer.mentions(text, folded):
        if m.actor.kind in ("anonymousSource", "group"):
            continue
        add(ActorCandidate(m.actor.name, m.actor.kind, m.actor, confidence=0.95), m.start, m.end)
    headline = _headline(text)
    for s in speakers_found:
        if s.actor is None and s.name:
            if 1 not in taken[s.start : s.end]:
                add(ActorCandidate(s.name, s.kind, title=s.title, confidence=0.8), s.start, s.end)
    surnames = {c.name.split()[-1]: c for c in by_key.values() if c.kind == "person" and c.known is None}
    countries = _countries()
    for seq in _SEQUENCE.finditer(text):
        start, end = seq.start(), seq.end()
        sentence_end = re.search(r"[\w’'-]{4,}\.[ \t]", text[start:end])
        if sentence_end:  # "Foro Cívico. Vega said": a sentence ends inside the run
            end = start + sentence_end.end() - 1
        while end > start and text[end - 1] in ".’'":
            end -= 1
        if 1 in taken[start:end]:
            continue
        if text[end - 2 : end] in ("'s", "’s"):
            end -= 2
        tokens = text[start:end].split()
        # leading sentence words are not the name; titles before it are its title
        while tokens and (tokens[0].lower() in _NOT_NAMES or tokens[0] in ("of", "the", "for")):
            start += len(tokens[0]) + 1
            tokens = tokens[1:]
        title = None
        at = split_name(tokens)
        if 0 < at < len(tokens) - 1 and any(t.lower().strip(".,") in TITLE_WORDS for t in tokens[:at]):
            title = " ".join(t for t in tokens[:at] if not RANKS.match(t))
            start += len(" ".join(tokens[:at])) + 1
            tokens = tokens[at:]
        while tokens and (tokens[0].lower() in TITLE_WORDS or RANKS.match(tokens[0])):
            start += len(tokens[0]) + 1
            tokens = tokens[1:]
        while tokens and tokens[-1] in ("of", "the", "for", *PARTICLES):
            end -= len(tokens[-1]) + 1
            tokens = tokens[:-1]
        if not tokens or any(t.isupper() and len(t) > 1 for t in tokens):
            continue
        name = text[start:end]
        before = text[max(0, start - 40) : start]
        lowered = [t.lower().strip(".,") for t in tokens]
        country = countries.get(fold(name))
        if country is not None:
            add(ActorCandidate(name, "country", country=country[1], confidence=0.7), start, end)
            continue
        if any(t in ORG_WORDS for t in lowered) or _ORG_CONTEXT.search(before):
            add(ActorCandidate(name, "organization", confidence=0.6), start, end)
            continue
        if len(tokens) == 1 and tokens[0] in surnames:
            add(surnames[tokens[0]], start, end)
            continue
        if _PLACE_BEFORE.search(before) and not _BYLINE.search(before):
            continue
        person = (
            2 <= len(tokens) <= 4
            and all(is_name_token(t) for t in tokens)
            and not any(t in _PLACE_WORDS for t in lowered)
        )
        if person and not any(t in _EVENT_WORDS for t in lowered):
            add(ActorCandidate(name, "person", title=title, confidence=0.55), start, end)
    # A headline capitalises its words: a new name seen only there is no evidence of a name.
    kept = [c for c in by_key.values() if c.known or not all(e <= headline for _, e in c.mentions)]
    return sorted(kept, key=lambda c: c.mentions[0][0])


def _headline(text: str) -> int:
    """Where a first line that reads as a headline (short, no final period) ends; 0 when none."""
    first = text.split("\n", 1)[0]
    stripped = first.rstrip()
    if stripped and stripped[-1] not in '.!?”"’' and len(stripped.split()) < 20:
        return len(first)
    return 0
