"""Claims: direct quotes in any quotation-mark style (split around their attribution, or running on
in the next sentence by the same speaker) and indirect speech ("X said …", "told … that",
"according to …", "…, who warn that …"), each with its cue and speaker."""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field

from db.suggestions import speakers
from db.suggestions.speakers import Speaker
from db.suggestions.text import Span, paragraphs, sentences

CUES = (
    "said|says|say|told|tells|tell|added|adds|stated|states|declared|announced|warned|warns|warn|claimed|claims|"
    "insisted|insists|argued|argues|explained|noted|notes|wrote|writes|estimated|estimates|indicated|indicates|"
    "reported|reports|acknowledged|admitted|confirmed|confirms|predicted|asserted|maintained|accused|called|"
    "believes|believe|testified|recalled|conceded|stressed|vowed|denied|pledged"
)
_CUE = re.compile(rf"(?<![\w-])(?:(?:has|have|had)\s+)?(?P<cue>{CUES})\b")
_OPENERS = {"“": "”", "‘": "’", "«": "»", "„": "“", '"': '"'}
_AFTER_INVERTED = re.compile(rf"\s*,?\s*(?P<cue>{CUES})\s+(?P<sp>[^.;:!?“”\"«»]+)")
_AFTER_SUBJECT = re.compile(
    rf"\s*,?\s*(?P<sp>[^.;:!?“”\"«»]{{1,200}}?)\s+(?:(?:has|have|had)\s+)?(?P<cue>{CUES})\b(?P<rest>[^,.;!?“”\"«»]*)"
)
_INTRO = re.compile(
    r"^(?:(?:In|On|At|Since|After|Before|During|Earlier|Later|Meanwhile|However|Officially|Separately|Speaking)\b[^,]{0,60},\s*)"
)
# a subject that ends in these is part of a verb phrase ("He declined to say"), not a speaker
_NOT_SUBJECT = re.compile(r"\b(?:to|not|would|will|could|should|might|may|did|does|do|can|cannot|refused|declined)\s*$")
_TOLD_OBJECT = re.compile(r"\s+(?:[\w’'.-]+\s+){0,8}?that\b")


@dataclass
class Claim:
    quote_type: str
    parts: list[tuple[int, int]]
    statement: str
    cue: str | None
    speaker: Speaker | None
    confidence: float
    sentence: Span | None = None
    quote: str | None = None
    covers: list[Span] = field(default_factory=list)  # sentences this claim accounts for


def _quotes(text: str, para: Span) -> list[tuple[int, int]]:
    """(open mark, close mark) positions of each quotation in a paragraph, in order."""
    out: list[tuple[int, int]] = []
    i = para.start
    while i < para.end:
        ch = text[i]
        closer = _OPENERS.get(ch)
        if closer is None or (ch == "‘" and not text[i + 1 : i + 2].isalpha()):
            i += 1
            continue
        j = i + 1
        while j < para.end:
            if text[j] == closer and not (closer == "’" and text[j + 1 : j + 2].isalpha()):
                break
            j += 1
        out.append((i, j))  # j == para.end: a quotation running to the paragraph's end
        i = j + 1
    return out


def _clean(text: str) -> str:
    return re.sub(r"[“”\"«»‘]|’(?![a-z])", "", text).strip()


def _sentence_index(sents: list[Span], at: int) -> int:
    """Index of the sentence holding ``at`` (the one before it when ``at`` falls between two)."""
    return max(0, bisect.bisect_right(sents, at, key=lambda s: s.start) - 1)


def _sentence_of(sents: list[Span], at: int) -> Span:
    return sents[_sentence_index(sents, at)]


def statement_of(raw: str) -> str:
    """A clause as a claim's statement: without quotation marks or a leading "that", capitalised, ended."""
    return _statement(raw)


def _statement(raw: str) -> str:
    raw = _clean(raw).strip(" ,;:")
    raw = re.sub(r"^that\s+", "", raw)
    if not raw:
        return raw
    raw = raw[0].upper() + raw[1:]
    raw = re.sub(r"[,;:]$", "", raw)
    return raw if raw[-1:] in ".!?" else raw + "."


def find(ctx: speakers.Context) -> list[Claim]:
    text = ctx.text
    claims: list[Claim] = []
    quoted: set[int] = set()  # starts of the sentences a direct quote accounts for
    for n, para in enumerate(paragraphs(text)):
        if n == 0 and text[para.end - 1] not in '.!?”"’' and len(text[para.start : para.end].split()) < 20:
            continue  # the headline
        sents = sentences(text, para)
        quotes = _quotes(text, para)
        skip: set[int] = set()
        by_sentence: dict[int, list[int]] = {}
        for n, (open_at, _) in enumerate(quotes):
            by_sentence.setdefault(_sentence_index(sents, open_at), []).append(n)
        for i, sent in enumerate(sents):
            # in reading order, so a pronoun or an unattributed quotation finds the speaker before it
            mine = [n for n in by_sentence.get(i, ()) if n not in skip]
            direct = _direct(ctx, para, sents, quotes, mine, skip, claims)
            claims.extend(direct)
            quoted.update(c.start for d in direct for c in d.covers)
            if sent.start in quoted:
                continue
            claim = _indirect(ctx, sent)
            if claim is not None:
                claims.append(claim)
                if claim.speaker is not None:
                    ctx.remember(claim.parts[0][0], claim.speaker)
    return claims


def _direct(
    ctx: speakers.Context,
    para: Span,
    sents: list[Span],
    quotes: list[tuple[int, int]],
    mine: list[int],
    skip: set[int],
    previous: list[Claim],
) -> list[Claim]:
    text = ctx.text
    out: list[Claim] = []
    for n in mine:
        open_at, close_at = quotes[n]
        if n in skip:
            continue
        inner = (open_at + 1, close_at)
        start, end = inner
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if end <= start:
            continue
        parts = [(start, end)]
        sentence = _sentence_of(sents, open_at)
        covers = sents[_sentence_index(sents, open_at) : _sentence_index(sents, close_at) + 1]
        after_end = sentence.end if sentence.end > close_at else para.end
        after_end = max(after_end, _sentence_of(sents, min(close_at + 1, para.end - 1)).end)
        speaker, cue, confidence, statement_from = None, None, 0.0, None
        m = _AFTER_INVERTED.match(text, close_at + 1, after_end)
        if m is None:
            m = _AFTER_SUBJECT.match(text, close_at + 1, after_end)
        if (m is not None and text[close_at - 1 : close_at] not in ".!?") or (
            m is not None and m.group("sp").strip().lower() in speakers.PRONOUNS
        ):
            sp = m.group("sp")
            sp_start = m.start("sp")
            sp_end = sp_start + len(sp)
            speaker = speakers.parse(ctx, sp_start, sp_end)
            if speaker is not None:
                cue, confidence = m.group("cue"), 0.9
                covers.append(_sentence_of(sents, m.start("sp")))
                # a quotation split around its attribution: “If …,” he said, “they …”
                if (
                    n + 1 < len(quotes)
                    and text[close_at - 1] == ","
                    and re.fullmatch(r"\s*,\s*", text[m.end() : quotes[n + 1][0]])
                ):
                    nxt_open, nxt_close = quotes[n + 1]
                    s2, e2 = nxt_open + 1, nxt_close
                    while e2 > s2 and text[e2 - 1].isspace():
                        e2 -= 1
                    parts.append((s2, e2))
                    covers.append(_sentence_of(sents, nxt_open))
                    skip.add(n + 1)
            else:
                m = None
        if speaker is None:
            before = text[sentence.start : open_at]
            cues = list(_CUE.finditer(before))
            if cues:
                cue_match = cues[0]
                subject_start = sentence.start
                intro = _INTRO.match(before)
                if intro:
                    subject_start += intro.end()
                if re.search(r"\b(?:he|she)\s+$", before[: cue_match.start()]):
                    speaker = ctx.last_before(sentence.start + cue_match.start())  # "what he called"
                else:
                    speaker = speakers.parse(ctx, subject_start, sentence.start + cue_match.start())
                if speaker is not None and speaker.description and len(speaker.description.split()) > 12:
                    speaker = None
                if speaker is not None:
                    cue, confidence = cue_match.group("cue"), 0.85
                    that = [t for t in re.finditer(r"\bthat\b", before) if t.start() > cue_match.start()]
                    statement_from = sentence.start + (that[-1].end() if that else cue_match.end())
        if speaker is None:
            last = (out or previous)[-1] if out or previous else None
            if (
                last is not None
                and last.quote_type == "direct"
                and last.speaker is not None
                and last.parts[-1][1] >= para.start - 400
            ):
                speaker, confidence = last.speaker, 0.65
        words = len(text[start:end].split())
        if speaker is None and words < 4:
            continue
        if speaker is None:
            confidence = 0.5
        quote = " … ".join(text[a:b] for a, b in parts)
        if statement_from is not None:
            # the reported clause, to the next one ("…, and that …") or the sentence's end
            clause = re.split(r",?\s+and that\b", text[statement_from : sentence.end])[0]
            statement = _statement(clause)
        else:
            statement = _statement(" ".join(text[a:b] for a, b in parts))
        if speaker is not None:
            ctx.remember(open_at, speaker)
        out.append(
            Claim("direct", parts, statement, cue, speaker, confidence, sentence, quote=_clean(quote), covers=covers)
        )
    return out


_ACCORDING = re.compile(r"\b[Aa]ccording to\s+(?P<sp>[^,.;]+)")
_TRAILING = re.compile(
    rf",\s+(?P<sp>(?:(?!,).){{1,120}}?(?:,(?:(?!,).){{1,160}},)?)\s+(?:(?:has|have|had)\s+)?(?P<cue>{CUES})\b(?P<tail>(?:(?!\bthat\b)[^,;:“”\"]){{0,60}})$"
)
_MIDDLE = re.compile(r",\s+(?P<sp>he|she|they|[A-Z][\w’'-]+(?:\s+[A-Z][\w’'-]+)?)\s+(?P<cue>said|says|added),\s+")
_RELATIVE = re.compile(rf",\s+(?P<who>who)\s+(?P<cue>{CUES})\s+that\b")
_ANTECEDENT = re.compile(r"\b(?:among|by|from|with|to|for|about|including|of)\s+(?=\S)")


_PHRASE_STOP = re.compile(
    r"(?:among|by|from|with|to|for|about|including|of|is|are|was|were|has|have|had|and|but|[a-z]+ed)$"
)


def _noun_phrase_start(body: str, end: int) -> int:
    """Where the noun phrase ending at ``end`` starts: back over at most six words, to a verb or a
    preposition ("The plan worried several senators" → "several senators")."""
    start = end
    for word in list(re.finditer(r"[\w’'-]+", body[:end]))[::-1][:6]:
        if _PHRASE_STOP.match(word.group().lower()):
            break
        start = word.start()
    return start


def _indirect(ctx: speakers.Context, sent: Span) -> Claim | None:
    text = ctx.text
    body = text[sent.start : sent.end]
    if len(body.split()) < 4:
        return None
    m = _ACCORDING.search(body)
    if m is not None:
        speaker = speakers.parse(ctx, sent.start + m.start("sp"), sent.start + m.end("sp"))
        content = (body[: m.start()] + body[m.end() :]).strip(" ,")
        return _indirect_claim(sent, body, sent, "according to", speaker, content, 0.8)
    m = _RELATIVE.search(body)
    if m is not None:
        # the antecedent of "who": after the first preposition that leaves a known phrase, else the last
        cuts = [c.end() for c in _ANTECEDENT.finditer(body, 0, m.start())]
        known = [c for c in cuts if ctx.gazetteer.resolve(body[c : m.start()])]
        ante_start = sent.start + (known[0] if known else _noun_phrase_start(body, m.start()))
        speaker = speakers.parse(ctx, ante_start, sent.start + m.start())
        span = Span(sent.start + m.start("who"), sent.end)
        return _indirect_claim(span, body, sent, m.group("cue"), speaker, body[m.end() :], 0.7)
    m = _TRAILING.search(body.rstrip('.!?”"’ '))
    if m is not None and len(m.group("sp").split()) <= 14:
        speaker = speakers.parse(ctx, sent.start + m.start("sp"), sent.start + m.end("sp"))
        if speaker is not None:
            return _indirect_claim(sent, body, sent, m.group("cue"), speaker, body[: m.start()], 0.8)
    m = _MIDDLE.search(body)
    if m is not None:
        speaker = speakers.parse(ctx, sent.start + m.start("sp"), sent.start + m.end("sp"))
        if speaker is not None:
            content = body[: m.start()] + ", " + body[m.end() :]
            return _indirect_claim(sent, body, sent, m.group("cue"), speaker, content, 0.7)
    intro = _INTRO.match(body)
    subject_from = intro.end() if intro else 0
    m = _CUE.search(body, subject_from)
    if m is None or m.start() == subject_from:
        return None
    subject = body[subject_from : m.start()]
    if " that " in subject or len(subject.split()) > 25 or not subject.strip() or _NOT_SUBJECT.search(subject):
        return None
    speaker = speakers.parse(ctx, sent.start + subject_from, sent.start + m.start())
    if speaker is None or (speaker.description and len(speaker.description.split()) > 10):
        return None
    rest = body[m.end() :]
    that = _TOLD_OBJECT.match(rest)
    if that is not None:
        rest = rest[that.end() :]
    elif m.group("cue") in ("told", "tells", "tell"):
        return None
    elif m.group("cue") == "accused":
        rest = body[m.end() :]
    return _indirect_claim(sent, body, sent, m.group("cue"), speaker, rest, 0.75)


def _indirect_claim(
    span: Span, body: str, sent: Span, cue: str, speaker: Speaker | None, content: str, confidence: float
) -> Claim | None:
    statement = _statement(content)
    if len(statement.split()) < 3:
        return None
    if speaker is None:
        confidence -= 0.3
    return Claim("indirect", [(span.start, span.end)], statement, cue, speaker, confidence, sent, covers=[sent])
