"""A document without variables builds its SQL statement once per lens and id collection, not on
every request (schema/plan/run.py): its answers stay those of a freshly built statement however
the lenses alternate — a withheld article is a stub to a public reader and whole to a full one —
and ids are collected only where asked for."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import orjson
import pytest

from db import writes
from db.lens import FULL, Lens, for_scope
from db.pool import Conn
from schema import build_schema
from schema.limits import Limits
from schema.plan.run import Answer, Planner

QUERY = "{ articles(first: 100) { nodes { id headline pubStatus } } }"
PUBLIC = for_scope("read")


def _planner() -> Planner:
    return Planner(build_schema()._schema, Limits(), production=False)


async def _answer(planner: Planner, pool: asyncpg.Pool, lens: Lens, *, collect_ids: bool) -> Answer:
    @contextlib.asynccontextmanager
    async def connect() -> AsyncIterator[Conn]:
        async with pool.acquire() as conn:
            yield conn

    op = planner.plan(QUERY, None)
    assert op is not None, "the query must be planned"
    answer = await planner.execute(op, None, connect, collect_ids=collect_ids, lens=lens)
    assert answer is not None
    return answer


def _headlines(answer: Answer) -> dict[str, Any]:
    nodes = orjson.loads(answer.body)["data"]["articles"]["nodes"]
    return {n["id"]: (n["headline"], n["pubStatus"]) for n in nodes}


@pytest.mark.anyio
async def test_a_document_without_variables_keeps_one_statement_per_lens(
    pool: asyncpg.Pool, conn: asyncpg.Connection[Any]
) -> None:
    withheld = await conn.fetchval("SELECT id FROM articles ORDER BY id LIMIT 1")
    assert withheld is not None, "the seeded template has articles"
    await writes.update(conn, "article", withheld, {"pubStatus": "withheld"}, changed_by="test")

    kept = _planner()
    cases = [(FULL, False), (PUBLIC, True), (FULL, True), (PUBLIC, False)]
    for _ in range(2):  # each case twice, the lenses alternating
        for lens, collect in cases:
            answer = await _answer(kept, pool, lens, collect_ids=collect)
            fresh = await _answer(_planner(), pool, lens, collect_ids=collect)
            assert answer.body == fresh.body
            assert answer.touched == fresh.touched
            assert bool(answer.touched) is collect
            headline, status = _headlines(answer)[withheld]
            assert status == "WITHHELD"
            # A public reader gets the recalled article's stub, without its headline.
            assert (headline is None) is (lens is PUBLIC), (lens, headline)
    op = kept.plan(QUERY, None)
    assert op is not None
    assert set(op.statements) == set(cases)
