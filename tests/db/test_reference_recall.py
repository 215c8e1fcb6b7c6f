"""The reference rule of 0016 in SQL: which references a read-scope or anonymous caller keeps (none
into an article withheld or canceled now, retracted or not; every one into a usable or a retracted
article), in the relations, in stored snapshots and in event payloads; the relations keep every
column of their table and stay cheap (each <kind>_doc still inlined over them)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from db import queries, writes
from db.lens import Lens
from db.pool import Conn
from db.registry import FACT_TYPES
from tests.factories import BODY, make_article, quote_ref

pytestmark = pytest.mark.anyio

PUBLIC = Lens(public=True)


async def _status(conn: Conn, article: dict[str, Any], status: str) -> None:
    await writes.update(conn, "article", article["id"], {"pubStatus": status}, changed_by="legal")


async def test_only_references_into_withheld_or_canceled_articles_are_left_out(conn: Conn) -> None:
    usable, withheld, canceled, retracted, both = [await make_article(conn) for _ in range(5)]
    refs = [quote_ref(a, "the convoy") for a in (usable, withheld, canceled, retracted, both)]
    claim = await writes.create(
        conn, "claim", {"statement": "s", "quoteType": "assertion", "references": refs}, changed_by="t"
    )
    deployment = await writes.create(
        conn, "deployment",
        {"references": [refs[1]], "assets": [{"assetType": "troops", "references": refs}, {"assetType": "drone"}]},
        changed_by="t",
    )  # fmt: skip
    for article, status in ((withheld, "withheld"), (canceled, "canceled"), (both, "withheld")):
        await _status(conn, article, status)
    for article in (retracted, both):  # retracted and withheld: still withheld, still hidden
        await writes.retract(conn, "article", article["id"], changed_by="ed", reason="fabricated")

    kept = [r["article"] for r in refs if r["article"] in (usable["id"], retracted["id"])]
    read = await queries.get(conn, "claim", claim["id"], lens=PUBLIC)
    assert read is not None and [r["article"] for r in read["references"]] == kept, "in order, retracted kept"
    assert read["sourcing"] == "partlyWithdrawn"
    dep = await queries.get(conn, "deployment", deployment["id"], lens=PUBLIC)
    assert dep is not None and dep["references"] == []
    assert [r["article"] for r in dep["assets"][0]["references"]] == kept
    assert dep["assets"][1] == deployment["assets"][1], "an asset without references is as it was"

    # The same rule on a stored document, and on anything else untouched.
    stored = await conn.fetchval("SELECT snapshot FROM revisions WHERE fact_id = $1", deployment["id"])
    public = await conn.fetchval("SELECT nf_public_doc($1::jsonb)", stored)
    assert public["assets"][0]["references"] == dep["assets"][0]["references"] and public["references"] == []
    article = await conn.fetchval("SELECT snapshot FROM revisions WHERE fact_id = $1", usable["id"])
    assert await conn.fetchval("SELECT nf_public_doc($1::jsonb)", article) == article
    for odd in (None, {"references": None}, {"references": "x", "assets": {"a": 1}}, [1, 2]):
        assert await conn.fetchval("SELECT nf_public_doc($1::jsonb)", odd) == odd
    assert await conn.fetchval("SELECT nf_public_refs('null'::jsonb) = 'null'::jsonb")

    # A release brings the references back (a retracted article keeps its last pubStatus).
    for article in (withheld, canceled):
        await _status(conn, article, "usable")
    read = await queries.get(conn, "claim", claim["id"], lens=PUBLIC)
    assert read is not None and read["references"] == refs[:4]


async def test_a_supported_fact_reads_through_the_public_relations_exactly_as_stored(conn: Conn) -> None:
    article = await make_article(conn)
    claim = await writes.create(
        conn, "claim", {"statement": "s", "quoteType": "assertion", "references": [quote_ref(article, "the port")]},
        changed_by="t",
    )  # fmt: skip
    at = await conn.fetchval("SELECT clock_timestamp()")
    for t in FACT_TYPES.values():
        if not t.sourced:
            continue
        # Every column, in the table's row type: columns added by other migrations are kept.
        for relation in (f"{t.table}_public()", f"{t.table}_public_at($1)"):
            differs = await conn.fetchval(
                f"SELECT count(*) FROM {t.table} x LEFT JOIN {relation} p ON p.id = x.id"
                " WHERE x.sourcing = 'supported' AND x.retracted_at IS NULL AND x.updated_at <= $1"
                " AND p IS DISTINCT FROM x",
                at,
            )
            assert differs == 0, relation
    assert (await queries.get(conn, "claim", claim["id"], lens=PUBLIC)) == claim


@pytest.mark.parametrize("relation", ["{table}_public()", "{table}_public_at(now())"])
async def test_each_doc_function_is_still_inlined_over_the_public_relations(conn: Conn, relation: str) -> None:
    # Not inlined, <kind>_doc(row) builds a composite of every row first: a quarter more CPU a page.
    for t in FACT_TYPES.values():
        if not t.sourced:
            continue
        source = relation.format(table=t.table)
        plan = await conn.fetchval(
            f"EXPLAIN (VERBOSE, FORMAT JSON) SELECT {t.doc_function}(x) FROM {source} x WHERE x.id = 'x'"
        )
        text = json.dumps(plan)
        assert "jsonb_build_object" in text and f"{t.doc_function}(" not in text, (source, text[:400])


async def test_an_event_of_a_partly_withdrawn_fact_carries_only_its_readable_references(conn: Conn) -> None:
    usable, held = await make_article(conn), await make_article(conn, body=BODY + " Only here.")
    refs = [quote_ref(held, "Only here."), quote_ref(usable, "the minister")]
    claim = await writes.create(
        conn, "claim", {"statement": "s", "quoteType": "assertion", "references": refs}, changed_by="t"
    )
    created = await conn.fetchrow("SELECT object_type, object_id, data FROM events WHERE object_id = $1", claim["id"])
    await _status(conn, held, "withheld")
    public = await conn.fetchval("SELECT event_public_data($1, $2, $3::jsonb)", *created.values())
    assert public == {**created["data"], "references": [refs[1]]}
    await _status(conn, held, "usable")
    assert await conn.fetchval("SELECT event_public_data($1, $2, $3::jsonb)", *created.values()) == created["data"]
