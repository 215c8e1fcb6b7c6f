"""REST's planned pages (api/rest/plan.py) learn whether rows follow them from the page itself: it
reads one row past its end, and hasMore and nextCursor both come from that row. No probe runs the
page's filter again (a bbox's exact test on every incident in the box), a page that ends exactly at
the last row says hasMore false, and an empty page says hasMore false and nextCursor null."""

from __future__ import annotations

import random
import string
from typing import Any

import asyncpg
import orjson
import pytest

from api.rest import plan
from db import queries, writes
from db.lens import FULL

pytestmark = pytest.mark.anyio


def _executed_init_plans(node: dict[str, Any]) -> int:
    """How many InitPlans below ``node`` (an EXPLAIN ANALYZE JSON plan) ran."""
    ran = int(node.get("Parent Relationship") == "InitPlan" and node.get("Actual Loops", 0) > 0)
    return ran + sum(_executed_init_plans(child) for child in node.get("Plans", []))


async def _page(conn: asyncpg.Connection[Any], incident_type: str, limit: int) -> tuple[dict[str, Any], int]:
    """The first page of ``limit`` incidents of ``incident_type`` and the InitPlans its statement ran."""
    obj = plan.document("incident", fields=None, expand=())
    request = queries.PageRequest(limit, None, "createdAt", False)
    root = plan.list_root("incident", obj, {"incidentType": incident_type}, request, FULL)
    sql, values = plan.Statements().get(root, FULL, None, key=("test", incident_type, limit))
    page = orjson.loads((await conn.fetchrow(sql, *values))["j"])
    explained = await conn.fetchval(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", *values)
    if isinstance(explained, str):  # json arrives as text, or decoded by the connection's codec
        explained = orjson.loads(explained)
    return page, _executed_init_plans(explained[0]["Plan"])


async def test_a_page_reads_whether_rows_follow_without_a_probe(conn: asyncpg.Connection[Any]) -> None:
    kind = "probe" + "".join(random.choices(string.ascii_lowercase, k=10))
    for _ in range(3):
        await writes.create(conn, "incident", {"incidentType": kind}, changed_by="test")

    page, probes = await _page(conn, kind, 2)
    assert page["hasMore"] is True
    assert page["nextCursor"] is not None
    assert len(page["data"]) == 2  # the row read past the page is not shown
    assert probes == 0

    last, probes = await _page(conn, kind, 3)
    assert (last["hasMore"], last["nextCursor"], len(last["data"])) == (False, None, 3)
    assert probes == 0

    empty, _ = await _page(conn, kind + "x", 2)
    assert (empty["hasMore"], empty["nextCursor"], empty["data"]) == (False, None, [])
