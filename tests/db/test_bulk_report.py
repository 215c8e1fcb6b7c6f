"""The set-based loader refuses exactly what the loader before it refused, and says so in the same
words: a corpus of every kind of bad record among good ones (tests/db/fixtures/bad_records.ndjson)
is loaded into a fresh database and its report compared with the one e074712's loader wrote for the
same file (bad_records.report.json, made by tests/db/fixtures/bad_records.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from db import bulk
from db.ids import is_id
from db.json_input import json_type
from db.pool import connect
from tests.db.conftest import scratch_database

pytestmark = pytest.mark.anyio

FIXTURES = Path(__file__).parent / "fixtures"
CORPUS = FIXTURES / "bad_records.ndjson"


@pytest.fixture
async def fresh_url(postgres_server_url: str, template_database: str) -> AsyncIterator[str]:
    """A database of its own, cloned from the migrated and seeded template, dropped after the test."""
    async with scratch_database(postgres_server_url, template=template_database) as url:
        yield url


def _records() -> list[Any]:
    """The corpus's records by input index (None for a line that is not JSON), as the loader numbers them."""
    out: list[Any] = []
    for line in CORPUS.read_bytes().splitlines():
        if line.strip():
            try:
                out.append(orjson.loads(line))
            except orjson.JSONDecodeError:
                out.append(None)
    return out


def _normalised(report: dict[str, Any], records: list[Any]) -> dict[str, Any]:
    """The report without its timing, and with the ids minted for records that gave none (random
    in the old loader) replaced by a marker once they are checked to be ids of the right kind."""
    out = {k: v for k, v in report.items() if k != "seconds"}
    rejected = []
    for r in report["rejected"]:
        given = records[r["index"]].get("id") if isinstance(records[r["index"]], dict) else None
        if r["id"] is not None and given is None:
            assert is_id(r["id"], r["kind"]), r
            r = {**r, "id": f"<minted {r['kind']} id>"}
        rejected.append(r)
    out["rejected"] = rejected
    return out


def _decoder_refusals(report: dict[str, Any], records: list[Any]) -> dict[str, Any]:
    """The one deliberate change since e074712 (issue 23): a line that is not JSON, or JSON that is not
    an object, is refused by the one JSON decoder (db/json_input.py) with its own code and wording,
    as an HTTP body would be."""
    rejected = []
    for r in report["rejected"]:
        record = records[r["index"]]
        if record is None:
            assert r["code"] == "BAD_USER_INPUT" and r["message"].startswith("not JSON: "), r
            reason = r["message"].removeprefix("not JSON: ")
            r = {**r, "code": "INVALID_JSON", "message": f"the record is not valid JSON: {reason}"}
        elif not isinstance(record, dict):
            assert r["code"] == "BAD_USER_INPUT", r
            message = f"a record must be a JSON object, not {json_type(record)}"
            r = {**r, "code": "BODY_NOT_OBJECT", "message": message}
        rejected.append(r)
    return {**report, "rejected": rejected}


@pytest.mark.parametrize("batch_size", [2_000, 1])
async def test_the_report_of_every_kind_of_bad_record_is_the_one_the_previous_loader_wrote(
    fresh_url: str, batch_size: int
) -> None:
    expected = orjson.loads((FIXTURES / "bad_records.report.json").read_bytes())[f"batchSize{batch_size}"]
    records = _records()
    conn = await connect(fresh_url)
    try:
        # Quote offsets count code points only in a UTF-8 database (substr counts characters).
        assert await conn.fetchval("SHOW server_encoding") == "UTF8"
        report = await bulk.load_file(conn, CORPUS, changed_by="test", batch_size=batch_size)
        got = _normalised(report.as_dict(), records)
        want = _decoder_refusals(_normalised(expected, records), records)
        assert got["loaded"] == want["loaded"]
        by_index = {r["index"]: r for r in want["rejected"]}
        for r in got["rejected"]:
            assert r == by_index.get(r["index"]), r["index"]
        assert got == want

        # Every record not refused is stored once, with one revision, one history row and one event.
        refused = {r["index"] for r in report.as_dict()["rejected"]}
        kept = [r for i, r in enumerate(records) if i not in refused]
        ids = [r["id"] for r in kept if "id" in r]
        assert len(kept) == report.total_loaded and len(ids) == len(set(ids))
        for table, column in (("revisions", "fact_id"), ("events", "object_id")):
            rows = await conn.fetch(
                f"SELECT {column} AS id, count(*) FROM {table} WHERE {column} = ANY($1::text[]) GROUP BY 1", ids
            )
            assert {r["id"]: r["count"] for r in rows} == dict.fromkeys(ids, 1), table
        history = await conn.fetchval(
            "SELECT count(*) FROM (SELECT id FROM actors_history UNION ALL SELECT id FROM articles_history"
            " UNION ALL SELECT id FROM claims_history UNION ALL SELECT id FROM deployments_history"
            " UNION ALL SELECT id FROM incidents_history) h WHERE id = ANY($1::text[])",
            ids,
        )
        assert history == len(ids)
    finally:
        await conn.close()
