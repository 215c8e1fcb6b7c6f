"""The planner's aggregate statements (db/plan/aggregates.py) on real PostgreSQL: bounded sums by
the interval arithmetic of every approximation (and, with hypothesis, low <= best <= high whenever
high is closed, and groups that add up to the whole), calendar buckets across daylight-saving
changes in two time zones, imprecise dates, and the map filters across the antimeridian and by
distance. Facts are written through the write service; each test selects only its own."""

from __future__ import annotations

import asyncio
import random
import string
from decimal import Decimal
from typing import Any

import asyncpg
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from db import aggregates, queries, writes
from db.lens import FULL
from db.plan.sql import aggregate_statement
from db.pool import connect
from db.registry import fact_type
from tests.factories import make_actor, make_article, make_claim

pytestmark = pytest.mark.anyio
INCIDENT = fact_type("incident")
PATHS: dict[str, tuple[str | int, ...]] = {
    n: (n,) for n in ("on", "interval", "timeZone", "from", "to", "sum", "groupBy")
}


async def _aggregate(conn: asyncpg.Connection[Any], kind: str, what: str, request: Any, filters: dict[str, Any]) -> Any:
    sql, values = aggregate_statement(kind, what, request, filters, FULL)
    return orjson.loads(await conn.fetchval(sql, *values))


async def _incident(conn: asyncpg.Connection[Any], kind: str, **fields: Any) -> dict[str, Any]:
    return await writes.create(conn, "incident", {"incidentType": kind, **fields}, changed_by="test")


def _word(prefix: str) -> str:
    """A fresh lowercase word: an incident type (camelCase letters) and a full-text token at once."""
    return prefix + "".join(random.choices(string.ascii_lowercase, k=10))


def _sums(group_by: str | None = None) -> aggregates.SumsRequest:
    return aggregates.sums_request(INCIDENT, [("fatalities", "fatalities")], group_by, PATHS, flat=False)


# ---- the interval arithmetic -------------------------------------------------------------------


# The table of docs/analytics/sums.md ("Sums that keep their uncertainty"), written out again independently.
def _bounds(q: dict[str, Any] | None) -> tuple[Decimal, Decimal, Decimal | None, bool]:
    """(low, best, high or None when open, unknown) of one quantity."""

    def d(key: str) -> Decimal | None:
        value = (q or {}).get(key)
        return None if value is None else Decimal(str(value))

    kind = (q or {}).get("approximation")
    amount, lower, upper = d("amount"), d("lowerBound"), d("upperBound")
    if kind == "exact":
        assert amount is not None
        return amount, amount, amount, False
    if kind == "approximately":
        assert amount is not None
        return lower if lower is not None else amount, amount, upper if upper is not None else amount, False
    if kind == "atLeast":
        assert lower is not None
        return lower, lower, None, False
    if kind == "atMost":
        assert upper is not None
        return lower or Decimal(0), upper, upper, False
    if kind == "range":
        assert lower is not None and upper is not None
        return lower, amount if amount is not None else lower, upper, False
    return Decimal(0), Decimal(0), None, True


def _expected(quantities: list[dict[str, Any] | None]) -> dict[str | None, dict[str, Any]]:
    out: dict[str | None, dict[str, Any]] = {}
    for q in quantities:
        low, best, high, unknown = _bounds(q)
        unit = (q or {}).get("unit")
        s = out.setdefault(
            unit, {"count": 0, "low": Decimal(0), "best": Decimal(0), "high": Decimal(0), "open": 0, "unknown": 0}
        )
        s["count"] += 1
        s["low"] += low
        s["best"] += best
        s["open"] += high is None
        s["unknown"] += unknown
        s["high"] = None if high is None or s["high"] is None else s["high"] + high
    return out


def _by_unit(sums: list[dict[str, Any]]) -> dict[str | None, dict[str, Any]]:
    return {
        s["unit"]: {
            "count": s["count"],
            "low": Decimal(str(s["low"])),
            "best": Decimal(str(s["best"])),
            "high": None if s["high"] is None else Decimal(str(s["high"])),
            "open": s["openUpper"],
            "unknown": s["unknown"],
        }
        for s in sums
    }


EVERY_KIND = [
    {"amount": 16, "approximation": "exact", "unit": "people"},
    {"amount": 10000, "approximation": "approximately", "unit": "people"},
    {"amount": 50, "lowerBound": 40, "upperBound": 60, "approximation": "approximately", "unit": "people"},
    {"lowerBound": 65, "approximation": "atLeast", "unit": "people"},
    {"upperBound": 12, "approximation": "atMost", "unit": "people"},
    {"lowerBound": 3, "upperBound": 9, "approximation": "range", "unit": "people"},
    {"lowerBound": 3, "upperBound": 9, "amount": 5, "approximation": "range", "unit": "people"},
    {"approximation": "unspecified", "unit": "people"},
    None,
    {"amount": 2, "approximation": "exact", "unit": "boats"},
]


async def test_every_approximation_adds_up_by_its_row_of_the_table(conn: asyncpg.Connection[Any]) -> None:
    kind = _word("k")
    for q in EVERY_KIND:
        await _incident(conn, kind, **({"fatalities": q} if q else {}))
    doc = await _aggregate(conn, "incident", "sums", _sums(), {"incidentType": kind})
    assert doc["totalCount"] == len(EVERY_KIND)
    by_unit = {s["unit"]: s for s in doc["sums"]["fatalities"]}
    people, boats, none = by_unit["people"], by_unit["boats"], by_unit[None]
    # exact 16; ~10000; ~50 in [40, 60]; >= 65; <= 12; 3..9; 3..9 about 5; unspecified.
    assert (people["low"], people["best"], people["high"]) == (10127, 10151, None)
    assert (people["count"], people["openUpper"], people["unknown"]) == (8, 2, 1)
    assert (boats["low"], boats["best"], boats["high"], boats["openUpper"]) == (2, 2, 2, 0)
    assert (none["count"], none["low"], none["best"], none["high"], none["unknown"]) == (1, 0, 0, None, 1)
    # Two of the people were counted approximately: their total reads "≈"; the boats' does not.
    assert (people["approximate"], boats["approximate"], none["approximate"]) == (True, False, False)
    assert _by_unit(doc["sums"]["fatalities"]) == _expected(EVERY_KIND)


async def test_a_closed_sum_has_a_high_and_units_are_never_added(conn: asyncpg.Connection[Any]) -> None:
    kind = _word("k")
    await _incident(conn, kind, fatalities={"amount": 3, "approximation": "exact", "unit": "people"})
    await _incident(
        conn, kind, fatalities={"lowerBound": 1, "upperBound": 2, "approximation": "range", "unit": "people"}
    )
    await _incident(conn, kind, fatalities={"amount": 7, "approximation": "exact", "unit": "soldiers"})
    doc = await _aggregate(conn, "incident", "sums", _sums(), {"incidentType": kind})
    assert [(s["unit"], s["low"], s["best"], s["high"]) for s in doc["sums"]["fatalities"]] == [
        ("people", 4, 4, 5),
        ("soldiers", 7, 7, 7),
    ]


UNITS = st.sampled_from(["people", "boats", None])
SIZE = st.integers(min_value=0, max_value=1000).map(lambda n: n / 2)  # halves: exact in binary and decimal


@st.composite
def quantity(draw: st.DrawFn) -> dict[str, Any] | None:
    kind = draw(st.sampled_from(["exact", "approximately", "atLeast", "atMost", "range", "unspecified", None]))
    unit = draw(UNITS)
    if kind is None:
        return None
    q: dict[str, Any] = {"approximation": kind, "unit": unit}
    a, b = sorted((draw(SIZE), draw(SIZE)))
    if kind in ("exact", "approximately"):
        q["amount"] = draw(SIZE)
        if kind == "approximately" and draw(st.booleans()):
            q["lowerBound"], q["upperBound"] = min(a, q["amount"]), max(b, q["amount"])
    elif kind == "atLeast":
        q["lowerBound"] = a
    elif kind == "atMost":
        q["upperBound"] = b
    elif kind == "range":
        q["lowerBound"], q["upperBound"] = a, b
        if draw(st.booleans()):
            q["amount"] = (a + b) / 2
    return {k: v for k, v in q.items() if v is not None}


def _add(parts: list[dict[str | None, dict[str, Any]]]) -> dict[str | None, dict[str, Any]]:
    out: dict[str | None, dict[str, Any]] = {}
    for part in parts:
        for unit, s in part.items():
            g = out.setdefault(unit, {"count": 0, "low": 0, "best": 0, "high": Decimal(0), "open": 0, "unknown": 0})
            for key in ("count", "low", "best", "open", "unknown"):
                g[key] += s[key]
            g["high"] = None if s["high"] is None or g["high"] is None else g["high"] + s["high"]
    return out


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(quantity(), st.sampled_from(["a", "b", "c"])), min_size=1, max_size=6))
def test_bounded_sums_hold_their_order_and_groups_add_up(database_url: str, facts: list[tuple[Any, str]]) -> None:
    async def check() -> None:
        conn = await connect(database_url)
        tx = conn.transaction()
        await tx.start()
        try:
            word = _word("zq")  # selects this example's incidents by full text
            for q, group in facts:
                await _incident(conn, f"{word}{group.upper()}", description=word, **({"fatalities": q} if q else {}))
            doc = await _aggregate(conn, "incident", "sums", _sums("incidentType"), {"query": word})
            whole = _by_unit(doc["sums"]["fatalities"])
            assert whole == _expected([q for q, _ in facts])
            for s in whole.values():
                assert s["low"] <= s["best"] and (s["high"] is None or s["best"] <= s["high"])
            assert doc["totalCount"] == len(facts) == sum(g["totalCount"] for g in doc["groups"])
            assert _add([_by_unit(g["sums"]["fatalities"]) for g in doc["groups"]]) == whole
        finally:
            await tx.rollback()
            await conn.close()

    asyncio.run(check())


async def test_groups_of_one_statement_add_up_to_its_whole(conn: asyncpg.Connection[Any]) -> None:
    word = _word("zq")
    for n, q in enumerate(EVERY_KIND):
        await _incident(conn, f"{word}{'ABC'[n % 3]}", description=word, **({"fatalities": q} if q else {}))
    doc = await _aggregate(conn, "incident", "sums", _sums("incidentType"), {"query": word})
    assert sorted(g["key"] for g in doc["groups"]) == [f"{word}{c}" for c in "ABC"]
    assert _add([_by_unit(g["sums"]["fatalities"]) for g in doc["groups"]]) == _expected(EVERY_KIND)
    assert _by_unit(doc["sums"]["fatalities"]) == _expected(EVERY_KIND)


async def test_counts_without_a_sum_of_one_row_per_fact_count_every_fact_once(conn: asyncpg.Connection[Any]) -> None:
    # Assets are not one row per fact: a deployment with none, or with two, is still one fact in
    # the total and in its status group, and one in each asset type's group it has an asset in.
    deployer = (await make_actor(conn))["id"]
    troops = {"assetType": "troops", "quantity": {"amount": 100, "approximation": "exact", "unit": "personnel"}}
    ships = {"assetType": "warship", "quantity": {"amount": 2, "approximation": "exact", "unit": "ships"}}
    for status, assets in (("announced", [troops, ships]), ("announced", []), ("active", [{"assetType": "troops"}])):
        await writes.create(
            conn, "deployment", {"deployer": deployer, "status": status, "assets": assets}, changed_by="test"
        )
    t = fact_type("deployment")
    paths = {"sum": ("sum",), "groupBy": ("groupBy",)}
    by_status = await _aggregate(
        conn, "deployment", "sums", aggregates.sums_request(t, [], "status", paths, flat=False), {"deployer": deployer}
    )
    assert by_status["totalCount"] == 3
    assert [(g["key"], g["totalCount"]) for g in by_status["groups"]] == [("announced", 2), ("active", 1)]
    by_type = await _aggregate(
        conn,
        "deployment",
        "sums",
        aggregates.sums_request(t, [("assets", "assets")], "assetType", paths, flat=False),
        {"deployer": deployer},
    )
    assert by_type["totalCount"] == 3
    assert [(g["key"], g["totalCount"]) for g in by_type["groups"]] == [("troops", 2), ("warship", 1)]
    assert [(s["unit"], s["count"], s["unknown"]) for s in by_type["sums"]["assets"]] == [
        ("personnel", 1, 0),
        ("ships", 1, 0),
        (None, 1, 1),
    ]
    # Incidents grouped with no sum asked: the facts' counts alone.
    kind = _word("k")
    for _ in range(2):
        await _incident(conn, kind)
    alone = aggregates.sums_request(INCIDENT, [], "incidentType", PATHS, flat=False)
    doc = await _aggregate(conn, "incident", "sums", alone, {"incidentType": kind})
    assert (doc["totalCount"], doc["sums"], [(g["key"], g["totalCount"]) for g in doc["groups"]]) == (
        2,
        {},
        [(kind, 2)],
    )


# ---- calendar histograms -------------------------------------------------------------------------


async def _histogram(
    conn: asyncpg.Connection[Any], kind: str, on: str, interval: str, tz: str, filters: dict[str, Any]
) -> dict[str, Any]:
    request = aggregates.histogram_request(fact_type(kind), on, interval, tz, None, None, PATHS)
    doc: dict[str, Any] = await _aggregate(conn, kind, "histogram", request, filters)
    return doc


async def _published(conn: asyncpg.Connection[Any], *times: str) -> dict[str, Any]:
    outlet = await make_actor(conn, kind="mediaOutlet")
    for at in times:
        await make_article(conn, outlet=outlet["id"], publishedAt=at)
    return {"outlet": outlet["id"]}


async def test_weeks_start_on_monday_in_the_zone_across_the_spring_change(conn: asyncpg.Connection[Any]) -> None:
    # Berlin moves to +02:00 on Sunday 30 March 2025. 22:30Z on the 30th is already Monday there.
    only = await _published(conn, "2025-03-29T22:30:00Z", "2025-03-30T22:30:00Z")
    berlin = await _histogram(conn, "article", "publishedAt", "week", "Europe/Berlin", only)
    assert berlin["buckets"] == [
        {"start": "2025-03-24T00:00:00+01:00", "end": "2025-03-31T00:00:00+02:00", "count": 1},
        {"start": "2025-03-31T00:00:00+02:00", "end": "2025-04-07T00:00:00+02:00", "count": 1},
    ]
    utc = await _histogram(conn, "article", "publishedAt", "week", "UTC", only)
    assert utc["buckets"] == [{"start": "2025-03-24T00:00:00Z", "end": "2025-03-31T00:00:00Z", "count": 2}]


async def test_months_and_days_follow_the_zone_across_the_autumn_change(conn: asyncpg.Connection[Any]) -> None:
    # New York goes back to -05:00 on 2 November 2025: November's bucket starts at -04:00, ends at -05:00.
    only = await _published(conn, "2025-11-01T03:30:00Z", "2025-11-01T04:30:00Z", "2025-12-15T12:00:00Z")
    ny = await _histogram(conn, "article", "publishedAt", "month", "America/New_York", only)
    assert ny["buckets"] == [
        {"start": "2025-10-01T00:00:00-04:00", "end": "2025-11-01T00:00:00-04:00", "count": 1},
        {"start": "2025-11-01T00:00:00-04:00", "end": "2025-12-01T00:00:00-05:00", "count": 1},
        {"start": "2025-12-01T00:00:00-05:00", "end": "2026-01-01T00:00:00-05:00", "count": 1},
    ]
    # Berlin's 26 October 2025 lasts 25 hours: 22:30Z is still that day there (23:30 +01:00).
    day = await _published(conn, "2025-10-25T22:30:00Z", "2025-10-26T22:30:00Z")
    berlin = await _histogram(conn, "article", "publishedAt", "day", "Europe/Berlin", day)
    assert berlin["buckets"] == [{"start": "2025-10-26T00:00:00+02:00", "end": "2025-10-27T00:00:00+01:00", "count": 2}]


async def test_the_hour_repeated_when_clocks_go_back_is_two_buckets(conn: asyncpg.Connection[Any]) -> None:
    only = await _published(conn, "2025-11-02T05:30:00Z", "2025-11-02T06:30:00Z")
    ny = await _histogram(conn, "article", "publishedAt", "hour", "America/New_York", only)
    assert ny["buckets"] == [
        {"start": "2025-11-02T01:00:00-04:00", "end": "2025-11-02T01:00:00-05:00", "count": 1},
        {"start": "2025-11-02T01:00:00-05:00", "end": "2025-11-02T02:00:00-05:00", "count": 1},
    ]


async def test_buckets_are_zero_filled_and_imprecise_dates_counted_apart(conn: asyncpg.Connection[Any]) -> None:
    speaker = await make_actor(conn)
    article = await make_article(conn)
    for date, precision in (
        ("2025-03-02", "day"),
        ("2025-03-01", "month"),
        ("2025-01-01", "year"),
        ("2025-05-20", "day"),
    ):
        await make_claim(conn, article, speaker=speaker["id"], claimDate=date, claimDatePrecision=precision)
    await make_claim(conn, article, speaker=speaker["id"])  # undated
    only = {"speaker": speaker["id"]}
    months = await _histogram(conn, "claim", "claimDate", "month", "Europe/Berlin", only)
    assert [(b["start"][:10], b["count"]) for b in months["buckets"]] == [
        ("2025-03-01", 2), ("2025-04-01", 0), ("2025-05-01", 1),
    ]  # fmt: skip
    assert (months["imprecise"], months["missingCount"]) == (1, 1)  # the year-precise one; the undated one
    days = await _histogram(conn, "claim", "claimDate", "day", "UTC", only)
    assert days["imprecise"] == 2 and sum(b["count"] for b in days["buckets"]) == 2
    assert len(days["buckets"]) == (31 - 2 + 1) + 30 + 20  # 2 March to 20 May, every day
    years = await _histogram(conn, "claim", "claimDate", "year", "UTC", only)
    assert (years["buckets"], years["imprecise"]) == (
        [{"start": "2025-01-01T00:00:00Z", "end": "2026-01-01T00:00:00Z", "count": 4}],
        0,
    )


async def test_a_span_of_more_than_a_thousand_buckets_is_refused(conn: asyncpg.Connection[Any]) -> None:
    speaker = await make_actor(conn)
    article = await make_article(conn)
    for date in ("1990-01-01", "2025-01-01"):
        await make_claim(conn, article, speaker=speaker["id"], claimDate=date)
    request = aggregates.histogram_request(fact_type("claim"), "claimDate", "day", "UTC", None, None, PATHS)
    sql, values = aggregate_statement("claim", "histogram", request, {"speaker": speaker["id"]}, FULL)
    with pytest.raises(asyncpg.PostgresError) as caught:
        await conn.fetchval(sql, *values)
    assert caught.value.sqlstate == "NFA01"
    assert "12,785" in str(caught.value) or "12785" in str(caught.value)


# ---- map filters -----------------------------------------------------------------------------------


async def _located(conn: asyncpg.Connection[Any], kind: str, lon: float, lat: float) -> str:
    doc = await _incident(
        conn, kind, location={"name": f"{lon},{lat}", "geojson": {"type": "Point", "coordinates": [lon, lat]}}
    )
    return str(doc["id"])


async def _ids(
    conn: asyncpg.Connection[Any], filters: dict[str, Any], order: str = "createdAt", desc: bool = False
) -> list[str]:
    parsed = queries.parse_filters(INCIDENT, filters)
    page = await queries.list_page(conn, "incident", parsed, queries.PageRequest(50, None, order, desc), lens=FULL)
    return [d["id"] for d in page.docs]


async def test_a_bbox_across_the_antimeridian_finds_both_sides(conn: asyncpg.Connection[Any]) -> None:
    kind = _word("m")
    fiji, samoa, greenwich = [
        await _located(conn, kind, lon, lat) for lon, lat in ((178.4, -18.1), (-171.8, -13.8), (0.0, 51.5))
    ]
    polygon = await _incident(
        conn, kind,
        location={"name": "a box", "geojson": {"type": "Polygon", "coordinates": [[[170, 0], [175, 0], [175, 5], [170, 0]]]}},
    )  # fmt: skip
    assert set(await _ids(conn, {"incidentType": kind, "bbox": "170,-30,-170,30"})) == {fiji, samoa, polygon["id"]}
    assert set(await _ids(conn, {"incidentType": kind, "bbox": [-180, 40, 10, 60]})) == {greenwich}
    # The polygon's box meets this one, but the triangle does not: the exact test leaves it out.
    assert await _ids(conn, {"incidentType": kind, "bbox": "170.5,3,171.5,4.5"}) == []


async def test_near_orders_by_great_circle_distance(conn: asyncpg.Connection[Any]) -> None:
    kind = _word("n")
    far, near, middle = [await _located(conn, kind, lon, 0.0) for lon in (3.0, 1.0, 2.0)]
    await _located(conn, kind, 10.0, 0.0)  # outside the radius
    across = await _located(conn, kind, -179.5, 0.0)
    within = {"incidentType": kind, "near": "0,0,400"}
    assert await _ids(conn, within, "distance") == [near, middle, far]
    assert await _ids(conn, within, "distance", desc=True) == [far, middle, near]
    parsed = queries.parse_filters(INCIDENT, within)
    page = await queries.list_page(conn, "incident", parsed, queries.PageRequest(10, None, "distance"), lens=FULL)
    assert [round(d["distanceKm"]) for d in page.docs] == [111, 222, 334]
    # A circle across the antimeridian.
    assert await _ids(conn, {"incidentType": kind, "near": "179.5,0,120"}, "distance") == [across]
