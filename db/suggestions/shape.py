"""Candidates as the API returns them: references checked against the body exactly as a write
checks them, quantities normalised by the write path's own validator, and for each a ``create``
body ready for POST /v1/{createKind}s — a claim, a deployment asset or an incident for a quantity,
an actor for a new name — plus ``existing`` when the article already has the fact."""

from __future__ import annotations

import bisect
import re
from typing import Any

from db.fields import INVALID, MAX_TEXT, Checks, quantity
from db.suggestions import claims as claim_rules
from db.suggestions.actors import ActorCandidate
from db.suggestions.engine import Candidates
from db.suggestions.quantities import Quantity
from db.suggestions.store import Article, Existing
from db.suggestions.text import Span, overlap, paragraphs, sentences

FOUND = 0.8
_WINDOW = 400
_QUANTITY = quantity()
_ASSET_TYPES = (
    (r"troops|soldiers|sailors|marines|personnel|reservists|paratroopers", "troops"),
    (r"aircraft carriers?|carriers?", "aircraftCarrier"),
    (r"submarines?", "submarine"),
    (r"warships|destroyers|frigates|cruisers|corvettes|naval vessels|ships", "warship"),
    (r"fighter jets|jets|fighters", "fighterJet"),
    (r"bombers", "bomber"),
    (r"drones", "drone"),
    (r"helicopters", "helicopter"),
    (r"aircraft|planes|airplanes", "aircraft"),
    (r"missiles|missile launchers", "missileSystem"),
    (r"tanks|armou?red vehicles", "armoredVehicle"),
    (r"howitzers|artillery pieces|guns", "artillery"),
)
_KILLED = re.compile(r"\b(?:killed|killing|kill|kills|dead|died|deaths|death toll)\b")
_INJURED = re.compile(r"\b(?:injured|injuring|wounded|wounding|injuries|hurt)\b")
_ATTACKS = re.compile(r"strikes?|attacks?|raids?|bombings?|airstrikes?|shootings?")
_INCIDENT_TYPES = re.compile(
    r"\b(strike|attack|raid|bombing|shooting|flood|earthquake|explosion|fire|crash|clash|protest|storm)s?\b"
)


def _ref(text: str, start: int, end: int) -> dict[str, Any] | None:
    """A reference as a write checks it: offsets in code points, quoteText exactly the body there."""
    quote = text[start:end]
    if not 0 <= start < end <= len(text) or len(quote) > MAX_TEXT:
        return None
    return {"charStart": start, "charEnd": end, "quoteText": quote}


def _cite(article: Article, ref: dict[str, Any]) -> dict[str, Any]:
    return {"article": article.id, **ref}


def _existing_claim(parts: list[tuple[int, int]], facts: list[Existing]) -> str | None:
    for fact in facts:
        if fact.kind == "claim" and overlap(parts, list(fact.spans)) >= FOUND:
            return fact.id
    return None


def claim(article: Article, c: claim_rules.Claim, facts: list[Existing]) -> dict[str, Any] | None:
    text = article.body
    refs = [_ref(text, s, e) for s, e in c.parts]
    if any(r is None for r in refs) or not c.statement or len(c.statement) > MAX_TEXT:
        return None
    cited = [r for r in refs if r is not None]
    create: dict[str, Any] = {"statement": c.statement, "quoteType": c.quote_type}
    if c.quote:
        create["quote"] = c.quote
    if c.speaker is not None and c.speaker.actor is not None:
        create["speaker"] = c.speaker.actor.id
    elif c.speaker is not None and c.speaker.as_text():
        create["speakerDescription"] = c.speaker.as_text()[:1000]
    if article.outlet:
        create["reportedBy"] = article.outlet
    create["references"] = [_cite(article, r) for r in cited]
    return {
        "kind": "claim",
        "quoteType": c.quote_type,
        "quote": c.quote,
        "statement": c.statement,
        "cue": c.cue,
        "speaker": c.speaker.as_dict() if c.speaker else None,
        "references": cited,
        "confidence": round(c.confidence, 2),
        "existing": _existing_claim(c.parts, facts),
        "createKind": "claim",
        "create": create,
    }


def sentence_spans(text: str) -> list[Span]:
    """Every sentence of the body in order (computed once per article: a body of many figures
    would otherwise split the whole text again for each)."""
    return [s for para in paragraphs(text) for s in sentences(text, para)]


def _sentence_of(spans: list[Span], at: int) -> Span:
    i = bisect.bisect_right([s.start for s in spans], at) - 1 if spans else -1
    return spans[i] if i >= 0 and at < spans[i].end else Span(at, at)


def _same_values(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return all(a.get(k) == b.get(k) for k in ("amount", "lowerBound", "upperBound", "approximation"))


def quantity_suggestion(
    article: Article, q: Quantity, facts: list[Existing], spans: list[Span]
) -> dict[str, Any] | None:
    text = article.body
    ref = _ref(text, q.start, q.end)
    checks = Checks()
    value = _QUANTITY(q.as_dict(text), ("quantity",), checks)
    if ref is None or value is INVALID or checks.errors:
        return None
    sentence = _sentence_of(spans, q.start)
    # A "sentence" can be a whole unpunctuated body: read a window around the figure, not all of it.
    sentence = Span(max(sentence.start, q.start - _WINDOW), min(sentence.end, q.end + _WINDOW))
    around = text[sentence.start : sentence.end].lower()
    cite = [_cite(article, ref)]
    unit = (q.unit or "").lower()
    kind, create = _create_for_quantity(article, q, value, unit, around, sentence, cite)
    existing = None
    for fact in facts:
        for stated, cited in fact.quantities:
            if _same_values(stated, value) and overlap([(q.start, q.end)], list(cited)) * max(
                1, sum(e - s for s, e in cited)
            ) >= FOUND * (q.end - q.start):
                existing = fact.id
    return {
        "kind": "quantity",
        "quantity": value,
        "references": [ref],
        "confidence": 0.85 if q.unit else 0.6,
        "existing": existing,
        "createKind": kind,
        "create": create,
    }


def _create_for_quantity(
    article: Article,
    q: Quantity,
    value: dict[str, Any],
    unit: str,
    around: str,
    sentence: Span,
    cite: list[dict[str, Any]],
) -> tuple[str, dict[str, Any]]:
    """What accepting a quantity writes: an asset of a deployment for troops, ships or aircraft; an
    incident's fatalities, injuries or count for the dead, the hurt or the strikes; else a claim
    that the article asserts the figure, citing the figure's words."""
    for pattern, asset_type in _ASSET_TYPES:
        if unit and re.fullmatch(rf"(?:\w[\w-]* )*(?:{pattern})", unit):
            return "deployment", {"assets": [{"assetType": asset_type, "quantity": value, "references": cite}]}
    incident = _INCIDENT_TYPES.search(around)
    incident_type = incident.group(1) if incident else "incident"
    people = unit in ("", "people", "persons", "civilians", "soldiers", "children", "migrants", "residents")
    if people and _KILLED.search(around):
        return "incident", {"incidentType": incident_type, "fatalities": value, "references": cite}
    if people and _INJURED.search(around):
        return "incident", {"incidentType": incident_type, "injuries": value, "references": cite}
    if unit and _ATTACKS.fullmatch(unit.split()[-1]):
        return "incident", {"incidentType": incident_type, "count": value, "references": cite}
    statement = claim_rules.statement_of(article.body[sentence.start : sentence.end]) or value["originalText"]
    return "claim", {"statement": statement[:MAX_TEXT], "quoteType": "assertion", "references": cite}


def actor(article: Article, a: ActorCandidate) -> dict[str, Any] | None:
    refs = [r for r in (_ref(article.body, s, e) for s, e in a.mentions[:50]) if r is not None]
    if not refs or len(a.name) > 500:
        return None
    create: dict[str, Any] | None = None
    if a.known is None:
        create = {"kind": a.kind, "name": a.name}
        if a.title and a.kind == "person" and len(a.title) <= 300:
            create["roles"] = [{"title": a.title}]
        if a.country:
            create["country"] = a.country
    return {
        "kind": "actor",
        "name": a.known.name if a.known else a.name,
        "actorKind": a.known.kind if a.known else a.kind,
        "title": a.title,
        "match": a.known.id if a.known else None,
        "references": refs,
        "confidence": a.confidence,
        "existing": None,
        "createKind": None if create is None else "actor",
        "create": create,
    }


def suggestions(article: Article, found: Candidates, facts: list[Existing]) -> list[dict[str, Any]]:
    out = [claim(article, c, facts) for c in found.claims]
    spans = sentence_spans(article.body)
    out += [quantity_suggestion(article, q, facts, spans) for q in found.quantities]
    out += [actor(article, a) for a in found.actors]
    kept = [s for s in out if s is not None]
    kept.sort(key=lambda s: (s["references"][0]["charStart"], s["kind"]))
    return kept
