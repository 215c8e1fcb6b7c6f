"""The facet counts kept by triggers (db/migrations/0018_facet_rollup.sql) against the GROUP BY path
they stand in for: after every step of a scripted series of writes — bulk load, create, correct,
retract, withhold and release an article, delete, fold — every declared facet of every kind, in
the full lens and under the recall rules, answers the same from both; and so does every calendar
date's histogram (0019's per-day counts), in every interval, in zones with odd offsets and
daylight saving, with and without from/to: the same bytes. And writers do not wait for each other
on a counter, nor lose a count to a fold running beside them."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import orjson
import pytest

from db import aggregates, bulk, generate, writes
from db.lens import FULL, Lens
from db.plan import aggregates as plan_aggregates
from db.plan.aggregates import RowSet
from db.plan.sql import Statement, aggregate_statement
from db.pool import connect
from db.queries import parse_filters
from db.registry import FACT_TYPES
from tests.factories import make_actor, make_article, make_claim, quote_ref

pytestmark = pytest.mark.anyio

PUBLIC = Lens(None, public=True)
LENSES = {"full": FULL, "public": PUBLIC}
KINDS = [t.kind for t in FACT_TYPES.values() if t.analytics.facets]
SUM_KINDS = [t.kind for t in FACT_TYPES.values() if t.analytics.sums]
# Every calendar date a histogram buckets by (timestamps count the facts: a zone decides their day).
DATES = [(t.kind, d.name) for t in FACT_TYPES.values() for d in t.analytics.histogram_fields if not d.timestamp]
INTERVALS = ("day", "week", "month", "quarter", "year")
# (timeZone, from, to): the zones' offsets show in the bucket ends; from/to bound the counted days.
ZONES = (
    ("UTC", None, None),
    ("America/St_Johns", None, None),
    ("Europe/Berlin", "2025-03-01T00:00:00+01:00", "2025-11-01T00:00:00+01:00"),
)


def _request(kind: str, first: int) -> aggregates.FacetsRequest:
    t = FACT_TYPES[kind]
    asks = [(f.name, f.name, first) for f in t.analytics.facets]
    return aggregates.facets_request(t, asks, ("facet",), exclude_own=False, labels=True)


async def _rollup(conn: asyncpg.Connection[Any], kind: str, lens: Lens, first: int) -> Any:
    """What the planner answers for the whole table: from the kept counts."""
    sql, values = aggregate_statement(kind, "facets", _request(kind, first), {}, lens)
    assert "facet_count_deltas" in sql, "whole-table facets are not read from the kept counts"
    return orjson.loads(await conn.fetchval(sql, *values))


async def _grouped(conn: asyncpg.Connection[Any], kind: str, lens: Lens, first: int) -> Any:
    """The same facets by the GROUP BY path over the lens's relation (a condition that keeps every
    row makes the planner count them itself)."""
    stmt = Statement(None, collect_ids=False, lens=lens)
    doc = plan_aggregates.facets(stmt, RowSet(kind, {}, ("true",)), _request(kind, first))
    assert "facet_count_deltas" not in doc
    return orjson.loads(await conn.fetchval(f"SELECT ({doc})::text", *stmt.params.values))


def _histogram_request(kind: str, on: str, interval: str, zone: tuple[str, str | None, str | None]) -> Any:
    paths = {name: ("histogram", name) for name in ("on", "interval", "timeZone", "from", "to")}
    return aggregates.histogram_request(FACT_TYPES[kind], on, interval, *zone, paths)


async def _text(conn: asyncpg.Connection[Any], sql: str, values: list[Any]) -> str:
    """The statement's JSON text, or its refusal (a histogram over 1,000 buckets) as text."""
    try:
        return str(await conn.fetchval(sql, *values))
    except asyncpg.PostgresError as e:
        return f"refused: {e.sqlstate} {e}"


async def _histograms_agree(conn: asyncpg.Connection[Any], step: str) -> int:
    """Every calendar date's whole-table histogram, read from the kept per-day counts, is the same
    bytes as the one counted from the facts; returns how many were compared with buckets."""
    compared = 0
    for kind, on in DATES:
        for name, lens in LENSES.items():
            for interval in INTERVALS:
                for zone in ZONES:
                    request = _histogram_request(kind, on, interval, zone)
                    sql, values = aggregate_statement(kind, "histogram", request, {}, lens)
                    assert "facet_count_deltas" in sql, (
                        "a whole-table histogram of a date does not read the kept counts"
                    )
                    kept = await _text(conn, sql, values)
                    stmt = Statement(None, collect_ids=False, lens=lens)
                    doc = plan_aggregates.histogram(stmt, RowSet(kind, {}, ("true",)), request)
                    assert "facet_count_deltas" not in doc
                    counted = await _text(conn, f"SELECT ({doc})::text", stmt.params.values)
                    assert kept == counted, f"after {step}: {kind} {on} by {interval} in {zone} ({name} lens) differ"
                    compared += '"count" : ' in kept
    return compared


def _sums_requests(kind: str) -> list[aggregates.SumsRequest]:
    """Every choice of sums (none too) under every grouping (none too) of ``kind``."""
    t = FACT_TYPES[kind]
    names = [s.name for s in t.analytics.sums]
    chosen = [names[:i] + names[i + 1 :] for i in range(len(names))] + [names, []]
    paths = {"sum": ("sum",), "groupBy": ("groupBy",)}
    return [
        aggregates.sums_request(t, [(n, n) for n in sums], group, paths, flat=flat)
        for sums in chosen
        for group in (None, *(g.name for g in t.analytics.groups))
        for flat in (False, True)
    ]


async def _sums_agree(conn: asyncpg.Connection[Any], step: str) -> None:
    """Every whole-table bounded sum, read from the kept counters (0020), is the same bytes as the
    one the GROUP BY path computes from the facts."""
    for kind in SUM_KINDS:
        for name, lens in LENSES.items():
            for request in _sums_requests(kind):
                sql, values = aggregate_statement(kind, "sums", request, {}, lens)
                assert "sum_count_deltas" in sql, "a whole-table sum does not read the kept counters"
                kept = await conn.fetchval(sql, *values)
                stmt = Statement(None, collect_ids=False, lens=lens)
                doc = plan_aggregates.sums(stmt, RowSet(kind, {}, ("true",)), request)
                assert "sum_count" not in doc
                counted = await conn.fetchval(f"SELECT ({doc})::text", *stmt.params.values)
                assert kept == counted, f"after {step}: {kind} sums {request} ({name} lens) differ"


async def _same_everywhere(conn: asyncpg.Connection[Any], step: str) -> dict[str, Any]:
    """Every facet of every kind in every lens, top 100 and top 2 (otherCount), agrees, and every
    date's histogram and bounded sum; returns the facets' answers (for a step's own checks)."""
    assert await _histograms_agree(conn, step) > 0, "no histogram had a bucket to compare"
    await _sums_agree(conn, step)
    answers = {}
    for kind in KINDS:
        for name, lens in LENSES.items():
            for first in (100, 2):
                kept = await _rollup(conn, kind, lens, first)
                counted = await _grouped(conn, kind, lens, first)
                assert kept == counted, f"after {step}: {kind} facets ({name} lens, first {first}) differ"
                answers[(kind, name, first)] = kept
    return answers


def _count(answers: dict[str, Any], kind: str, lens: str, facet: str, value: str | None) -> int:
    doc = answers[(kind, lens, 100)][facet]
    if value is None:
        return int(doc["missingCount"])
    return next((int(b["count"]) for b in doc["buckets"] if b["value"] == value), 0)


async def test_kept_counts_equal_the_group_by_after_every_kind_of_write(conn: asyncpg.Connection[Any]) -> None:
    await conn.execute("SELECT nf_fold_facet_counts()")
    await _same_everywhere(conn, "the seed")

    items = ((i, r.pop("object"), r) for i, r in enumerate(generate.records(30, 300, seed=2424, incidents=40)))
    report = await bulk.load(conn, items, changed_by="test", batch_size=97)
    assert not report.rejected, report.rejected[:3]
    await _same_everywhere(conn, "a bulk load")

    speaker, other, subject = [await make_actor(conn) for _ in range(3)]
    article = await make_article(conn, subjects=["medtop:20000053"])
    claims = [
        await make_claim(conn, article, speaker=speaker["id"], subjects=[subject["id"], other["id"]]) for _ in range(3)
    ]
    answers = await _same_everywhere(conn, "single creates")
    assert _count(answers, "claim", "public", "speaker", speaker["id"]) == 3

    await writes.update(
        conn, "claim", claims[0]["id"], {"speaker": other["id"], "status": "disputed", "subjects": []},
        changed_by="test", reason="wrong speaker", correction=True,
    )  # fmt: skip
    answers = await _same_everywhere(conn, "a correction")
    assert _count(answers, "claim", "full", "speaker", speaker["id"]) == 2

    # Dates corrected: a claim moves to another day and becomes imprecise for a day histogram, an
    # incident loses its date (missing), another gains one a year earlier (the range widens).
    await writes.update(
        conn, "claim", claims[0]["id"], {"claimDate": "2024-02-29", "claimDatePrecision": "month"},
        changed_by="test", reason="the month only", correction=True,
    )  # fmt: skip
    dated = await conn.fetch("SELECT id FROM incidents WHERE occurred_from IS NOT NULL ORDER BY id LIMIT 2")
    await conn.execute(
        "UPDATE incidents SET occurred_from = NULL, occurred_precision = NULL WHERE id = $1", dated[0]["id"]
    )
    await conn.execute(
        "UPDATE incidents SET occurred_from = occurred_from - 400, occurred_precision = 'day' WHERE id = $1",
        dated[1]["id"],
    )
    await _same_everywhere(conn, "date corrections")

    # Quantities corrected: the first incident's fatalities to a range with decimals (the deletes
    # below remove it, and its digits must go with it), the last's injuries to another unit, a
    # deployment's assets to two of one type, one of them without a quantity.
    await conn.execute(
        "UPDATE incidents SET fatalities = $1::jsonb WHERE id = (SELECT min(id) FROM incidents)",
        {"approximation": "range", "lowerBound": 2.25, "upperBound": 7.50, "unit": "people"},
    )
    await conn.execute(
        "UPDATE incidents SET injuries = $1::jsonb WHERE id = (SELECT max(id) FROM incidents)",
        {"approximation": "approximately", "amount": 12, "unit": "soldiers"},
    )
    await conn.execute(
        "UPDATE deployments SET assets = $1::jsonb WHERE id = (SELECT min(id) FROM deployments)",
        [
            {"assetType": "troops", "quantity": {"approximation": "atLeast", "lowerBound": 300, "unit": "personnel"}},
            {"assetType": "troops"},
        ],
    )
    # An update that changes nothing summed appends nothing.
    appended = "SELECT count(*) FROM sum_count_deltas"
    await conn.execute(
        "SELECT setval('facet_count_statements', last_value / 256 * 256 + 1) FROM facet_count_statements"
    )
    pending = await conn.fetchval(appended)
    await conn.execute("UPDATE incidents SET description = 'reworded' WHERE id = (SELECT max(id) FROM incidents)")
    assert await conn.fetchval(appended) == pending
    await _same_everywhere(conn, "quantity corrections")
    every = [(n, n) for n in ("fatalities", "injuries")]
    request = aggregates.sums_request(FACT_TYPES["incident"], every, None, {"sum": ("sum",)}, flat=False)
    sql, values = aggregate_statement("incident", "sums", request, {}, FULL)
    sums = orjson.loads(await conn.fetchval(sql, *values))["sums"]
    fatalities = {u["unit"]: u for u in sums["fatalities"]}
    assert str(fatalities["people"]["low"]).endswith(".25"), fatalities
    assert "soldiers" in {u["unit"] for u in sums["injuries"]}

    await writes.retract(conn, "claim", claims[1]["id"], changed_by="test", reason="unfounded")
    before = await _same_everywhere(conn, "a retraction")
    assert (
        _count(before, "claim", "full", "status", "retracted")
        == _count(answers, "claim", "full", "status", "retracted") + 1
    )

    # Withholding the article withdraws the two live facts that cite only it (the retracted one keeps its last
    # version and its sourcing): gone for public readers, counted still for admins; the article's
    # subjects leave its public facet.
    # And an article the bulk load's incidents and deployments cite.
    loaded = await conn.fetchval("SELECT article_ids[1] FROM incidents WHERE cardinality(article_ids) > 0 LIMIT 1")
    cited = await conn.fetchval(
        "SELECT count(*) FROM incidents WHERE $1 = ANY(article_ids) AND sourcing <> 'withdrawn'", loaded
    )
    assert cited > 0
    for withheld in (article["id"], loaded):
        await writes.update(conn, "article", withheld, {"pubStatus": "withheld"}, changed_by="legal")
    answers = await _same_everywhere(conn, "a withholding")
    public_incidents = sum(b["count"] for b in answers[("incident", "public", 100)]["incidentType"]["buckets"])
    assert public_incidents < sum(b["count"] for b in before[("incident", "public", 100)]["incidentType"]["buckets"])
    assert _count(answers, "claim", "public", "speaker", speaker["id"]) == 1
    assert _count(answers, "claim", "full", "speaker", speaker["id"]) == 2
    assert (
        _count(answers, "claim", "full", "sourcing", "withdrawn")
        >= _count(before, "claim", "full", "sourcing", "withdrawn") + 2
    )
    assert _count(answers, "article", "public", "subjects", "medtop:20000053") < _count(
        answers, "article", "full", "subjects", "medtop:20000053"
    )

    for withheld in (article["id"], loaded):
        await writes.update(conn, "article", withheld, {"pubStatus": "usable"}, changed_by="legal")
    answers = await _same_everywhere(conn, "a release")
    assert _count(answers, "claim", "public", "speaker", speaker["id"]) == 2

    # A fact that cites two articles, one withheld: partly withdrawn, still public.
    second = await make_article(conn)
    both = await writes.create(
        conn, "claim",
        {"statement": "Two sources.", "quoteType": "indirect", "speaker": speaker["id"],
         "references": [quote_ref(article, "We will not retreat"), quote_ref(second, "We will not retreat")]},
        changed_by="test",
    )  # fmt: skip
    await writes.update(conn, "article", second["id"], {"pubStatus": "canceled"}, changed_by="legal")
    await _same_everywhere(conn, "a partial withdrawal")

    async with conn.transaction():
        await conn.execute("DELETE FROM claims WHERE id = ANY($1::text[])", [claims[2]["id"], both["id"]])
        await conn.execute("DELETE FROM incidents WHERE id = (SELECT min(id) FROM incidents)")
        await conn.execute("DELETE FROM deployments WHERE id = (SELECT min(id) FROM deployments)")
    answers = await _same_everywhere(conn, "deletes")
    assert _count(answers, "claim", "full", "speaker", speaker["id"]) == 1

    # The 256th writing statement folds, inside the writer's own transaction.
    pending = await conn.fetchval("SELECT count(*) FROM facet_count_deltas")
    await conn.execute(
        "SELECT setval('facet_count_statements', (last_value / 256 + 1) * 256 - 1) FROM facet_count_statements"
    )
    await writes.update(conn, "actor", speaker["id"], {"country": "FR"}, changed_by="test")
    assert await conn.fetchval("SELECT count(*) FROM facet_count_deltas") < pending
    await _same_everywhere(conn, "a fold by a writer")

    await writes.update(conn, "actor", speaker["id"], {"country": "DE"}, changed_by="test")
    assert await conn.fetchval("SELECT count(*) FROM facet_count_deltas") > 0
    assert await conn.fetchval("SELECT nf_fold_facet_counts()") > 0
    assert await conn.fetchval("SELECT count(*) FROM facet_count_deltas") == 0
    await _same_everywhere(conn, "a fold")


async def test_the_triggers_fold_once_per_transaction(conn: asyncpg.Connection[Any]) -> None:
    # A fold updates every counter it touches; in one long transaction (an initial load) a fold
    # per batch walked all the earlier folds' row versions, so the triggers fold once.
    speaker = await make_actor(conn)
    next_folds = "SELECT setval('facet_count_statements', (last_value / 256 + 1) * 256 - 1) FROM facet_count_statements"
    deltas = "SELECT count(*) FROM facet_count_deltas"
    async with conn.transaction():
        await conn.execute(next_folds)
        await writes.update(conn, "actor", speaker["id"], {"country": "FR"}, changed_by="test")
        assert await conn.fetchval(deltas) == 0  # the 256th statement folded
        await conn.execute(next_folds)
        await writes.update(conn, "actor", speaker["id"], {"country": "DE"}, changed_by="test")
        assert await conn.fetchval(deltas) > 0  # another 256th, in the same transaction: no fold
    await conn.execute(next_folds)
    await writes.update(conn, "actor", speaker["id"], {"country": "ES"}, changed_by="test")
    assert await conn.fetchval(deltas) == 0  # a new transaction folds again
    await _same_everywhere(conn, "folds once per transaction")


async def test_concurrent_writers_do_not_wait_for_each_other_and_a_fold_beside_them_loses_nothing(
    conn: asyncpg.Connection[Any], database_url: str
) -> None:
    # Plain UPDATEs of the fact rows, which fire the triggers: the write service also takes the
    # event log's counter at the end of each transaction (db/events.py), a wait of its own that
    # this test is not about.
    speaker = await make_actor(conn)
    article = await make_article(conn)
    ids = [(await make_claim(conn, article, speaker=speaker["id"]))["id"] for _ in range(10)]
    mine, theirs = ids[:5], ids[5:]
    dispute = "UPDATE claims SET status = $2 WHERE id = $1"
    first, second = await connect(database_url), await connect(database_url)
    try:
        # A writer whose transaction is open holds no counter: another writer moving a claim
        # between the same buckets commits without waiting, and so does a fold.
        tx = first.transaction()
        await tx.start()
        await first.execute(dispute, mine[0], "disputed")
        await asyncio.wait_for(second.execute(dispute, theirs[0], "disputed"), timeout=10)
        assert await asyncio.wait_for(second.fetchval("SELECT nf_fold_facet_counts()"), timeout=10) > 0
        await tx.commit()
        answers = await _same_everywhere(conn, "an open writer beside a fold")
        disputed = _count(answers, "claim", "full", "status", "disputed")

        # Two writers in a loop over their own claims, each folding now and then while the other appends.
        async def write(c: asyncpg.Connection[Any], claims: list[str]) -> None:
            for round_ in range(8):
                async with c.transaction():
                    for claim in claims:
                        await c.execute(dispute, claim, "corroborated" if round_ % 2 else "denied")
                    if round_ % 3 == 0:
                        await c.execute("SELECT nf_fold_facet_counts()")

        await asyncio.wait_for(asyncio.gather(write(first, mine), write(second, theirs)), timeout=120)
    finally:
        await first.close()
        await second.close()
    answers = await _same_everywhere(conn, "two concurrent writers")
    assert _count(answers, "claim", "full", "status", "corroborated") >= 10
    assert _count(answers, "claim", "full", "status", "disputed") == disputed - 2


async def test_a_histogram_as_of_a_time_or_filtered_counts_the_facts(conn: asyncpg.Connection[Any]) -> None:
    """Kept counts are the present whole table's: a histogram asOf an earlier time (the counts as
    they stood then, before a correction moved a claim's date) or under a filter counts the facts."""
    article = await make_article(conn)
    claim = await make_claim(conn, article, claimDate="2031-05-17")
    before = await conn.fetchval("SELECT clock_timestamp()")
    await writes.update(
        conn, "claim", claim["id"], {"claimDate": "2032-01-03"}, changed_by="test", reason="wrong year", correction=True
    )
    request = _histogram_request("claim", "claimDate", "year", ("UTC", None, None))
    for lens in (Lens(before.isoformat(), public=False), Lens(before.isoformat(), public=True)):
        sql, values = aggregate_statement("claim", "histogram", request, {}, lens)
        assert "facet_count" not in sql
        then = orjson.loads(await conn.fetchval(sql, *values))
        assert then["buckets"][-1]["start"].startswith("2031-"), then["buckets"][-1]
    now_sql, now_values = aggregate_statement("claim", "histogram", request, {}, PUBLIC)
    assert "facet_count_deltas" in now_sql
    now = orjson.loads(await conn.fetchval(now_sql, *now_values))
    assert now["buckets"][-1]["start"].startswith("2032-"), now["buckets"][-1]
    parsed = parse_filters(FACT_TYPES["claim"], {"status": claim["status"]})
    sql, values = aggregate_statement("claim", "histogram", request, parsed, PUBLIC)
    assert "facet_count" not in sql
    assert orjson.loads(await conn.fetchval(sql, *values))["buckets"]


async def test_a_sum_as_of_a_time_or_filtered_adds_up_the_facts(conn: asyncpg.Connection[Any]) -> None:
    """Kept sums are the present whole table's: a sum asOf a time before a correction of a
    quantity adds the quantities as they stood then, and a filtered sum adds the facts it selects."""
    kind = "incident"
    t = FACT_TYPES[kind]
    incident = await writes.create(
        conn, kind,
        {"incidentType": "sumcheck", "fatalities": {"approximation": "exact", "amount": 7, "unit": "ducks"}},
        changed_by="test",
    )  # fmt: skip
    before = await conn.fetchval("SELECT clock_timestamp()")
    await writes.update(
        conn, kind, incident["id"], {"fatalities": {"approximation": "atLeast", "lowerBound": 9, "unit": "ducks"}},
        changed_by="test", reason="more found", correction=True,
    )  # fmt: skip
    paths = {"sum": ("sum",), "groupBy": ("groupBy",)}
    request = aggregates.sums_request(t, [("fatalities", "fatalities")], None, paths, flat=False)

    def ducks(doc: dict[str, Any]) -> dict[str, Any]:
        return next(u for u in doc["sums"]["fatalities"] if u["unit"] == "ducks")

    for lens in (Lens(before.isoformat(), public=False), Lens(before.isoformat(), public=True)):
        sql, values = aggregate_statement(kind, "sums", request, {}, lens)
        assert "sum_count" not in sql
        then = ducks(orjson.loads(await conn.fetchval(sql, *values)))
        assert (then["low"], then["high"], then["openUpper"]) == (7, 7, 0), then
    sql, values = aggregate_statement(kind, "sums", request, {}, PUBLIC)
    assert "sum_count_deltas" in sql
    now = ducks(orjson.loads(await conn.fetchval(sql, *values)))
    assert (now["low"], now["high"], now["openUpper"]) == (9, None, 1), now
    parsed = parse_filters(t, {"incidentType": "sumcheck"})
    sql, values = aggregate_statement(kind, "sums", request, parsed, PUBLIC)
    assert "sum_count" not in sql
    assert orjson.loads(await conn.fetchval(sql, *values))["totalCount"] == 1
