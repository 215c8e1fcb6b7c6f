"""No N+1: the SQL statements a query runs depend on its shape, not on how many rows it returns
(counted on the connections the GraphQL context acquires, via asyncpg's query logger) — on the
resolvers' path one per level and kind, on the planned path one per request."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import orjson
import pytest

from db.lens import FULL
from db.pool import Conn
from schema import build_schema
from schema.context import Context
from schema.limits import Limits
from schema.plan.run import Planner
from tests.schema.conftest import Corpus

THREE_LEVELS = """query($outlet: ID!, $n: Int!) {
  articles(filter: {outlet: $outlet}, first: $n) {
    nodes { id headline outlet { name }
      claims(first: 5) { nodes { id statement speaker { id name } subjects { name } references { article { id } } } } } } }"""


async def _logged() -> None:
    """Lets the query loggers run: asyncpg calls them with call_soon, and a release that never
    yields (db/pool.py's in-place release of an idle connection) returns before they have."""
    await asyncio.sleep(0)


async def _run(pool: asyncpg.Pool, query: str, variables: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    statements: list[str] = []
    ctx = Context(pool=pool, query_logger=lambda q: statements.append(q.query))
    result = await build_schema().execute(query, variable_values=variables, context_value=ctx)
    await _logged()
    assert not result.errors, result.errors
    assert result.data is not None
    return result.data, statements


@pytest.mark.anyio
async def test_three_levels_over_100_articles_take_a_fixed_number_of_statements(
    pool: asyncpg.Pool, corpus: Corpus
) -> None:
    data, statements = await _run(pool, THREE_LEVELS, {"outlet": corpus.outlet, "n": 100})
    articles = data["articles"]["nodes"]
    assert len(articles) == 100
    claims = [c for a in articles for c in a["claims"]["nodes"]]
    assert len(claims) == 500
    assert all(c["speaker"]["id"] in corpus.actors for c in claims)
    # One per level and kind: the articles page, their outlets (actors by id), the claims of all
    # articles (one LATERAL), the claims' speakers and subjects (actors by id, one batch), and the
    # referenced articles (articles by id).
    assert len(statements) == 5, statements

    _, few = await _run(pool, THREE_LEVELS, {"outlet": corpus.outlet, "n": 3})
    assert len(few) == len(statements), "statement count must not depend on row count"


@pytest.mark.anyio
async def test_total_count_runs_only_when_selected(pool: asyncpg.Pool, corpus: Corpus) -> None:
    query = "query($o: ID!) { claims(filter: {reportedBy: $o}, first: 1) { nodes { id } %s } }"
    _, without = await _run(pool, query % "", {"o": corpus.outlet})
    data, with_count = await _run(pool, query % "totalCount", {"o": corpus.outlet})
    assert len(with_count) == len(without) + 1
    assert any("count(*)" in s for s in with_count) and not any("count(*)" in s for s in without)
    assert data["claims"]["totalCount"] == len(corpus.claims)


async def _planned(pool: asyncpg.Pool, query: str, variables: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    statements: list[str] = []

    def logger(q: Any) -> None:
        statements.append(q.query)

    @contextlib.asynccontextmanager
    async def connect() -> AsyncIterator[Conn]:
        async with pool.acquire() as conn:
            conn.add_query_logger(logger)
            try:
                yield conn
            finally:
                conn.remove_query_logger(logger)

    planner = Planner(build_schema()._schema, Limits(), production=False)
    plan = planner.plan(query, None)
    assert plan is not None, "the three-level query must be planned"
    answer = await planner.execute(plan, variables, connect, collect_ids=True, lens=FULL)
    await _logged()
    assert answer is not None
    body = orjson.loads(answer.body)
    assert "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data, statements


@pytest.mark.anyio
async def test_planned_three_levels_take_one_statement_over_3_and_over_100_articles(
    pool: asyncpg.Pool, corpus: Corpus
) -> None:
    data, statements = await _planned(pool, THREE_LEVELS, {"outlet": corpus.outlet, "n": 100})
    assert len(data["articles"]["nodes"]) == 100
    assert len([c for a in data["articles"]["nodes"] for c in a["claims"]["nodes"]]) == 500
    assert len(statements) == 1, statements
    resolved, _ = await _run(pool, THREE_LEVELS, {"outlet": corpus.outlet, "n": 100})
    assert data == resolved

    _, few = await _planned(pool, THREE_LEVELS, {"outlet": corpus.outlet, "n": 3})
    assert len(few) == 1


@pytest.mark.anyio
async def test_planned_total_count_is_counted_only_when_selected(pool: asyncpg.Pool, corpus: Corpus) -> None:
    query = "query($o: ID!) { claims(filter: {reportedBy: $o}, first: 1) { nodes { id } %s } }"
    _, without = await _planned(pool, query % "", {"o": corpus.outlet})
    data, with_count = await _planned(pool, query % "totalCount", {"o": corpus.outlet})
    assert len(without) == len(with_count) == 1
    assert "count(*)" in with_count[0] and "SELECT count(*) FROM claims" not in without[0]
    assert data["claims"]["totalCount"] == len(corpus.claims)
