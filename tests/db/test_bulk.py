"""Bulk loading through the write service: a file mixing good and bad records loads the good ones
and reports each bad one with its position and reason; nothing bad is written."""

from __future__ import annotations

import asyncio
import io
import random
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import orjson
import pytest

from db import bulk, generate, writes
from db.errors import NewsfactsError
from db.pool import Conn, connect
from tests.malformed_json import DEEP_ARRAYS, DEEP_OBJECTS, OBJECT_CASES

pytestmark = pytest.mark.anyio

BODY = "The envoy said talks would resume in March. Critics called the plan “a fantasy.”"


def mixed_records() -> tuple[list[bytes], dict[str, Any]]:
    """NDJSON lines: good records interleaved with every kind of bad one, and what to expect."""
    tag = uuid.uuid4().hex[:8].upper()  # hex digits are all valid in a ULID
    actor = f"act_01JTEST{tag}00000000001"
    article = f"art_01JTEST{tag}00000000001"
    claim = f"clm_01JTEST{tag}00000000001"
    claim2 = f"clm_01JTEST{tag}00000000002"
    uri = f"urn:test:bulk:{tag}"
    start = BODY.index("talks would resume in March")
    ref = {"article": article, "charStart": start, "charEnd": start + 27, "quoteText": "talks would resume in March"}
    lines: list[Any] = [
        {"object": "actor", "id": actor, "kind": "person", "name": "The Envoy"},  # 0 good
        b'{"object": "claim", "statement": ',  # 1 not JSON
        {"object": "spaceship", "name": "Enterprise"},  # 2 unknown object
        {"object": "article", "id": article, "uri": uri, "headline": "Talks", "body": BODY},  # 3 good
        {"object": "claim", "statement": "x", "quoteType": "rumour", "references": [ref]},  # 4 bad enum
        {"object": "claim", "statement": "x", "quoteType": "indirect",
         "references": [{**ref, "quoteText": "talks would resume in April"}]},  # 5 bad reference
        {"object": "article", "uri": uri, "headline": "Same uri", "body": BODY},  # 6 duplicate uri
        {"object": "claim", "id": claim, "statement": "Talks resume in March.", "quoteType": "indirect",
         "speaker": actor, "references": [ref]},  # 7 good
        {"object": "claim", "id": claim, "statement": "Again.", "quoteType": "indirect", "references": [ref]},  # 8 dup id
        {"object": "claim", "id": claim2, "statement": "Good too.", "quoteType": "assertion", "colour": "red",
         "references": [ref]},  # 9 unknown field
        {"object": "claim", "statement": "Fine.", "quoteType": "analysis", "references": [ref]},  # 10 good
    ]  # fmt: skip
    encoded = [line if isinstance(line, bytes) else orjson.dumps(line) for line in lines]
    expected = {
        "loaded": {"actor": 1, "article": 1, "claim": 2},
        "rejected": {
            1: ("unknown", "INVALID_JSON", "not valid JSON"),
            2: ("unknown", "BAD_USER_INPUT", "object"),
            4: ("claim", "BAD_USER_INPUT", "/quoteType"),
            5: ("claim", "BAD_USER_INPUT", "/references/0/quoteText"),
            6: ("article", "CONFLICT", "uri"),
            8: ("claim", "CONFLICT", "id"),
            9: ("claim", "BAD_USER_INPUT", "/colour"),
        },
        "ids": {"actor": actor, "article": article, "claim": claim, "uri": uri, "claim2": claim2},
    }
    return encoded, expected


def check_report(report: dict[str, Any], expected: dict[str, Any]) -> None:
    assert {k: v for k, v in report["loaded"].items() if v} == expected["loaded"]
    got = {r["index"]: r for r in report["rejected"]}
    assert set(got) == set(expected["rejected"]), got
    for index, (kind, code, needle) in expected["rejected"].items():
        r = got[index]
        assert (r["kind"], r["code"]) == (kind, code), r
        assert needle in r["message"], r


async def check_database(conn: Conn, expected: dict[str, Any]) -> None:
    ids = expected["ids"]
    assert await conn.fetchval("SELECT count(*) FROM articles WHERE uri = $1", ids["uri"]) == 1
    assert await conn.fetchval("SELECT statement FROM claims WHERE id = $1", ids["claim"]) == "Talks resume in March."
    assert await conn.fetchval("SELECT count(*) FROM claims WHERE id = $1", ids["claim2"]) == 0
    article_claims = await conn.fetchval("SELECT count(*) FROM claims WHERE $1 = ANY(article_ids)", ids["article"])
    assert article_claims == 2
    # Each loaded fact has its revision and its event; the rejected ones have neither.
    facts = await conn.fetch(
        "SELECT id FROM claims WHERE $1 = ANY(article_ids) UNION ALL SELECT $1 UNION ALL SELECT $2::text",
        ids["article"], ids["actor"],
    )  # fmt: skip
    fact_ids = [f["id"] for f in facts]
    assert await conn.fetchval("SELECT count(*) FROM revisions WHERE fact_id = ANY($1::text[])", fact_ids) == 4
    assert await conn.fetchval("SELECT count(*) FROM events WHERE object_id = ANY($1::text[])", fact_ids) == 4


@pytest.mark.parametrize("batch_size", [2, 2_000])
async def test_a_mixed_file_loads_the_good_records_and_reports_each_bad_one(
    conn: Conn, tmp_path: Path, batch_size: int
) -> None:
    lines, expected = mixed_records()
    path = tmp_path / "mixed.ndjson"
    path.write_bytes(b"\n".join(lines) + b"\n")
    before = await conn.fetchval("SELECT last FROM event_counter")
    progress: list[int] = []
    report = await bulk.load_file(
        conn, path, changed_by="test", batch_size=batch_size, progress=lambda r: progress.append(r.total_loaded)
    )
    check_report(report.as_dict(), expected)
    await check_database(conn, expected)
    assert await conn.fetchval("SELECT last FROM event_counter") == before + 4
    assert progress and progress[-1] == 4


async def test_a_json_document_of_lists_loads_like_ndjson_and_reloading_it_is_refused_record_by_record(
    conn: Conn,
) -> None:
    _, expected = mixed_records()
    ids = expected["ids"]
    document = {
        "actors": [{"id": ids["actor"], "kind": "person", "name": "The Envoy"}],
        "articles": [{"id": ids["article"], "uri": ids["uri"], "headline": "Talks", "body": BODY}],
    }
    raw = orjson.dumps(document, option=orjson.OPT_INDENT_2)  # a multi-line document, not NDJSON
    report = await bulk.load(conn, bulk.read_records(io.BytesIO(raw)), changed_by="test")
    assert report.loaded["actor"] == 1 and report.loaded["article"] == 1 and not report.rejected
    again = await bulk.load(conn, bulk.read_records(io.BytesIO(raw)), changed_by="test")
    assert again.total_loaded == 0
    assert {(r.index, r.code) for r in again.rejected} == {(0, "CONFLICT"), (1, "CONFLICT")}


async def test_a_claim_citing_a_rejected_article_in_the_same_file_is_rejected_too(conn: Conn) -> None:
    lines, expected = mixed_records()
    ids = expected["ids"]
    bad_article = {"object": "article", "id": ids["article"], "uri": ids["uri"], "headline": "", "body": BODY}
    claim = orjson.loads(lines[7])
    stream = io.BytesIO(orjson.dumps(bad_article) + b"\n" + orjson.dumps(claim) + b"\n")
    report = await bulk.load(conn, bulk.read_records(stream), changed_by="test")
    assert report.total_loaded == 0
    by_index = {r.index: r for r in report.rejected}
    assert by_index[0].errors[0].path == ("headline",)
    assert {(e.path, e.code) for e in by_index[1].errors} >= {(("references", 0, "article"), "REF_NOT_FOUND")}


async def test_a_claim_linking_to_a_rejected_claim_of_the_same_batch_is_rejected_too(conn: Conn) -> None:
    _, expected = mixed_records()
    ids = expected["ids"]
    article = {"object": "article", "id": ids["article"], "uri": ids["uri"], "headline": "Talks", "body": BODY}
    bad_ref = {"article": ids["article"], "charStart": 0, "charEnd": 9, "quoteText": "Not there"}
    rejected = {
        "object": "claim",
        "id": ids["claim"],
        "statement": "a",
        "quoteType": "analysis",
        "references": [bad_ref],
    }
    linked = {
        "object": "claim",
        "id": ids["claim2"],
        "statement": "b",
        "quoteType": "analysis",
        "supersedes": [ids["claim"]],
    }
    stream = io.BytesIO(b"\n".join(orjson.dumps(r) for r in (article, rejected, linked)))
    report = await bulk.load(conn, bulk.read_records(stream), changed_by="test")
    assert report.loaded["article"] == 1 and report.loaded["claim"] == 0
    by_index = {r.index: r for r in report.rejected}
    assert {(e.path, e.code) for e in by_index[1].errors} == {(("references", 0, "quoteText"), "QUOTE_MISMATCH")}
    assert {(e.path, e.code) for e in by_index[2].errors} == {(("supersedes", 0), "REF_NOT_FOUND")}
    assert (
        await conn.fetchval("SELECT count(*) FROM claims WHERE id = ANY($1::text[])", [ids["claim"], ids["claim2"]])
        == 0
    )


async def test_a_load_whose_connection_dies_midway_raises_instead_of_hanging(database_url: str, conn: Conn) -> None:
    loader = await connect(database_url)
    seed = random.randrange(1_000_000, 2**31)

    async def items() -> AsyncIterator[bulk.Item]:
        for i, record in enumerate(generate.records(10, 400, seed=seed)):
            if i == 250:
                await conn.execute("SELECT pg_terminate_backend($1)", loader.get_server_pid())
            yield i, record.pop("object"), record

    try:
        with pytest.raises((asyncpg.PostgresError, asyncpg.InterfaceError, ConnectionError, NewsfactsError)):
            await asyncio.wait_for(bulk.load(loader, items(), changed_by="test", batch_size=50), timeout=30)
    finally:
        await loader.close()


async def test_a_load_leaves_no_gin_pending_list_behind(conn: Conn) -> None:
    # GIN inserts wait in a pending list that every probe scans whole until a vacuum merges it:
    # a load merges them itself, so the relation reads right after it probe the index proper.
    items = ((i, r.pop("object"), r) for i, r in enumerate(generate.records(20, 200, seed=11)))
    report = await bulk.load(conn, items, changed_by="test", batch_size=100)
    assert report.total_loaded > 200 and not report.rejected
    pending = await _gin_pending_pages(conn, "i.indrelid = ANY('{claims,articles,actors}'::regclass[])")
    assert len(pending) >= 5
    assert {name: pages for name, pages in pending.items() if pages} == {}


async def test_relation_indexes_take_a_write_without_a_pending_list(conn: Conn) -> None:
    # One claim written through the write service, as the API writes: its article ids are in the
    # GIN index proper at once (nothing to merge), so relation probes never scan a pending list.
    items = ((i, r.pop("object"), r) for i, r in enumerate(generate.records(2, 0, seed=13)))
    await bulk.load(conn, items, changed_by="test")
    article = await conn.fetchrow("SELECT id, body FROM articles ORDER BY id DESC LIMIT 1")
    quote = article["body"][:12]
    ref = {"article": article["id"], "charStart": 0, "charEnd": len(quote), "quoteText": quote}
    await writes.create(conn, "claim", {"statement": "s", "quoteType": "indirect", "references": [ref]}, changed_by="t")
    pending = await _gin_pending_pages(conn, "ic.relname NOT LIKE '%search%'")
    assert len(pending) >= 20
    assert {name: pages for name, pages in pending.items() if pages} == {}


async def _gin_pending_pages(conn: Conn, where: str) -> dict[str, int]:
    """Pending-list pages of the GIN indexes matching ``where``, by index (merging them: a second
    call finds none)."""
    rows = await conn.fetch(
        "SELECT ic.relname, gin_clean_pending_list(i.indexrelid) AS pages FROM pg_index i"
        " JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_am am ON am.oid = ic.relam"
        f" WHERE am.amname = 'gin' AND {where}"
    )
    return {r["relname"]: r["pages"] for r in rows}


async def test_a_line_the_json_decoder_refuses_is_a_rejected_record_with_its_code(conn: Conn) -> None:
    """Issue 23: every decoder refuses rather than fails, the loader's lines too — each malformed
    line is one rejection carrying the decoder's own code, and the good lines around it load."""
    lines, _ = mixed_records()
    good = [lines[0], lines[3]]  # the actor and the article
    cases = [raw for _, raw, _ in OBJECT_CASES]
    stream = io.BytesIO(b"\n".join([good[0], *cases, good[1]]) + b"\n")
    report = await bulk.load(conn, bulk.read_records(stream), changed_by="test")
    assert report.loaded["actor"] == 1 and report.loaded["article"] == 1
    got = {r.index: (r.kind, r.code) for r in report.rejected}
    assert got == {i + 1: ("unknown", code) for i, (_, _, code) in enumerate(OBJECT_CASES)}, got


async def test_a_byte_order_mark_starting_the_file_is_skipped(conn: Conn) -> None:
    lines, _ = mixed_records()
    stream = io.BytesIO(b"\xef\xbb\xbf" + lines[0] + b"\n" + lines[3] + b"\n")
    report = await bulk.load(conn, bulk.read_records(stream), changed_by="test")
    assert report.total_loaded == 2 and not report.rejected


@pytest.mark.parametrize(
    ("raw", "code"), [(DEEP_OBJECTS, "NESTING_TOO_DEEP"), (b'{"actors": [' + b"1" * 30 + b"]}", "NUMBER_TOO_LARGE")]
)
async def test_a_whole_document_past_the_bounds_is_one_rejection(conn: Conn, raw: bytes, code: str) -> None:
    pretty = raw.replace(b":", b":\n")  # a multi-line document, not NDJSON
    report = await bulk.load(conn, bulk.read_records(io.BytesIO(pretty)), changed_by="test")
    assert report.total_loaded == 0
    assert [(r.index, r.code) for r in report.rejected] == [(0, code)]


async def test_ndjson_whose_first_line_is_too_deep_still_loads_the_rest(conn: Conn) -> None:
    lines, _ = mixed_records()
    stream = io.BytesIO(DEEP_ARRAYS + b"\n" + lines[0] + b"\n")
    report = await bulk.load(conn, bulk.read_records(stream), changed_by="test")
    assert report.loaded["actor"] == 1
    assert [(r.index, r.code) for r in report.rejected] == [(0, "NESTING_TOO_DEEP")]


async def test_a_record_citing_an_id_given_twice_in_its_batch_cites_the_one_that_got_in(conn: Conn) -> None:
    _, expected = mixed_records()
    ids = expected["ids"]
    first = {"object": "claim", "id": ids["claim"], "statement": "first", "quoteType": "analysis"}
    again = {"object": "claim", "id": ids["claim"], "statement": "again", "quoteType": "analysis"}
    citing = {
        "object": "claim",
        "id": ids["claim2"],
        "statement": "c",
        "quoteType": "analysis",
        "supersedes": [ids["claim"]],
    }
    stream = io.BytesIO(b"\n".join(orjson.dumps(r) for r in (first, again, citing)))
    report = await bulk.load(conn, bulk.read_records(stream), changed_by="test")
    assert report.loaded["claim"] == 2
    assert [(r.index, r.code, r.id, r.message) for r in report.rejected] == [
        (1, "CONFLICT", ids["claim"], "a claim with this id already exists")
    ]
    assert await conn.fetchval("SELECT statement FROM claims WHERE id = $1", ids["claim"]) == "first"
    assert await conn.fetchval("SELECT supersedes_ids FROM claims WHERE id = $1", ids["claim2"]) == [ids["claim"]]
