"""A generated corpus of its own for the GraphQL tests: 100 articles with 5 claims each, all
reported by one outlet no other test uses, so filters by that outlet see exactly this corpus."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from db import bulk, generate
from db.pool import connect

ARTICLES = 100
CLAIMS = 500


@dataclass(frozen=True)
class Corpus:
    outlet: str
    articles: list[str]
    claims: list[str]
    actors: list[str]


@pytest.fixture(scope="module")
def corpus(database_url: str) -> Iterator[Corpus]:
    """The generated corpus, loaded into the module's database."""
    seed = random.randrange(1, 2**31)
    records = list(generate.records(ARTICLES, CLAIMS, seed=seed))

    async def load() -> None:
        conn = await connect(database_url)
        try:
            items: list[tuple[int, str, Any]] = [(i, r.pop("object"), r) for i, r in enumerate(records)]
            report = await bulk.load(conn, items, changed_by="test-graphql")
            assert not report.rejected, report.rejected[:3]
        finally:
            await conn.close()

    outlets = {r["outlet"] for r in records if "outlet" in r and r.get("headline")}
    assert len(outlets) == 1, "the generator's small corpora have one outlet"
    ids = {kind: [r["id"] for r in records if r.get("object") == kind] for kind in ("article", "claim", "actor")}
    asyncio.run(load())
    yield Corpus(outlets.pop(), ids["article"], ids["claim"], ids["actor"])
