"""Known actors as the rules see them: every name and alias, accent-folded, found in a body by
word-bounded search; and the phrases (descriptions, role titles) that name one actor unambiguously,
so "the Venezuelan president" or "sources familiar with discussions" resolve to it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from db.suggestions.text import fold

_DETERMINER = re.compile(r"^(?:the|a|an)\s+")


@dataclass(frozen=True)
class KnownActor:
    id: str
    kind: str
    name: str
    aliases: tuple[str, ...] = ()
    titles: tuple[str, ...] = ()
    description: str | None = None


@dataclass(frozen=True)
class Mention:
    actor: KnownActor
    start: int
    end: int


def key(phrase: str) -> str:
    """A phrase folded, without a leading article or a trailing period, spaces collapsed."""
    return _DETERMINER.sub("", re.sub(r"\s+", " ", fold(phrase).strip().rstrip(".")))


@dataclass
class Gazetteer:
    actors: list[KnownActor]
    _names: dict[str, list[tuple[str, KnownActor]]] = field(init=False)
    _phrases: dict[str, KnownActor | None] = field(init=False)
    _pattern: re.Pattern[str] | None = field(init=False)

    def __post_init__(self) -> None:
        self._names = {}
        self._phrases = {}
        for actor in self.actors:
            for name in (actor.name, *actor.aliases):
                self._names.setdefault(fold(name), []).append((name, actor))
                self._add_phrase(key(name), actor)
            for phrase in (*actor.titles, actor.description or ""):
                if phrase and actor.kind == "person":
                    self._add_phrase(key(phrase), actor)
        names = sorted(self._names, key=len, reverse=True)
        self._pattern = re.compile(r"(?<!\w)(?:" + "|".join(map(re.escape, names)) + r")(?!\w)") if names else None

    def _add_phrase(self, phrase: str, actor: KnownActor) -> None:
        if phrase in self._phrases and self._phrases[phrase] is not actor:
            self._phrases[phrase] = None  # two actors share it: it names neither
        else:
            self._phrases[phrase] = actor

    def mentions(self, text: str, folded: str) -> list[Mention]:
        """Every name or alias in the body, longest first, not overlapping; a name written in capitals
        ("US", "AP") only in capitals, and any other only capitalised as it is in the table."""
        if self._pattern is None:
            return []
        out = []
        for m in self._pattern.finditer(folded):
            written = text[m.start() : m.end()]
            for name, actor in self._names[m.group()]:
                if name.isupper() and written != name:
                    continue
                start = m.start()
                if written[:4] in ("The ", "the ") and any(a is actor for _, a in self._names.get(fold(name[4:]), ())):
                    start += 4  # "the Pentagon" names the Pentagon (also known without its article)
                elif name[:1].isupper() and not written[:1].isupper():
                    continue
                out.append(Mention(actor, start, m.end()))
                break
        return out

    def resolve(self, phrase: str) -> KnownActor | None:
        """The one actor a speaker phrase names: by name, alias, description or role title."""
        return self._phrases.get(key(phrase))

    def by_surname(self, surname: str) -> KnownActor | None:
        found = [a for a in self.actors if a.kind == "person" and fold(a.name).split()[-1:] == [fold(surname)]]
        return found[0] if len(found) == 1 else None
