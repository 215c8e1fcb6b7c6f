"""The rule engine: one pass over a body yields candidate claims, quantities and actors. An engine
is anything with ``name`` and ``extract(text, gazetteer)``; a statistical one can sit beside this
and be compared by the same benchmark (bench/bench_suggest.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from db.suggestions import actors, claims, quantities, speakers
from db.suggestions.gazetteer import Gazetteer


@dataclass
class Candidates:
    claims: list[claims.Claim] = field(default_factory=list)
    quantities: list[quantities.Quantity] = field(default_factory=list)
    actors: list[actors.ActorCandidate] = field(default_factory=list)


class Engine(Protocol):
    name: str

    def extract(self, text: str, gazetteer: Gazetteer) -> Candidates: ...


class Rules:
    """Hand-written rules over the text itself (regular expressions, text2num, pycountry)."""

    name = "rules"

    def extract(self, text: str, gazetteer: Gazetteer) -> Candidates:
        ctx = speakers.Context(text, gazetteer, {}, [])
        # People named anywhere, so "he" and a surname alone resolve to the last one named.
        for named in actors.find(text, gazetteer, []):
            if named.kind == "person":
                for start, end in named.mentions:
                    ctx.remember(start, speakers.Speaker(actor=named.known, name=named.name, start=start, end=end))
        found = claims.find(ctx)
        said = [c.speaker for c in found if c.speaker is not None]
        return Candidates(found, quantities.find(text), actors.find(text, gazetteer, said))


ENGINES: dict[str, Engine] = {"rules": Rules()}
