"""What an aggregate read asks for — facets, a date histogram, bounded sums — validated against the
kind's declaration (db/analytics.py) by one set of functions for REST and GraphQL, so a refusal
reads the same on both. Each error names the parameter (``path``) the caller gave it as."""

from __future__ import annotations

import datetime as dt
import functools
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass

from db.analytics import DateField, Facet, GroupBy, SumField
from db.errors import BadUserInput, FieldError
from db.facts import FactType
from db.fields import INVALID, Checks, Path, timestamp

DEFAULT_FACET_SIZE = 10  # Elasticsearch's terms size
MAX_FACET_SIZE = 100
MAX_BUCKETS = 1_000
MAX_GROUPS = 100
# Calendar intervals (Elasticsearch's calendar_interval), finest first; ``hour`` only fits a
# timestamp: a calendar date has no hours.
INTERVALS = ("hour", "day", "week", "month", "quarter", "year")
_FINENESS = {name: n for n, name in enumerate(INTERVALS)}
# How precisely a date may be known, as the finest interval it fits in whole.
PRECISIONS = {"day": _FINENESS["day"], "month": _FINENESS["month"], "year": _FINENESS["year"]}


@dataclass(frozen=True)
class FacetAsk:
    """One facet in a response: under ``key`` (a GraphQL alias, else its name), its top ``first``."""

    key: str
    facet: Facet
    first: int = DEFAULT_FACET_SIZE


@dataclass(frozen=True)
class FacetsRequest:
    """``exclude_own``: count each facet without the filters that select by it (Elasticsearch's
    post_filter, for multi-select filter lists). ``labels``: relation buckets carry the related
    fact's name (REST); GraphQL reads the fact itself instead."""

    asks: tuple[FacetAsk, ...]
    exclude_own: bool = False
    labels: bool = False


@dataclass(frozen=True)
class HistogramRequest:
    """Calendar buckets of ``on`` in ``time_zone``; ``start``/``end`` bound the facts counted
    (start inclusive, end exclusive) and the zero-filled range."""

    on: DateField
    interval: str
    time_zone: str = "UTC"
    start: dt.datetime | None = None
    end: dt.datetime | None = None


@dataclass(frozen=True)
class SumsRequest:
    """Bounded sums of ``sums`` (response key, field), optionally grouped. ``flat`` puts each sum
    under its key beside ``totalCount`` (GraphQL's fields); otherwise sums sit in a ``sums`` object."""

    sums: tuple[tuple[str, SumField], ...]
    group_by: GroupBy | None = None
    flat: bool = False


def _refuse(errors: list[FieldError]) -> BadUserInput:
    return BadUserInput(f"{errors[0].path[-1]}: {errors[0].message}", errors=errors)


def facets_request(
    t: FactType, asks: list[tuple[str, str, int | None]], path: Path, *, exclude_own: bool, labels: bool
) -> FacetsRequest:
    """``asks``: (response key, facet name, first) each; an unknown facet or a ``first`` outside
    1..100 is refused naming ``path`` + the facet, or the facet's ``first``."""
    errors: list[FieldError] = []
    out = []
    names = ", ".join(f.name for f in t.analytics.facets) or "none"
    for key, name, first in asks:
        facet = t.analytics.facet(name)
        if facet is None:
            errors.append(FieldError(path, "UNKNOWN_FACET", f"{name!r} is not a facet of {t.table} (facets: {names})"))
            continue
        size = DEFAULT_FACET_SIZE if first is None else first
        if not 1 <= size <= MAX_FACET_SIZE:
            where = path if len(asks) == 1 and path[-1] == "first" else (*path, key, "first")
            errors.append(FieldError(where, "OUT_OF_RANGE", f"first must be between 1 and {MAX_FACET_SIZE}"))
            continue
        out.append(FacetAsk(key, facet, size))
    if errors:
        raise _refuse(errors)
    return FacetsRequest(tuple(out), exclude_own, labels)


@functools.cache
def time_zones() -> frozenset[str]:
    """IANA time zone names (Python's tz database, which tzdata ships when the system has none)."""
    return frozenset(zoneinfo.available_timezones())


def histogram_request(
    t: FactType,
    on: str,
    interval: str,
    time_zone: str | None,
    start: str | None,
    end: str | None,
    paths: Mapping[str, Path],
) -> HistogramRequest:
    """A histogram of ``on`` by ``interval``; ``paths`` names each parameter (on, interval,
    timeZone, from, to) as the caller's transport spells it."""
    errors: list[FieldError] = []
    field = t.analytics.date(on)
    if field is None:
        names = ", ".join(d.name for d in t.analytics.histogram_fields)
        errors.append(FieldError(paths["on"], "UNKNOWN_FIELD", f"{on!r} is not a date of {t.table} (dates: {names})"))
    if interval not in _FINENESS:
        errors.append(FieldError(paths["interval"], "INVALID_ENUM", f"must be one of: {', '.join(INTERVALS)}"))
    elif field is not None and interval == "hour" and not field.timestamp:
        errors.append(
            FieldError(
                paths["interval"],
                "INVALID_INTERVAL",
                f"{on} is a calendar date, which has no hours: use day or a coarser interval",
            )
        )
    zone = time_zone or "UTC"
    if zone not in time_zones():
        errors.append(
            FieldError(
                paths["timeZone"], "UNKNOWN_TIME_ZONE", f"{zone!r} is not an IANA time zone (e.g. Europe/Berlin)"
            )
        )
    bounds: list[dt.datetime | None] = []
    for name, raw in (("from", start), ("to", end)):
        if raw is None:
            bounds.append(None)
            continue
        checks = Checks()
        parsed = timestamp()(raw, paths[name], checks)
        errors.extend(checks.errors)
        moment = None if parsed is INVALID else dt.datetime.fromisoformat(parsed)
        if moment is not None and zone in time_zones() and not _in_calendar(moment, zone):
            errors.append(FieldError(paths[name], "OUT_OF_RANGE", _OUT_OF_CALENDAR.format(zone=zone)))
            moment = None
        bounds.append(moment)
    low, high = bounds
    if low is not None and high is not None and low >= high:
        errors.append(FieldError(paths["to"], "INVALID_RANGE", "must be later than from"))
    if errors:
        raise _refuse(errors)
    assert field is not None
    request = HistogramRequest(field, interval, zone, low, high)
    if low is not None and high is not None:
        count = bucket_count(request, low, high)
        if count > MAX_BUCKETS:
            raise _refuse([FieldError(paths["interval"], "TOO_MANY_BUCKETS", too_many(count, interval))])
    return request


# A bound's buckets start and end within the years Python's dates (and so the bucket arithmetic
# and the answer's keys) can hold: year 1 in Asia/Tokyo begins in year 0 in UTC, and a year's
# bucket of 9999 ends in 10000.
_OUT_OF_CALENDAR = "must fall between the years 2 and 9998 in the time zone {zone}"


def _in_calendar(moment: dt.datetime, zone: str) -> bool:
    try:
        return 2 <= moment.astimezone(zoneinfo.ZoneInfo(zone)).year <= 9998
    except OverflowError:
        return False


def too_many(count: int, interval: str) -> str:
    return (
        f"the histogram would have {count:,} buckets of a {interval}, more than {MAX_BUCKETS:,} allowed:"
        " use a coarser interval or a shorter from/to"
    )


def _key(moment: dt.datetime, interval: str, zone: zoneinfo.ZoneInfo) -> int:
    """The ordinal of the bucket holding ``moment`` (consecutive buckets differ by one)."""
    if interval == "hour":
        return int(moment.timestamp() // 3600)  # every zone's offset today is whole hours or a
        # whole number of 15 minutes; this count errs by at most one bucket for the latter
    local = moment.astimezone(zone)
    day = local.date()
    if interval == "day":
        return day.toordinal()
    if interval == "week":
        return (day.toordinal() - day.weekday()) // 7
    if interval == "month":
        return day.year * 12 + day.month - 1
    if interval == "quarter":
        return day.year * 4 + (day.month - 1) // 3
    return day.year


def bucket_count(request: HistogramRequest, start: dt.datetime, end: dt.datetime) -> int:
    """How many buckets [start, end) spans (``end`` exclusive) in the request's time zone."""
    zone = zoneinfo.ZoneInfo(request.time_zone)
    last = end - dt.timedelta(microseconds=1)
    return _key(last, request.interval, zone) - _key(start, request.interval, zone) + 1


def sums_request(
    t: FactType, sums: list[tuple[str, str]], group_by: str | None, paths: Mapping[str, Path], *, flat: bool
) -> SumsRequest:
    """``sums``: (response key, field) each; ``paths`` names the ``sum`` and ``groupBy`` parameters."""
    errors: list[FieldError] = []
    chosen = []
    names = ", ".join(s.name for s in t.analytics.sums) or "none"
    for key, name in sums:
        found = t.analytics.sum(name)
        if found is None:
            errors.append(FieldError(paths["sum"], "UNKNOWN_FIELD", f"{name!r} cannot be summed (quantities: {names})"))
        else:
            chosen.append((key, found))
    group = None
    if group_by is not None:
        group = t.analytics.group(group_by)
        if group is None:
            groups = ", ".join(g.name for g in t.analytics.groups) or "none"
            errors.append(
                FieldError(paths["groupBy"], "UNKNOWN_FIELD", f"{group_by!r} is not a grouping (groupBy: {groups})")
            )
    if errors:
        raise _refuse(errors)
    return SumsRequest(tuple(chosen), group, flat)


__all__ = [
    "DEFAULT_FACET_SIZE",
    "INTERVALS",
    "MAX_BUCKETS",
    "MAX_FACET_SIZE",
    "MAX_GROUPS",
    "PRECISIONS",
    "FacetAsk",
    "FacetsRequest",
    "HistogramRequest",
    "SumsRequest",
    "bucket_count",
    "facets_request",
    "histogram_request",
    "sums_request",
    "time_zones",
]
