"""Test data through the real write service: make_<kind>(conn, **overrides) returns the stored document."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from db import writes

BODY = "Officials said the convoy reached the port on Tuesday. “We will not retreat,” the minister said."


async def make_actor(conn: asyncpg.Connection[Any], **overrides: Any) -> dict[str, Any]:
    record = {"kind": "person", "name": f"Person {uuid.uuid4().hex[:6]}", **overrides}
    return await writes.create(conn, "actor", record, changed_by="test")


async def make_article(conn: asyncpg.Connection[Any], **overrides: Any) -> dict[str, Any]:
    record = {"uri": f"urn:test:{uuid.uuid4().hex}", "headline": "Convoy reaches port", "body": BODY, **overrides}
    return await writes.create(conn, "article", record, changed_by="test")


def quote_ref(article: dict[str, Any], text: str) -> dict[str, Any]:
    """A reference quoting ``text`` where it first occurs in the article body."""
    start = article["body"].index(text)
    return {"article": article["id"], "charStart": start, "charEnd": start + len(text), "quoteText": text}


async def make_claim(
    conn: asyncpg.Connection[Any], article: dict[str, Any] | None = None, **overrides: Any
) -> dict[str, Any]:
    article = article or await make_article(conn)
    record = {
        "statement": "The minister said they will not retreat.",
        "quote": "We will not retreat",
        "quoteType": "direct",
        "references": [quote_ref(article, "We will not retreat")],
        **overrides,
    }
    return await writes.create(conn, "claim", record, changed_by="test")
