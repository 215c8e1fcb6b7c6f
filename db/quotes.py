"""Finding a reference's quote in its article body: the offsets (Unicode code points, as Python
indexes a str and PostgreSQL's substr counts) of its ``occurrence``-th match, or why there is none
(never found — with the closest passage — or found several times with no occurrence to choose)."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

# Past this many characters the nearest-passage search compares a window of the body only:
# difflib is quadratic in the worst case, and a refusal must stay cheap.
_SEARCH_LIMIT = 200_000


@dataclass(frozen=True)
class Located:
    start: int = 0
    end: int = 0
    error: tuple[str, str, str] | None = None  # (field, code, message)


def occurrences(body: str, quote: str) -> list[int]:
    """Start offsets of every match, overlapping ones included ("aa" occurs twice in "aaa")."""
    starts: list[int] = []
    at = body.find(quote)
    while at != -1:
        starts.append(at)
        at = body.find(quote, at + 1)
    return starts


def nearest_passage(body: str, quote: str) -> tuple[int, int]:
    """The span of ``body`` the writer most likely meant (a typo, other quotation marks, a changed
    word): anchored on the longest run they share, then stretched from the first to the last run of
    three or more characters they share near it, so a word of another length still lines up."""
    haystack = body[:_SEARCH_LIMIT]
    longest = difflib.SequenceMatcher(None, haystack, quote, autojunk=False).find_longest_match(
        0, len(haystack), 0, len(quote)
    )
    if not longest.size:
        return 0, min(len(body), len(quote))
    lo = max(0, longest.a - longest.b - len(quote))
    region = haystack[lo : longest.a - longest.b + 2 * len(quote)]
    blocks = [
        b for b in difflib.SequenceMatcher(None, region, quote, autojunk=False).get_matching_blocks() if b.size >= 3
    ]
    if not blocks:
        start = max(0, longest.a - longest.b)
        return start, min(len(body), start + len(quote))
    first, last = blocks[0], blocks[-1]
    start = max(0, lo + first.a - first.b)
    end = min(len(body), lo + last.a + last.size + (len(quote) - last.b - last.size))
    return start, max(end, start)


def locate(body: str, quote: str, occurrence: int | None) -> Located:
    starts = occurrences(body, quote)
    if not starts:
        start, end = nearest_passage(body, quote)
        return Located(
            error=(
                "quoteText",
                "QUOTE_NOT_FOUND",
                f"does not occur in the article body; the closest passage is [{start}, {end}): {body[start:end]!r}",
            )
        )
    if occurrence is None and len(starts) > 1:
        return Located(
            error=(
                "quoteText",
                "AMBIGUOUS_QUOTE",
                f"occurs {len(starts)} times in the article body (at {', '.join(map(str, starts[:10]))}); "
                f"say which with occurrence (1 to {len(starts)})",
            )
        )
    index = (occurrence or 1) - 1
    if index >= len(starts):
        return Located(
            error=("occurrence", "OUT_OF_RANGE", f"the quote occurs {len(starts)} time(s) in the article body")
        )
    return Located(start=starts[index], end=starts[index] + len(quote))
