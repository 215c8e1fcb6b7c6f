"""Suggested facts for an article: claims, quantities and actors found in its body, each with the
body to create it and, when the article already has it, the fact it repeats. Nothing is stored.

One entry point, ``suggest``, which REST (api/rest/suggestions.py) and GraphQL
(schema/suggestions.py) call. It lives in db/ beside the write service because it reads the
actors table and the article's facts, and its output is held to that service's rules; the
extraction itself (``engine``) is pure text work behind a small protocol, so a second engine can
be added and compared by bench/bench_suggest.py."""

from __future__ import annotations

import asyncio
from typing import Any

from db.errors import ArticleTooLarge, NotFound
from db.ids import is_id
from db.pool import Conn
from db.suggestions import shape, store
from db.suggestions.engine import ENGINES, Engine
from db.suggestions.gazetteer import Gazetteer

# Longest body read (code points): about 16,000 words, under a second of CPU. Larger is 413.
MAX_CHARS = 100_000


def _empty(article_id: str, engine: Engine, reason: str) -> dict[str, Any]:
    return {"object": "suggestions", "article": article_id, "engine": engine.name, "reason": reason, "suggestions": []}


async def suggest(conn: Conn, article_id: str, *, engine: str = "rules") -> dict[str, Any]:
    """``{"object": "suggestions", "article", "engine", "reason", "suggestions": [...]}`` for the
    article's current body. An unknown article is NotFound; a body over MAX_CHARS is
    ArticleTooLarge; an empty, withheld, canceled or retracted one gets no suggestions and a reason."""
    rules = ENGINES[engine]
    if not isinstance(article_id, str) or not is_id(article_id, "article"):
        raise NotFound(f"no article {article_id!r}")
    article = await store.article(conn, article_id)
    if article is None:
        raise NotFound(f"no article {article_id}")
    if article.retracted:
        return _empty(article.id, rules, "the article is retracted: facts cannot cite it")
    if article.pub_status != "usable":
        return _empty(article.id, rules, f"the article is {article.pub_status}: facts cannot cite it until released")
    if not article.body.strip():
        return _empty(article.id, rules, "the article has no body")
    if len(article.body) > MAX_CHARS:
        raise ArticleTooLarge(
            f"the article body has {len(article.body)} characters; suggestions read at most {MAX_CHARS}"
        )
    gazetteer = Gazetteer(await store.known_actors(conn, article.body))
    facts = await store.existing(conn, article.id)
    # Pure CPU (about 16 ms per 1,000 words): off the event loop, so other requests go on meanwhile.
    made = await asyncio.to_thread(lambda: shape.suggestions(article, rules.extract(article.body, gazetteer), facts))
    return {
        "object": "suggestions",
        "article": article.id,
        "engine": rules.name,
        "reason": None,
        "suggestions": made,
    }
