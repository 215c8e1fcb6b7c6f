"""The fact explorer at /explore (issue 14) and the / index that links to it. The page itself is
static: ES modules and CSS under api/static/explore/, served by the /static mount (api/docs.py),
talking only to the public GraphQL API and the event stream, as a partner's frontend would."""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

PAGE = Path(__file__).resolve().parent / "static" / "explore" / "index.html"
# The overview of all facts (issue 28): facets, a timeline, a map and totals.
OVERVIEW = PAGE.with_name("overview.html")

INDEX_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>newsfacts</title><link rel="stylesheet" href="/static/explore/explore.css"></head>
<body><main class="index"><h1>newsfacts</h1>
<p>Structured news facts, each tied to the words that support it.</p>
<ul>
<li><a href="/explore">Fact explorer</a>: articles with every fact highlighted, its history and live changes</li>
<li><a href="/explore/overview">Overview</a>: every fact at once, by facet, over time and on a map, with totals</li>
<li><a href="/graphql">GraphiQL</a>: the GraphQL API</li>
<li><a href="/docs">REST reference</a></li>
</ul></main></body></html>
"""

# The page changes with a deploy, not per request; a short max-age keeps a fresh clone's edits visible.
_CACHE = {"Cache-Control": "public, max-age=60"}


async def explore(request: Request) -> Response:
    return HTMLResponse(PAGE.read_bytes(), headers=_CACHE)


async def overview(request: Request) -> Response:
    return HTMLResponse(OVERVIEW.read_bytes(), headers=_CACHE)


async def index(request: Request) -> Response:
    return HTMLResponse(INDEX_HTML, headers=_CACHE)


routes: list[BaseRoute] = [
    Route("/explore", explore, methods=["GET"]),
    Route("/explore/overview", overview, methods=["GET"]),
    Route("/", index, methods=["GET"]),
]
