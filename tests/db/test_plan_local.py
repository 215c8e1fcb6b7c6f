"""A payload selection built in Python (db/plan/local.py) is what the planned statement builds from
the same document in PostgreSQL: the same JSON and the same ids read, for constants, stored values
(absent ones too), enum names (unknown values too) and @include/@skip; anything else is left to
the statement."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from db.lens import FULL
from db.plan import local
from db.plan import tree as t
from db.plan.sql import Statement, statement
from db.pool import Conn

pytestmark = pytest.mark.anyio

NAMES = (("actor.created", "ACTOR_CREATED"), ("claim.corrected", "CLAIM_CORRECTED"))
OBJ = t.Obj(
    "actor",
    (
        t.Field("__typename", t.Const("Event")),
        t.Field("id", t.Scalar("id")),
        t.Field("sequence", t.Scalar("sequence")),
        t.Field("type", t.EnumScalar("type", NAMES)),
        t.Field("data", t.Scalar("data")),
        t.Field("missing", t.Scalar("notThere")),
        t.Field("shown", t.Scalar("objectId"), include=lambda variables: variables["show"]),
        t.Field("hidden", t.Scalar("objectId"), include=lambda variables: not variables["show"]),
    ),
)
DOCS: list[dict[str, Any]] = [
    {"id": "evt_1", "sequence": 7, "type": "actor.created", "objectId": "act_1", "data": {"name": "A", "n": [1, 2.5]}},
    {"id": "evt_2", "sequence": 8, "type": "not.a.type", "objectId": "act_2", "data": None},
    {"sequence": 9, "type": 3, "objectId": "act_3", "data": "text"},
]


async def _in_postgres(conn: Conn, obj: t.Obj, variables: Any, collect_ids: bool, doc: dict[str, Any]) -> Any:
    stmt = Statement(variables, collect_ids=collect_ids, lens=FULL)
    sql = statement([stmt.root(t.Payload(obj, lambda _v: doc))], collect_ids=collect_ids)
    row = await conn.fetchrow(sql, *stmt.params.values)
    assert row is not None
    return orjson.loads(row[0]), frozenset(row[1].split()) if row[1] else frozenset()


@pytest.mark.parametrize("collect_ids", [True, False])
@pytest.mark.parametrize("show", [True, False])
async def test_built_here_as_in_postgres(migrated_conn: Conn, collect_ids: bool, show: bool) -> None:
    variables = {"show": show}
    render = local.render(OBJ, variables, collect_ids)
    assert render is not None
    for doc in DOCS:
        body, read = render(doc)
        assert (body, read) == await _in_postgres(migrated_conn, OBJ, variables, collect_ids, doc)


def test_anything_else_is_left_to_the_statement() -> None:
    embedded = t.Field("place", t.Embedded("place", t.Obj(None, (t.Field("name", t.Scalar("name")),)), many=False))
    assert local.render(t.Obj(None, (*OBJ.fields, embedded)), {"show": True}, True) is None
    # ... unless the field is not selected.
    skipped = t.Field("place", embedded.value, include=lambda _variables: False)
    assert local.render(t.Obj(None, (*OBJ.fields, skipped)), {"show": True}, True) is not None
