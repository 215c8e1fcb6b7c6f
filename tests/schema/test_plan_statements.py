"""A document without variables builds its SQL statement once per lens and id collection, not on
every request (schema/plan/run.py): its answers stay those of a freshly built statement however
the lenses alternate — a withheld article is a stub to a public reader and whole to a full one —
and ids are collected only where asked for. So does a document whose variables are only the ids
of root fields by id, each request binding its own ids: its answers, errors included (a malformed
id, an unknown one), are those of a fresh statement for the same variables; a document that uses
a variable anywhere else builds its statement on every request."""

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


async def _answer(
    planner: Planner,
    pool: asyncpg.Pool,
    lens: Lens,
    *,
    collect_ids: bool,
    query: str = QUERY,
    variables: dict[str, Any] | None = None,
) -> Answer:
    @contextlib.asynccontextmanager
    async def connect() -> AsyncIterator[Conn]:
        async with pool.acquire() as conn:
            yield conn

    op = planner.plan(query, None)
    assert op is not None, "the query must be planned"
    answer = await planner.execute(op, variables, connect, collect_ids=collect_ids, lens=lens)
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


BY_IDS = """query($a: ID!, $b: ID!) {
  a: claim(id: $a) { id statement quoteType speaker { id name } references { charStart article { id } } }
  b: claim(id: $b) { id statement }
  __typename
}"""


@pytest.mark.anyio
async def test_a_document_with_only_root_ids_keeps_its_statement_and_binds_each_requests_ids(
    pool: asyncpg.Pool, conn: asyncpg.Connection[Any]
) -> None:
    claims = [r["id"] for r in await conn.fetch("SELECT id FROM claims ORDER BY id LIMIT 6")]
    assert len(claims) == 6, "the seeded template has claims"
    unknown = claims[0][:-4] + "ZZZZ"
    pairs = [
        (claims[0], claims[1]),
        (claims[2], claims[3]),
        ("not-an-id", claims[4]),  # refused: a null with its error, the other root still answers
        (claims[5], unknown),  # not found
        ("act_01HF7YAT16YS30M2BWJXNZ8V39", claims[0]),  # an id of another kind is refused too
        (claims[1], claims[0]),
    ]
    kept = _planner()
    op = kept.plan(BY_IDS, None)
    assert op is not None and op.ids_only
    for lens in (FULL, PUBLIC):
        for a, b in pairs:
            variables = {"a": a, "b": b}
            answer = await _answer(kept, pool, lens, collect_ids=True, query=BY_IDS, variables=variables)
            fresh = await _answer(_planner(), pool, lens, collect_ids=True, query=BY_IDS, variables=variables)
            assert answer.body == fresh.body, variables
            assert answer.touched == fresh.touched
            assert {a, b} & set(claims) <= answer.touched
            if lens is FULL:  # a public reader may not see a claim whose sources were all withdrawn
                body = orjson.loads(answer.body)
                for key, wanted in variables.items():
                    got = body["data"][key]
                    assert (got["id"] if got else None) == (wanted if wanted in claims else None), (key, wanted)
                assert ("errors" in body) is (not {a, b} <= set(claims))
    assert set(op.statements) == {(FULL, True), (PUBLIC, True)}


@pytest.mark.parametrize(
    "query",
    [
        "query($id: ID!, $x: Boolean!) { claim(id: $id) { id statement @include(if: $x) } }",
        "query($id: ID!) { claim(id: $id) { id } node(id: $id) { id } }",
        "query($id: ID!) { node(id: $id) { id } }",
        "query($id: ID!) { article(id: $id) { id } }",
        "query($n: Int) { claims(first: $n) { nodes { id } } }",
    ],
)
def test_a_variable_used_other_than_as_a_root_id_keeps_nothing(query: str) -> None:
    op = _planner().plan(query, None)
    assert op is not None, "the query must be planned"
    assert not op.ids_only
