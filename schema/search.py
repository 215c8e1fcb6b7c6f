"""``search(query:, types:, first:, after:)``: PostgreSQL full-text search across kinds as one
Relay connection of the ``SearchResult`` union, most relevant first (db/search.py ranks, pages
and cuts snippets; the read planner builds the same SQL)."""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum
from typing import Annotated, Any

import strawberry
from strawberry.types import Info
from strawberry.types.nodes import FragmentSpread, InlineFragment, SelectedField, Selection

from db import pagination, queries, search
from db.lens import Lens
from db.registry import fact_type
from schema.actors import Actor
from schema.articles import Article
from schema.claims import Claim
from schema.common import DateTime, PageInfo, from_doc, page_size
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


@strawberry.type(
    description="A run of a search snippet: plain text, never markup (ts_headline does not escape what "
    "it cuts, so the parts are given apart instead of as marked-up HTML). Escape `text` as any text, "
    "and mark the parts whose `match` is true (e.g. wrap them in <mark>)."
)
class SnippetPart:
    text: str
    match: bool
    doc: strawberry.Private[dict[str, Any]]


@strawberry.type(description="One search match, with where it stands and what in it matched.")
class SearchEdge:
    cursor: str
    node: SearchResult
    rank: float = strawberry.field(
        description="Relevance (ts_rank_cd over the weighted search text: headline, name or statement "
        "first, then summary or quote, then body); edges come in decreasing rank, ties newest id first."
    )
    snippet_parts: strawberry.Private[list[dict[str, Any]] | None]

    @strawberry.field(
        description="An excerpt of the matched text (15 to 35 words around the best match), in order: "
        "concatenate the parts' text to read it. Markup tags in the text are left out."
    )
    def snippet(self) -> list[SnippetPart]:
        return [from_doc(SnippetPart, p) for p in self.snippet_parts or ()]


@strawberry.type(
    description="Search matches, most relevant first. `totalCount` costs a count, so it runs only when selected."
)
class SearchConnection:
    edges: list[SearchEdge]
    nodes: list[SearchResult]
    page_info: PageInfo
    request: strawberry.Private[search.SearchRequest]
    lens: strawberry.Private[Lens]

    @strawberry.field(description="How many facts match, across all pages.")
    async def total_count(self, info: Info[Context, None]) -> int:
        async with info.context.connection() as conn:
            return await search.count(conn, self.request, self.lens)


def search_request(
    query: str, types: Iterable[Any] | None, first: int | None, after: str | None
) -> search.SearchRequest:
    """The validated arguments of ``search`` (shared with the read planner, so refusals read alike)."""
    size = page_size(first, None)
    kinds = dict.fromkeys(getattr(k, "value", k) for k in (types or list(SearchType)))
    raw = {"query": query}
    filters = {kind: queries.parse_filters(fact_type(kind), raw, location="query") for kind in kinds}
    parsed = next(iter(filters.values()))["query"]
    return search.SearchRequest(parsed, filters, size, search.decode_after(after, param="after"))


def search_time(after: str | None, as_of: str | None) -> str | None:
    """The time a search page reads at: its asOf, or the one its ``after`` cursor carries."""
    return pagination.as_of_of(after, as_of, order=search.RELEVANCE, param="after")


def _selects(selections: Iterable[Selection], *path: str) -> bool:
    """Whether ``path`` (field names, through fragments) is selected under ``selections``."""
    for s in selections:
        if isinstance(s, FragmentSpread | InlineFragment):
            if _selects(s.selections, *path):
                return True
        elif isinstance(s, SelectedField) and s.name == path[0]:
            if len(path) == 1 or _selects(s.selections, *path[1:]):
                return True
    return False


@strawberry.type
class SearchQueries:
    @strawberry.field(
        description='Full-text search (web syntax: words, "phrases", -exclusions, OR) across the given '
        "types (default: all), most relevant first, with snippets of what matched."
    )
    async def search(
        self,
        info: Info[Context, None],
        query: str,
        types: list[SearchType] | None = None,
        first: int = 20,
        after: str | None = None,
        as_of: DateTime | None = None,
    ) -> SearchConnection:
        ctx = info.context
        # The time first, as the planner binds it (its ``when`` before its arguments).
        lens = ctx.read_at(info, search_time(after, as_of)).lens
        request = search_request(query, types, first, after)
        for kind in request.filters:
            ctx.touch_list(kind)
        snippets = _selects([s for f in info.selected_fields for s in f.selections], "edges", "snippet")
        async with ctx.connection() as conn:
            results = await search.page(conn, request, lens, snippets=snippets)
        nodes = [as_object(h.doc) for h in results.hits]
        edges = [
            SearchEdge(cursor=h.cursor, node=n, rank=h.rank, snippet_parts=h.snippet)
            for h, n in zip(results.hits, nodes, strict=True)
        ]
        cursors = [h.cursor for h in results.hits]
        info_ = PageInfo(
            has_next_page=results.has_more,
            has_previous_page=after is not None,
            start_cursor=cursors[0] if cursors else None,
            end_cursor=cursors[-1] if cursors else None,
        )
        return SearchConnection(edges=edges, nodes=nodes, page_info=info_, request=request, lens=lens)
