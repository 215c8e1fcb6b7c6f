"""Recall and sourcing in the write service: an article's withhold, cancel, release and retraction
are change kinds of their own, and give every fact citing it the sourcing its articles now warrant
(a new version, a revision and an event), in the article's transaction; new references into
withdrawn articles are refused with CONFLICT."""

from __future__ import annotations

import asyncio
import io
import json
from typing import Any

import pytest

from db import bulk, queries, writes
from db.errors import Conflict
from db.lens import FULL
from db.pool import Conn
from tests.factories import make_article, make_claim, quote_ref

pytestmark = pytest.mark.anyio


async def _events_of(conn: Conn, fact_id: str) -> list[tuple[str, int]]:
    rows = await conn.fetch("SELECT type, object_version FROM events WHERE object_id = $1 ORDER BY sequence", fact_id)
    return [(r["type"], r["object_version"]) for r in rows]


async def _withhold(conn: Conn, article: dict[str, Any], status: str = "withheld") -> dict[str, Any]:
    return await writes.update(
        conn, "article", article["id"], {"pubStatus": status}, changed_by="legal", reason="court order"
    )


async def test_withholding_an_article_is_its_own_change_kind_and_event(conn: Conn) -> None:
    article = await make_article(conn)
    withheld = await _withhold(conn, article)
    canceled = await _withhold(conn, withheld, "canceled")
    released = await _withhold(conn, canceled, "usable")
    assert (withheld["pubStatus"], canceled["pubStatus"], released["pubStatus"]) == ("withheld", "canceled", "usable")
    history = await queries.revisions(conn, article["id"], lens=FULL)
    assert [h["changeKind"] for h in history] == ["created", "withheld", "canceled", "released"]
    assert await _events_of(conn, article["id"]) == [
        ("article.created", 1), ("article.withheld", 2), ("article.canceled", 3), ("article.released", 4),
    ]  # fmt: skip
    # A change that leaves pubStatus alone is a plain update.
    await writes.update(conn, "article", article["id"], {"headline": "Convoy reached port"}, changed_by="ed")
    assert (await _events_of(conn, article["id"]))[-1] == ("article.updated", 5)


async def test_sourcing_follows_the_cited_articles_and_each_change_is_a_version(conn: Conn) -> None:
    a, b = await make_article(conn), await make_article(conn)
    both = await make_claim(conn, a, references=[quote_ref(a, "We will not retreat"), quote_ref(b, "the convoy")])
    only_a = await make_claim(conn, a)
    unsourced = await make_claim(conn, a, references=[], quote=None, quoteType="assertion")
    assert both["sourcing"] == only_a["sourcing"] == unsourced["sourcing"] == "supported"

    await _withhold(conn, a)
    assert (await queries.get(conn, "claim", both["id"], lens=FULL))["sourcing"] == "partlyWithdrawn"
    assert (await queries.get(conn, "claim", only_a["id"], lens=FULL))["sourcing"] == "withdrawn"
    assert (await queries.get(conn, "claim", unsourced["id"], lens=FULL))["sourcing"] == "supported"
    history = await queries.revisions(conn, both["id"], lens=FULL)
    last = history[-1]
    assert (last["version"], last["changeKind"], last["changedBy"]) == (2, "sourcing_changed", "legal")
    assert last["reason"] == f"article {a['id']} withheld: court order"
    assert await _events_of(conn, both["id"]) == [("claim.created", 1), ("claim.sourcing_changed", 2)]

    await writes.retract(conn, "article", b["id"], changed_by="ed", reason="fabricated")
    assert (await queries.get(conn, "claim", both["id"], lens=FULL))["sourcing"] == "withdrawn"
    assert (await queries.revisions(conn, both["id"], lens=FULL))[-1][
        "reason"
    ] == f"article {b['id']} retracted: fabricated"

    # Releasing a restores what only it took away; b stays retracted.
    await _withhold(conn, a, "usable")
    assert (await queries.get(conn, "claim", only_a["id"], lens=FULL))["sourcing"] == "supported"
    assert (await queries.get(conn, "claim", both["id"], lens=FULL))["sourcing"] == "partlyWithdrawn"
    # withheld → canceled keeps the facts withdrawn: no version for a sourcing that did not change.
    await _withhold(conn, a)
    await _withhold(conn, a, "canceled")
    assert [e for e, _ in await _events_of(conn, only_a["id"])].count("claim.sourcing_changed") == 3


async def test_sourcing_reaches_deployment_asset_references_and_incidents(conn: Conn) -> None:
    a, b = await make_article(conn), await make_article(conn)
    dep = await writes.create(
        conn, "deployment",
        {"status": "active", "references": [quote_ref(a, "the convoy")],
         "assets": [{"assetType": "troops", "references": [quote_ref(b, "the minister")]}]},
        changed_by="test",
    )  # fmt: skip
    inc = await writes.create(
        conn, "incident", {"incidentType": "strike", "references": [quote_ref(b, "the port")]}, changed_by="test"
    )
    await _withhold(conn, b)
    assert (await queries.get(conn, "deployment", dep["id"], lens=FULL))["sourcing"] == "partlyWithdrawn"
    assert (await queries.get(conn, "incident", inc["id"], lens=FULL))["sourcing"] == "withdrawn"
    assert (await _events_of(conn, inc["id"]))[-1] == ("incident.sourcing_changed", 2)


async def test_a_retracted_fact_keeps_its_last_version_through_a_recall(conn: Conn) -> None:
    a = await make_article(conn)
    claim = await make_claim(conn, a)
    await writes.retract(conn, "claim", claim["id"], changed_by="ed", reason="wrong")
    await _withhold(conn, a)
    stored = await queries.get(conn, "claim", claim["id"], lens=FULL)
    assert (stored["version"], stored["sourcing"]) == (2, "supported")


async def test_a_new_reference_into_a_withdrawn_article_is_refused_naming_it(conn: Conn) -> None:
    usable, withheld, retracted = await make_article(conn), await make_article(conn), await make_article(conn)
    await _withhold(conn, withheld)
    await writes.retract(conn, "article", retracted["id"], changed_by="ed", reason="fabricated")
    with pytest.raises(Conflict) as refused:
        await make_claim(conn, usable, references=[quote_ref(usable, "We will not retreat"), quote_ref(withheld, "the convoy"), quote_ref(retracted, "the port")])  # fmt: skip
    assert refused.value.code == "CONFLICT"
    assert [(e.pointer(), e.code) for e in refused.value.errors] == [
        ("/references/1/article", "CONFLICT"), ("/references/2/article", "CONFLICT"),
    ]  # fmt: skip
    assert "withheld" in refused.value.errors[0].message and "retracted" in refused.value.errors[1].message


async def test_a_reference_the_fact_already_had_is_kept_and_its_sourcing_recomputed(conn: Conn) -> None:
    a, b = await make_article(conn), await make_article(conn)
    claim = await make_claim(conn, a, references=[quote_ref(a, "We will not retreat"), quote_ref(b, "the convoy")])
    await _withhold(conn, a)
    # Editing the claim with its old reference into a is allowed …
    kept = await writes.update(conn, "claim", claim["id"], {"status": "disputed"}, changed_by="ed")
    assert kept["sourcing"] == "partlyWithdrawn"
    # … dropping it makes the claim supported again, by the claim's own update …
    dropped = await writes.update(
        conn, "claim", claim["id"], {"references": [quote_ref(b, "the convoy")]}, changed_by="ed"
    )
    assert dropped["sourcing"] == "supported"
    # … and citing a again is a new reference: refused.
    with pytest.raises(Conflict) as refused:
        await writes.update(conn, "claim", claim["id"], {"references": [quote_ref(b, "the convoy"), quote_ref(a, "the port")]}, changed_by="ed")  # fmt: skip
    assert [e.pointer() for e in refused.value.errors] == ["/references/1/article"]
    # A write that is also invalid is a 422 that names both.
    with pytest.raises(writes.ValidationFailed) as invalid:
        await make_claim(conn, b, references=[quote_ref(a, "the port")], quoteType="nonsense")
    codes = {e.pointer(): e.code for e in invalid.value.errors}
    assert codes["/references/0/article"] == "CONFLICT" and "/quoteType" in codes


async def test_the_bulk_loader_reports_references_into_withdrawn_articles_as_conflicts(conn: Conn) -> None:
    a = await make_article(conn)
    await _withhold(conn, a)
    ref = quote_ref(a, "the convoy")
    lines = [
        {"object": "claim", "statement": "Refused.", "quoteType": "assertion", "references": [ref]},
        {"object": "claim", "statement": "Loaded.", "quoteType": "assertion"},
    ]
    stream = io.BytesIO(b"\n".join(json.dumps(x).encode() for x in lines))
    report = await bulk.load(conn, bulk.read_records(stream), changed_by="load")
    assert report.loaded["claim"] == 1
    (rejected,) = report.rejected
    assert (rejected.index, rejected.code) == (0, "CONFLICT")
    assert rejected.errors[0].pointer() == "/references/0/article"


async def test_concurrent_recalls_of_a_facts_two_articles_leave_it_withdrawn(conn: Conn, pool: Any) -> None:
    x, y = await make_article(conn), await make_article(conn)
    claims = [
        await make_claim(conn, x, references=[quote_ref(x, "the port"), quote_ref(y, "the convoy")]) for _ in range(5)
    ]
    async with pool.acquire() as other:
        async with conn.transaction():
            await _withhold(conn, x)  # holds the claims' locks until this block commits
            second = asyncio.create_task(_withhold(other, y))
            await asyncio.sleep(0.5)
            assert not second.done(), "the second recall waits for the first's facts"
        await second
    for c in claims:
        stored = await queries.get(conn, "claim", c["id"], lens=FULL)
        assert stored is not None and stored["sourcing"] == "withdrawn"
        kinds = [r["changeKind"] for r in await queries.revisions(conn, c["id"], lens=FULL)]
        assert kinds == ["created", "sourcing_changed", "sourcing_changed"]


async def test_a_recall_racing_a_new_citation_waits_for_it_and_withdraws_it(conn: Conn, pool: Any) -> None:
    a = await make_article(conn)
    async with pool.acquire() as other:
        async with conn.transaction():
            claim = await make_claim(conn, a)  # its check holds a KEY SHARE lock on a until commit
            recall = asyncio.create_task(_withhold(other, a))
            await asyncio.sleep(0.5)
            assert not recall.done(), "the recall waits for the citing write"
        await recall
    stored = await queries.get(conn, "claim", claim["id"], lens=FULL)
    assert stored is not None and stored["sourcing"] == "withdrawn"


def test_the_event_catalogue_names_recalls_for_articles_and_sourcing_changes_for_sourced_facts() -> None:
    from db.events import EVENT_TYPES
    from db.webhooks.rules import enabled_events

    for name in ("article.withheld", "article.canceled", "article.released", "claim.sourcing_changed",
                 "deployment.sourcing_changed", "incident.sourcing_changed"):  # fmt: skip
        assert name in EVENT_TYPES
    for name in ("claim.withheld", "actor.sourcing_changed", "article.sourcing_changed"):
        assert name not in EVENT_TYPES
    errors: list[Any] = []
    assert enabled_events(["article.withheld", "claim.sourcing_changed"], errors) is not None and not errors
    assert enabled_events(["actor.sourcing_changed"], errors) is None
    assert [e.code for e in errors] == ["UNKNOWN_EVENT_TYPE"]
