"""The seed: the Atlantic/Maduro article and every fact annotated in it (db/fixtures/), loaded
through the bulk loader. Idempotent: a database that has the seed article already is left alone."""

from __future__ import annotations

import io
from importlib import resources
from typing import Any

import orjson

from db import bulk
from db.pool import Conn

FIXTURE = "atlantic-maduro-exile.json"


def fixture_document() -> dict[str, Any]:
    """The seed document as shipped in the package."""
    document: dict[str, Any] = orjson.loads((resources.files("db") / "fixtures" / FIXTURE).read_bytes())
    return document


async def seed(conn: Conn) -> bulk.LoadReport | None:
    """Load the seed unless its article exists; returns the report, or None when already seeded."""
    document = fixture_document()
    uri = document["articles"][0]["uri"]
    if await conn.fetchval("SELECT 1 FROM articles WHERE uri = $1", uri):
        return None
    raw = orjson.dumps(document)
    return await bulk.load(conn, bulk.read_records(io.BytesIO(raw)), changed_by="seed")
