"""Quantities in running text: digits or number words ("eleven", "two hundred thousand", via
text2num), vague counts ("dozens of"), fractions, money and percentages, with the approximation
words before them and the noun they count after them. Years, ages and the word "one" are left out."""

from __future__ import annotations

import re
from dataclasses import dataclass

from text_to_num import text2num

_UNITS = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety"
)
_SCALES = "hundred thousand million billion trillion"
_NUMBER_WORD = rf"(?:{'|'.join(_UNITS.split())})(?:-(?:{'|'.join(_UNITS.split()[1:10])}))?"
_WORDS = rf"{_NUMBER_WORD}(?:(?:\s+and)?\s+(?:{_NUMBER_WORD}|{'|'.join(_SCALES.split())}))*"
_DIGITS = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
_SCALE = rf"(?:\s+(?:{'|'.join(_SCALES.split()[1:])}|bn|mn))?"
_MONEY = r"[$€£]"
_NUMBER = rf"(?:{_MONEY}\s?)?(?:{_DIGITS}){_SCALE}|(?:{_WORDS})"
_VAGUE = {"dozens": 24, "scores": 40, "hundreds": 200, "thousands": 2000, "millions": 2_000_000}
_FRACTIONS = {
    "half": 0.5,
    "a half": 0.5,
    "a third": 0.333,
    "one third": 0.333,
    "two thirds": 0.667,
    "a quarter": 0.25,
    "one quarter": 0.25,
    "three quarters": 0.75,
}
_FRACTION = "|".join(sorted((re.escape(f) for f in _FRACTIONS), key=len, reverse=True))

# Words before a number, longest first, and the approximation they mean.
_APPROXIMATIONS = {
    "about": "approximately",
    "around": "approximately",
    "roughly": "approximately",
    "approximately": "approximately",
    "some": "approximately",
    "nearly": "approximately",
    "almost": "approximately",
    "an estimated": "approximately",
    "close to": "approximately",
    "at least": "atLeast",
    "more than": "atLeast",
    "over": "atLeast",
    "no fewer than": "atLeast",
    "upwards of": "atLeast",
    "up to": "atMost",
    "as many as": "atMost",
    "fewer than": "atMost",
    "less than": "atMost",
    "no more than": "atMost",
    "at most": "atMost",
    "under": "atMost",
    "within": "atMost",
}
_APPROX = "|".join(sorted((re.escape(a) for a in _APPROXIMATIONS), key=len, reverse=True))

_PATTERN = re.compile(
    rf"""(?ix)
    (?<![\w$€£.,-])
    (?:
      between\s+(?P<lo>{_NUMBER})\s+and\s+(?P<hi>{_NUMBER})
    | (?:(?P<approx>{_APPROX})\s+)?
      (?:
        (?P<vague>dozens|scores|hundreds|thousands|millions)(?=\s+of\b|\s+\w+ing\b|\s+missing\b)
      | (?P<fraction>{_FRACTION})(?=\s)
      | (?P<number>{_NUMBER})
      )
    )
    (?:\s?(?P<percent>%|percent\b|per\s+cent\b))?
    (?![\w])
    """
)
_AGE = re.compile(r"\s*-year-old|\s*-years?-old|\s+years?\s+old", re.I)
_YEAR = re.compile(r"1[89]\d\d|20\d\d")
_MONTHS = re.compile(r"(?i)(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+$")
# Nouns that count without a plural -s.
_INVARIANT = frozenset(
    "people aircraft personnel police staff children men women crew livestock cattle fish sheep "
    "percent equipment troops".split()
)
_STOP = frozenset(
    "of in on at to for from by with a an the and or were was is are have has had be been will would "
    "could can may might that which who whom this these those more less since ago last next per each "
    "than as over under into their his her its they them said but not only so while after before "
    "during including about around long old wide high deep tall away".split()
)
_MODIFIERS = frozenset("such additional other more new extra further".split())
_DETERMINERS = frozenset("the her his their its our your those these".split())
_UNIT_WORD = re.compile(r"[a-z][a-z’'-]*")


@dataclass(frozen=True)
class Quantity:
    start: int
    end: int
    approximation: str
    amount: float | None = None
    lower_bound: float | None = None
    upper_bound: float | None = None
    unit: str | None = None

    def as_dict(self, text: str) -> dict[str, object]:
        return {
            "amount": self.amount,
            "lowerBound": self.lower_bound,
            "upperBound": self.upper_bound,
            "approximation": self.approximation,
            "unit": self.unit,
            "originalText": text[self.start : self.end],
        }


def _value(expression: str) -> tuple[float | None, bool]:
    """The number an expression says, and whether it is money."""
    raw = expression.strip()
    money = raw[:1] in "$€£"
    raw = raw.lstrip("$€£ ").lower()
    scale = 1
    for word, factor in (
        ("trillion", 10**12),
        ("billion", 10**9),
        ("bn", 10**9),
        ("million", 10**6),
        ("mn", 10**6),
    ):
        if raw.endswith(" " + word) and raw[0].isdigit():
            scale, raw = factor, raw[: -len(word) - 1]
            break
    if raw[:1].isdigit():
        try:
            number = float(raw.replace(",", "")) * scale
        except ValueError:
            return None, money
    else:
        try:
            number = float(text2num(re.sub(r"\s+", " ", raw), "en"))
        except ValueError:
            return None, money
    return (int(number) if number.is_integer() else number), money


def _unit(text: str, at: int, limit: int) -> tuple[str | None, int]:
    """The noun counted after a number ending at ``at``: up to three words, ending at the first
    plural noun (or "and" another), and where it ends."""
    pos = at
    taken: list[tuple[str, int]] = []
    of_phrase = False
    while len(taken) < 4 and pos < limit:
        m = re.compile(r"\s+([^\s,.;:!?()\"“”]+)").match(text, pos)
        if not m:
            break
        word = m.group(1)
        lower = word.lower()
        if lower == "of" and not taken and not of_phrase:
            # "dozens of people", "ten of her patients" — not "four of the nine villages"
            after = re.compile(r"\s+of\s+(?:(the|her|his|their|its|our|those|these)\s+)?([a-z][\w’'-]*)").match(
                text, pos
            )
            if not after or after.group(2) in ("them", "us", "those", "these") or _PATTERN.match(text, after.start(2)):
                break
            pos = after.start(2) - 1
            of_phrase = True
            continue
        if (
            lower in _STOP
            or not _UNIT_WORD.fullmatch(word)
            or (lower.endswith(("ing", "ed")) and lower not in _INVARIANT)
        ):
            break
        taken.append((word, m.end()))
        pos = m.end()
        if lower in _INVARIANT or (lower.endswith("s") and not lower.endswith("ss")):
            following = re.compile(r"\s+and\s+([a-z]+s)\b(?!\s+of\b)").match(text, pos)
            if following and following.group(1) not in _STOP:
                taken.append(("and " + following.group(1), following.end()))
                pos = following.end()
            break
    else:
        return None, at
    if not taken:
        return None, at
    last = taken[-1][0].lower().removeprefix("and ")
    if not (last in _INVARIANT or (last.endswith("s") and not last.endswith("ss"))):
        return None, at
    words = [w for w, _ in taken if w.lower() not in _MODIFIERS]
    return " ".join(words) or None, taken[-1][1]


def find(text: str, start: int = 0, end: int | None = None) -> list[Quantity]:
    end = len(text) if end is None else end
    out: list[Quantity] = []
    for m in _PATTERN.finditer(text, start, end):
        q = _quantity(text, m, end)
        if q is not None:
            out.append(q)
    return out


def _quantity(text: str, m: re.Match[str], limit: int) -> Quantity | None:
    approx_word = (m.group("approx") or "").lower()
    approximation = _APPROXIMATIONS.get(re.sub(r"\s+", " ", approx_word), "exact")
    number = m.group("number")
    money = False
    amount = low = high = None
    if m.group("lo"):
        low, money = _value(m.group("lo"))
        high, money_hi = _value(m.group("hi"))
        money = money or money_hi
        if low is None or high is None or low > high:
            return None
        approximation = "range"
    elif m.group("vague"):
        low = _VAGUE[m.group("vague").lower()]
        approximation = "atLeast"
    elif m.group("fraction"):
        fraction = _FRACTIONS[re.sub(r"\s+", " ", m.group("fraction").lower())]
        if fraction == 0.5 and not re.compile(r"\s+an?\s+[a-z]+").match(text, m.end()):
            return None  # "half" alone is rarely a count
        amount = fraction
    else:
        assert number is not None
        lower = number.lower()
        if lower in ("one", "zero") or (
            re.fullmatch(r"[a-z]+", lower) and text[m.start("number") - 1 : m.start("number")] == "-"
        ):
            return None
        if _AGE.match(text, m.end()) or _MONTHS.search(text[max(0, m.start() - 10) : m.start()]):
            return None
        if _YEAR.fullmatch(number) and not m.group("approx"):
            return None
        if (
            re.fullmatch(r"\d{1,3}", number)
            and re.search(r"[A-ZÀ-Þ][\w’'-]+,\s*$", text[max(0, m.start() - 30) : m.start()])
            and text[m.end() : m.end() + 1] == ","
        ):
            return None  # "Gladys Contreras, 61, who …": an age
        amount, money = _value(number)
        if amount is None:
            return None
    end = m.end()
    if m.group("fraction") and m.group("fraction").lower() == "half":
        article = re.compile(r"\s+an?\s+([a-z]+)").match(text, end)
        assert article is not None
        return _make(m.start(), article.end(), approximation, amount, low, high, article.group(1))
    if m.group("percent"):
        unit: str | None = "percent"
    elif money:
        unit = "USD" if "$" in m.group(0) else "EUR" if "€" in m.group(0) else "GBP"
    else:
        unit, end = _unit(text, end, limit)
    return _make(m.start(), end, approximation, amount, low, high, unit)


def _make(
    start: int,
    end: int,
    approximation: str,
    amount: float | None,
    low: float | None,
    high: float | None,
    unit: str | None,
) -> Quantity:
    if approximation in ("atLeast",) and low is None:
        low, amount = amount, None
    elif approximation == "atMost" and high is None:
        high, amount = amount, None
    return Quantity(start, end, approximation, amount, low, high, unit)
