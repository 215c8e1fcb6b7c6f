"""The statement of an NDJSON export: a whole filtered listing as one text column, each row one
document's JSON text, which the export streams as it is.

PostgreSQL writes each document with ``json_build_object`` from the row's columns, through the read
planner's mapping of document keys to columns (db/plan/sources.py, derived from the kind's
declaration) — the same document as ``<kind>_doc``, in up to half the time: ``<kind>_doc``
builds jsonb, and jsonb's text output walks the document a second time (docs/benchmarks/export.md).
Keys come in jsonb's order (shorter first, then
bytewise), the order of the pages' documents. ``fields`` builds only the chosen keys, as a page's
``fields`` keeps them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from db.geo import distance_sql
from db.lens import Lens
from db.params import Params
from db.plan.sources import row_columns
from db.queries import PageRequest, page_clauses
from db.registry import fact_type

# json_build_object takes at most 100 arguments, two a key.
_MAX_KEYS = 50


def jsonb_order(key: str) -> tuple[int, str]:
    """jsonb sorts an object's keys by length, then bytewise (our keys are ASCII)."""
    return len(key), key


def export_sql(
    kind: str,
    filters: Mapping[str, Any],
    order: str = "createdAt",
    *,
    lens: Lens,
    descending: bool = False,
    fields: frozenset[str] | None = None,
) -> tuple[str, list[Any]]:
    """The SQL and parameters of a whole filtered listing of ``kind`` in ``order``, seen through
    ``lens``, one document's JSON text a row (only the keys in ``fields`` when given); ``filters``
    must come from ``db.queries.parse_filters``."""
    t = fact_type(kind)
    params = Params()
    columns = {key: template.format(a=t.alias) for key, template in row_columns(kind).items()}
    geometry = t.analytics.geometry
    if geometry is not None and "near" in filters and fields is None:
        # As a listed document has it (db.queries.doc_sql); ``fields`` cannot name it.
        columns["distanceKm"] = distance_sql(f"{t.alias}.{geometry.column}", params.add(filters["near"]))
    keys = sorted((k for k in columns if fields is None or k in fields), key=jsonb_order)
    assert len(keys) <= _MAX_KEYS, kind
    doc = "json_build_object(" + ", ".join(f"'{k}', {columns[k]}" for k in keys) + ")"
    where, order_by, _ = page_clauses(t, filters, PageRequest(order=order, descending=descending), params)
    sql = f"SELECT {doc}::text FROM {lens.relation(kind, params)} {t.alias}"  # noqa: S608 - declared names only
    if where:
        sql += " WHERE " + " AND ".join(where)
    return sql + f" ORDER BY {order_by}", params.values
