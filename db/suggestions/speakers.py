"""Who speaks: a phrase in subject position ("Labour Minister Jose Antonio Ramirez", "A former
customs officer, who …", "he") read as a known actor, a new name with its title, or an unnamed
source's description."""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

from db.suggestions.gazetteer import Gazetteer, KnownActor
from db.suggestions.text import fold

TITLE_WORDS = frozenset(
    "president vice minister deputy secretary spokesman spokeswoman spokesperson governor mayor senator "
    "representative general colonel admiral commander chief director ambassador envoy foreign defense defence "
    "interior labour labor finance press state prime chairman chairwoman chair head leader officer adviser "
    "advisor analyst executive ceo attorney judge justice king queen prince pope bishop sheriff inspector "
    "commissioner counsel lieutenant captain sergeant major mr mrs ms dr prof professor former acting "
    "assistant associate senior junior us white house department house".split()
)
RANKS = re.compile(r"^(?:Col|Gen|Lt|Sgt|Capt|Cmdr|Adm|Maj|Gov|Sen|Rep|Dr|Mr|Mrs|Ms|Prof)\.?$")
PARTICLES = frozenset("de del da dos das la las los van von bin al le du di".split())
ORG_WORDS = frozenset(
    "authority union ministry department council agency company energy bank party army navy force forces guard "
    "police court commission committee institute university association group corporation corp inc ltd foundation "
    "fund organization organisation service office cross administration board network news times post press "
    "airlines holdings partners capital industries federation congress parliament assembly senate government "
    "coalition alliance front movement center centre club league bureau treasury".split()
)
_TRAILING_SOURCE = re.compile(r"\s+(?:cited|quoted|seen|reported|interviewed)\s+by\b.*$", re.S)
_CAPITALISED = re.compile(r"[A-ZÀ-ÖØ-Þ][\w’'.-]*")
PRONOUNS = frozenset({"he", "she"})


@dataclass(frozen=True)
class Speaker:
    actor: KnownActor | None = None
    name: str | None = None
    title: str | None = None
    description: str | None = None
    kind: str = "person"  # of a new name: person or organization
    start: int = 0  # where the name (or description) is in the body
    end: int = 0

    def as_dict(self) -> dict[str, str | None]:
        if self.actor is not None:
            return {"actor": self.actor.id}
        if self.name is not None:
            return {"name": self.name, "title": self.title}
        return {"description": self.description}

    def as_text(self) -> str:
        """What a claim's speakerDescription says when there is no actor to name."""
        if self.actor is not None:
            return self.actor.name
        if self.name is not None:
            return f"{self.name}, {self.title}" if self.title else self.name
        return self.description or ""


def is_name_token(token: str) -> bool:
    return (bool(_CAPITALISED.fullmatch(token)) and not token.isupper()) or token in PARTICLES


def split_name(tokens: list[str]) -> int:
    """Index where a trailing personal or organisation name begins in ``tokens`` (len when none)."""
    i = len(tokens)
    while i > 0:
        t = tokens[i - 1]
        bare = t.rstrip(".,").lower()
        if RANKS.match(t) or bare in TITLE_WORDS or not is_name_token(t):
            break
        i -= 1
    while i < len(tokens) and tokens[i] in PARTICLES:
        i += 1
    return i


@dataclass
class Context:
    """What speaker parsing knows of the article so far: its actors, the full names seen (for a
    surname alone), and the last speaker or person before a position (for a pronoun)."""

    text: str
    gazetteer: Gazetteer
    full_names: dict[str, Speaker]
    people: list[tuple[int, Speaker]]  # (position, speaker), in text order

    def last_before(self, at: int) -> Speaker | None:
        """The nearest person (or unnamed source) before ``at``: what "he" or "she" refers to."""
        i = bisect.bisect_left(self.people, at, key=lambda p: p[0])
        while i > 0:
            i -= 1
            speaker = self.people[i][1]
            if (speaker.actor is None or speaker.actor.kind == "person") and speaker.kind == "person":
                return speaker
        return None

    def remember(self, at: int, speaker: Speaker) -> None:
        if speaker.name and speaker.kind == "person":
            self.full_names.setdefault(speaker.name.split()[-1], speaker)
        bisect.insort(self.people, (at, speaker), key=lambda p: p[0])


def parse(ctx: Context, start: int, end: int) -> Speaker | None:
    """The speaker a phrase of the body names, or None when it reads as no speaker."""
    text = ctx.text
    phrase = text[start:end]
    cut = _TRAILING_SOURCE.search(phrase)
    if cut:
        end = start + cut.start()
    while end > start and text[end - 1] in " ,;:":
        end -= 1
    while start < end and text[start] in " ,;:":
        start += 1
    phrase = text[start:end]
    if not phrase or len(phrase.split()) > 25 or any(q in phrase for q in '“”"«»'):
        return None
    if phrase.lower() in PRONOUNS:
        previous = ctx.last_before(start)
        return previous
    parts = [(m.start(), m.end()) for m in re.finditer(r"[^,]+", phrase)]
    parts = [(start + a, start + b) for a, b in parts if phrase[a:b].strip()]
    first = _single(ctx, *parts[0])
    if len(parts) > 1 and first is not None:
        second_start, second_end = parts[1]
        while text[second_start] == " ":
            second_start += 1
        second = text[second_start:second_end].strip()
        if (
            first.name
            and first.actor is None
            and re.match(r"(?:(?:a|an|the)\s+)?[a-z]", second)
            and not re.match(r"(?:who|which|whose|where|speaking|said)\b", second)
        ):
            apposition = re.sub(r"^(?:(?:a|an|the)\s+)?(?:\d+-year-old\s+)?", "", second)
            title = re.split(r"\s+(?:who|which|that|whose)\b", apposition)[0] or None
            return Speaker(name=first.name, title=title, kind=first.kind, start=first.start, end=first.end)
        if first.description and first.actor is None:
            named = _single(ctx, second_start, second_end)
            if named is not None and (named.name or named.actor):
                title = re.sub(r"^(?:a|an|the)\s+", "", first.description)
                if named.actor is not None:
                    return named
                return Speaker(name=named.name, title=title, kind=named.kind, start=named.start, end=named.end)
    return first


def _single(ctx: Context, start: int, end: int) -> Speaker | None:
    text = ctx.text
    while start < end and text[start] == " ":
        start += 1
    while end > start and text[end - 1] == " ":
        end -= 1
    phrase = text[start:end]
    if not phrase:
        return None
    if phrase.lower() in PRONOUNS:
        return ctx.last_before(start)
    known = ctx.gazetteer.resolve(phrase)
    if known is not None:
        return Speaker(actor=known, start=start, end=end)
    heads = [m for m in ctx.gazetteer.mentions(phrase, fold(phrase)) if m.end == len(phrase)]
    if heads:
        return Speaker(actor=heads[-1].actor, start=start + heads[-1].start, end=end)
    tokens = phrase.split()
    at = split_name(tokens)
    name_tokens = tokens[at:]
    offset = start + (len(" ".join(tokens[:at])) + 1 if at else 0)
    if len(name_tokens) == 1 and name_tokens[0] in ctx.full_names:
        known_name = ctx.full_names[name_tokens[0]]
        return Speaker(
            actor=known_name.actor, name=known_name.name, title=known_name.title, kind="person", start=offset, end=end
        )
    if len(name_tokens) == 1:
        surname = ctx.gazetteer.by_surname(name_tokens[0])
        if surname is not None:
            return Speaker(actor=surname, start=offset, end=end)
    organisation = any(t.lower().strip(".,") in ORG_WORDS for t in tokens) and all(
        is_name_token(t) or t.lower() in ("of", "the", "for", "and") for t in tokens
    )
    if organisation:
        name_at = 1 if tokens[0] in ("The", "the") else 0
        name = " ".join(tokens[name_at:])
        return Speaker(name=name, kind="organization", start=end - len(name), end=end)
    if len(name_tokens) >= 2 and at < len(tokens) and (at > 0 or _not_sentence_word(name_tokens[0])):
        title_tokens = [t for t in tokens[:at] if not RANKS.match(t)]
        title = re.sub(r"^(?:a|an|the|The|A|An)\s+", "", " ".join(title_tokens)) or None
        return Speaker(name=" ".join(name_tokens), title=title, start=offset, end=end)
    if phrase[:1].isupper() and not (tokens[0].isupper() and len(tokens[0]) > 1):
        phrase = phrase[0].lower() + phrase[1:]
    return Speaker(description=phrase, start=start, end=end)


def _not_sentence_word(token: str) -> bool:
    return token not in ("The", "A", "An", "In", "On", "At", "But", "And", "However")
