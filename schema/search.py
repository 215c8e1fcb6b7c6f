"""``search(query:, types:)``: PostgreSQL full-text search (each kind's ``query`` filter and its
GIN index) across kinds, merged newest-change first into one union list."""

from __future__ import annotations

import asyncio
from enum import Enum
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from db import queries
from db.registry import fact_type
from schema.actors import Actor
from schema.articles import Article
from schema.claims import Claim
from schema.common import page_size
from schema.context import Context
from schema.deployments import Deployment
from schema.incidents import Incident
from schema.kinds import as_object

SearchResult = Annotated[Article | Actor | Claim | Deployment | Incident, strawberry.union("SearchResult")]


@strawberry.enum
class SearchType(Enum):
    ARTICLE = "article"
    ACTOR = "actor"
    CLAIM = "claim"
    DEPLOYMENT = "deployment"
    INCIDENT = "incident"


@strawberry.type
class SearchQueries:
    @strawberry.field(
        description='Full-text search (web syntax: words, "phrases", -exclusions, OR) across the given '
        "types (default: all), most recently changed first."
    )
    async def search(
        self, info: Info[Context, None], query: str, types: list[SearchType] | None = None, first: int = 20
    ) -> list[SearchResult]:
        size = page_size(first, None)
        kinds = [t.value for t in (types or list(SearchType))]
        ctx = info.context
        raw = {"query": query}
        parsed = {kind: queries.parse_filters(fact_type(kind), raw, location="query") for kind in kinds}

        async def one(kind: str) -> list[dict[str, Any]]:
            ctx.touch_list(kind)
            request = queries.PageRequest(limit=size, order="updatedAt", descending=True)
            async with ctx.connection() as conn:
                return (await queries.list_page(conn, kind, parsed[kind], request, lens=ctx.loaders.lens)).docs

        pages = await asyncio.gather(*(one(k) for k in dict.fromkeys(kinds)))
        docs = sorted((d for page in pages for d in page), key=lambda d: (d["updatedAt"], d["id"]), reverse=True)
        return [as_object(d) for d in docs[:size]]
