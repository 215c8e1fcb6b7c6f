"""The suggester's gold set (tests/fixtures/gold/, annotated by hand) and how a run is scored
against it: a span is found when it shares at least 80% of the longer span's code points."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from db.suggestions.gazetteer import Gazetteer, KnownActor, key
from db.suggestions.text import overlap

ROOT = Path(__file__).resolve().parent.parent
GOLD = ROOT / "tests" / "fixtures" / "gold"
SEED = ROOT / "db" / "fixtures" / "atlantic-maduro-exile.json"
FOUND = 0.8


@dataclass
class GoldArticle:
    name: str
    text: str
    gold: dict[str, Any]


def known_actor_records() -> list[dict[str, Any]]:
    """The actors table of the benchmark: the seed's actors and tests/fixtures/gold/actors.json."""
    seed = json.loads(SEED.read_text(encoding="utf-8"))["actors"]
    return [*seed, *json.loads((GOLD / "actors.json").read_text(encoding="utf-8"))]


def gazetteer() -> Gazetteer:
    return Gazetteer(
        [
            KnownActor(
                a["id"],
                a["kind"],
                a["name"],
                tuple(a.get("aliases") or ()),
                tuple(r["title"] for r in a.get("roles") or ()),
                a.get("description"),
            )
            for a in known_actor_records()
        ]
    )


def articles() -> list[GoldArticle]:
    out = []
    for path in sorted(GOLD.glob("*.json")):
        if path.name == "actors.json":
            continue
        gold = json.loads(path.read_text(encoding="utf-8"))
        source = ROOT / gold["source"] if "/" in gold["source"] else GOLD / gold["source"]
        out.append(GoldArticle(path.stem, source.read_text(encoding="utf-8"), gold))
    return out


@dataclass
class Tally:
    gold: int = 0
    suggested: int = 0
    found: int = 0  # gold items found
    right: int = 0  # suggestions that are right
    misses: list[str] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.right / self.suggested if self.suggested else 1.0

    @property
    def recall(self) -> float:
        return self.found / self.gold if self.gold else 1.0


def _parts(item: dict[str, Any]) -> list[tuple[int, int]]:
    return [(p["charStart"], p["charEnd"]) for p in item.get("parts") or item.get("references") or [item]]


def _close(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) <= 0.01 * max(abs(a), abs(b), 1e-9)


def _speaker_right(said: dict[str, Any] | None, gold: dict[str, Any], names: dict[str, dict[str, Any]]) -> bool:
    if said is None:
        return False
    if "actor" in gold:
        actor = names[gold["actor"]]
        if said.get("actor") == actor["id"]:
            return True
        keys = {key(n) for n in (actor["name"], *(actor.get("aliases") or ()))}
        return key(said.get("name") or said.get("description") or "") in keys
    want = key(gold.get("name") or gold.get("description") or "")
    if said.get("actor"):
        actor = next((a for a in names.values() if a["id"] == said["actor"]), None)
        got = {key(n) for n in (actor["name"], *(actor.get("aliases") or ()))} if actor else set()
        return want in got
    got_key = key(said.get("name") or said.get("description") or "")
    return bool(got_key) and (got_key == want or got_key in want or want in got_key)


def score(article: GoldArticle, suggestions: list[dict[str, Any]], tallies: dict[str, Tally]) -> None:
    """Adds one article's suggestions (the API's shape) to the tallies per kind."""
    gold, text, name = article.gold, article.text, article.name
    names = {a["name"]: a for a in known_actor_records()}
    for kind in ("direct", "indirect"):
        t = tallies[kind]
        wanted = [c for c in gold["claims"] if c["quoteType"] == kind]
        got = [s for s in suggestions if s["kind"] == "claim" and s["quoteType"] == kind]
        other = [_parts(c) for c in gold.get("otherClaims", [])]
        got = [s for s in got if not any(overlap(_parts(s), o) >= 0.5 for o in other)]
        t.gold += len(wanted)
        t.suggested += len(got)
        used: set[int] = set()
        speakers = tallies["speakers"]
        for c in wanted:
            speakers.gold += 1
            hit = next((i for i, s in enumerate(got) if i not in used and overlap(_parts(s), _parts(c)) >= FOUND), None)
            words = " … ".join(p["text"] for p in c["parts"])[:70]
            if hit is None:
                t.misses.append(f"{name}: {words}")
                speakers.misses.append(f"{name}: (claim not found) {words}")
                continue
            used.add(hit)
            t.found += 1
            said = got[hit]["speaker"]
            if said is not None:
                speakers.suggested += 1
            if _speaker_right(said, c["speaker"], names):
                speakers.found += 1
                speakers.right += 1
            else:
                speakers.misses.append(f"{name}: {words} — {said} for {c['speaker']}")
        t.right += len(used)
        t.wrong += [
            f"{name}: {' … '.join(r['quoteText'] for r in s['references'])[:70]}"
            for i, s in enumerate(got)
            if i not in used
        ]

    t = tallies["quantities"]
    wanted = gold["quantities"]
    got = [s for s in suggestions if s["kind"] == "quantity"]
    t.gold += len(wanted)
    t.suggested += len(got)
    used = set()
    for q in wanted:

        def same(s: dict[str, Any], q: dict[str, Any] = q) -> bool:
            v = s["quantity"]
            return (
                overlap(_parts(s), [(q["charStart"], q["charEnd"])]) >= FOUND
                and v["approximation"] == q["approximation"]
                and all(_close(v.get(k), q.get(k)) for k in ("amount", "lowerBound", "upperBound"))
            )

        hit = next((i for i, s in enumerate(got) if i not in used and same(s)), None)
        if hit is None:
            near = next((s for s in got if overlap(_parts(s), [(q["charStart"], q["charEnd"])]) > 0), None)
            seen = (
                f" (suggested {near['quantity']['originalText']!r}: {near['quantity']['approximation']})"
                if near
                else ""
            )
            t.misses.append(f"{name}: {q['text']}{seen}")
            continue
        used.add(hit)
        t.found += 1
    t.right += len(used)
    t.wrong += [f"{name}: {s['quantity']['originalText']}" for i, s in enumerate(got) if i not in used]

    t = tallies["actors"]
    wanted = gold["actors"]
    got = [s for s in suggestions if s["kind"] == "actor"]
    t.gold += len(wanted)
    t.suggested += len(got)
    right: set[int] = set()
    for a in wanted:
        want_id = names[a["known"]]["id"] if a["known"] else None
        mentions = [(m["charStart"], m["charEnd"]) for m in a["mentions"]]
        hits = [
            i
            for i, s in enumerate(got)
            if s["match"] == want_id and any(overlap([r], [m]) >= FOUND for r in _parts(s) for m in mentions)
        ]
        if not hits:
            t.misses.append(f"{name}: {a['name']} ({'known' if want_id else 'new'})")
            continue
        t.found += 1
        right.update(hits)
    t.right += len(right)
    t.wrong += [
        f"{name}: {s['name']} ({s['actorKind']}, match {s['match']})" for i, s in enumerate(got) if i not in right
    ]
    del text
