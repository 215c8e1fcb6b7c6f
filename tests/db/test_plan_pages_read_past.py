"""A page read backward (GraphQL's ``last``/``before``) learns whether rows precede it from the page
itself, as a forward page learns whether rows follow it (tests/api/test_rest_plan.py): it reads one
row past its far end, and hasPreviousPage comes from that row, with no probe of the page's filter.
So does a page of the corrections feed, for hasNextPage."""

from __future__ import annotations

import random
import string
from typing import Any

import asyncpg
import orjson
import pytest

from db import corrections, queries, writes
from db.lens import FULL
from db.plan import tree as t
from db.plan.sql import Statement, statement
from tests.api.test_rest_plan import _executed_init_plans

pytestmark = pytest.mark.anyio


async def _planned(conn: asyncpg.Connection[Any], root: t.Root) -> tuple[dict[str, Any], int]:
    """``root``'s JSON from the statement the planner builds for GraphQL, and the InitPlans it ran."""
    built = Statement(None, collect_ids=False, lens=FULL)
    sql, values = statement([built.root(root)], collect_ids=False), built.params.values
    page = orjson.loads((await conn.fetchrow(sql, *values))["j0"])
    explained = await conn.fetchval(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", *values)
    if isinstance(explained, str):  # json arrives as text, or decoded by the connection's codec
        explained = orjson.loads(explained)
    return page, _executed_init_plans(explained[0]["Plan"])


async def _last(conn: asyncpg.Connection[Any], incident_type: str, size: int) -> tuple[dict[str, Any], int]:
    """``incidents(filter: {incidentType}, last: size) { nodes { id } pageInfo { … } }`` as the
    planner builds it, and the InitPlans its statement ran."""
    info = t.PageInfo((t.Field("hasPreviousPage", t.PageFlag("previous")), t.Field("hasNextPage", t.PageFlag("next"))))
    connection = t.Connection((t.Field("nodes", t.Nodes(t.Obj("incident", (t.Field("id", t.Scalar("id")),)))),
                               t.Field("pageInfo", info)))  # fmt: skip
    request = queries.PageRequest(size, None, "createdAt", False, backward=True)
    return await _planned(
        conn, t.RootList("incident", connection, lambda _: ({"incidentType": incident_type}, request))
    )


async def test_a_backward_page_reads_whether_rows_precede_it_without_a_probe(conn: asyncpg.Connection[Any]) -> None:
    kind = "backward" + "".join(random.choices(string.ascii_lowercase, k=10))
    ids = [(await writes.create(conn, "incident", {"incidentType": kind}, changed_by="test"))["id"] for _ in range(3)]

    page, probes = await _last(conn, kind, 2)
    assert [n["id"] for n in page["nodes"]] == ids[1:]  # the last two, in order; the row read past them not shown
    assert page["pageInfo"] == {"hasPreviousPage": True, "hasNextPage": False}
    assert probes == 0

    whole, probes = await _last(conn, kind, 3)
    assert [n["id"] for n in whole["nodes"]] == ids
    assert whole["pageInfo"] == {"hasPreviousPage": False, "hasNextPage": False}
    assert probes == 0

    empty, _ = await _last(conn, kind + "x", 2)
    assert empty == {"nodes": [], "pageInfo": {"hasPreviousPage": False, "hasNextPage": False}}


async def _corrections(conn: asyncpg.Connection[Any], fact_id: str, size: int) -> tuple[dict[str, Any], int]:
    """``corrections(first: size) { nodes { factId version } pageInfo { hasNextPage } }`` of one fact."""
    obj = t.Obj(None, (t.Field("factId", t.Scalar("factId")), t.Field("version", t.Scalar("version"))))
    info = t.PageInfo((t.Field("hasNextPage", t.PageFlag("next")),))
    connection = t.Connection((t.Field("nodes", t.Nodes(obj)), t.Field("pageInfo", info)))
    return await _planned(conn, t.Corrections(connection, lambda _: (corrections.Filter(fact_id=fact_id), size, None)))


async def test_a_corrections_page_reads_whether_rows_follow_it_without_a_probe(conn: asyncpg.Connection[Any]) -> None:
    fact = await writes.create(conn, "incident", {"incidentType": "corrected"}, changed_by="test")
    for n in range(3):
        patch = {"description": f"version {n + 2}"}
        await writes.update(conn, "incident", fact["id"], patch, changed_by="test", reason="wrong", correction=True)

    page, probes = await _corrections(conn, fact["id"], 2)
    assert [n["version"] for n in page["nodes"]] == [4, 3]  # newest first
    assert page["pageInfo"] == {"hasNextPage": True}
    assert probes == 0

    whole, probes = await _corrections(conn, fact["id"], 3)
    assert [n["version"] for n in whole["nodes"]] == [4, 3, 2]
    assert whole["pageInfo"] == {"hasNextPage": False}
    assert probes == 0
