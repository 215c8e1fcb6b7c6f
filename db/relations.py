"""Batched reverse relations for DataLoaders: for many parent ids at once, the facts that point at
each (an actor's claims, an article's deployments, …), their counts, and revisions of many facts.
A relation is named by the FactType filter that expresses it, so list filters and relations agree."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from db import pagination
from db.lens import Lens
from db.params import Params
from db.pool import Conn
from db.registry import fact_type

RELATED_ORDER = "createdAt"

# Relations that are not list filters: claims that link to a claim (supersede, contradict, same as).
_EXTRA: dict[tuple[str, str], str] = {
    (
        "claim",
        "linksTo",
    ): '(c.supersedes_ids || c.contradicts_ids || c.same_as_ids) @> ARRAY[{p}::text COLLATE "default"]',
}


def relation_where(kind: str, relation: str, parent: str) -> str:
    """The WHERE fragment (in the kind's table alias) selecting facts of ``kind`` related by
    ``relation`` to the parent id the SQL expression ``parent`` yields."""
    t = fact_type(kind)
    f = t.filter(relation)
    spec = f.sql if f is not None else _EXTRA.get((kind, relation))
    if spec is None:
        raise ValueError(f"{relation!r} is not a relation of {t.table}")
    return spec.format(p=parent)


def relation_order(kind: str, relation: str) -> str:
    """The ORDER BY key (in the kind's alias) of a relation's pages: the id. For a relation tested
    by array containment (GIN), the id as an expression: PostgreSQL estimates such a condition at a
    fixed 0.5% of the table, so under a small LIMIT it would walk the primary key in id order and
    filter — every row of the table when the parent's facts are the newest — rather than probe the
    GIN index and sort the few rows it finds. An expression no index can order forces the probe."""
    a = fact_type(kind).alias
    return f"({a}.id || '')" if "@>" in relation_where(kind, relation, "$0") else f"{a}.id"


def _relation_sql(kind: str, relation: str, lens: Lens, params: Params) -> tuple[str, str]:
    """(relation + alias, WHERE fragment with the parent id as ``k.key``) of one relation."""
    t = fact_type(kind)
    return f"{lens.relation(kind, params)} {t.alias}", relation_where(kind, relation, "k.key")


async def related_pages(
    conn: Conn, kind: str, relation: str, keys: Sequence[tuple[str, str | None]], limit: int, *, lens: Lens
) -> list[tuple[list[dict[str, Any]], list[str], bool]]:
    """For each (parent id, after id) in ``keys``: up to ``limit`` docs of ``kind`` related to the
    parent by ``relation``, ordered by id after ``after``, their cursors, and whether more follow —
    all in one statement (a LATERAL join per key)."""
    t = fact_type(kind)
    params = Params.of([k for k, _ in keys], [after for _, after in keys])
    source, where = _relation_sql(kind, relation, lens, params)
    a = t.alias
    # Only the relation's own SQL and the table name are interpolated; both come from FactType specs.
    sql = f"""
        SELECT k.ord, x.id, x.doc FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS k(key, after, ord)
        CROSS JOIN LATERAL (
            SELECT {a}.id, {t.doc_function}({a}) AS doc FROM {source}
            WHERE {where} AND (k.after IS NULL OR {a}.id > k.after)
            ORDER BY {relation_order(kind, relation)} LIMIT {int(limit) + 1}
        ) x
        ORDER BY k.ord, x.id"""  # noqa: S608
    # The limit is a literal, not a parameter: with ``LIMIT $n`` PostgreSQL's generic plan (used
    # from a prepared statement's 6th run) walks the primary key filtering every row (~800 ms on
    # 10k claims) instead of probing the relation's GIN index (~2 ms). At most 100 distinct texts.
    rows = await conn.fetch(sql, *params.values)
    grouped: list[list[tuple[str, dict[str, Any]]]] = [[] for _ in keys]
    for r in rows:
        grouped[r["ord"] - 1].append((r["id"], r["doc"]))
    out = []
    for items in grouped:
        page = items[:limit]
        cursors = [pagination.encode(pagination.Cursor(RELATED_ORDER, i, i, lens.as_of)) for i, _ in page]
        out.append(([d for _, d in page], cursors, len(items) > limit))
    return out


async def related_counts(conn: Conn, kind: str, relation: str, parents: Sequence[str], *, lens: Lens) -> list[int]:
    """How many facts of ``kind`` relate to each parent by ``relation``, in one statement."""
    params = Params.of(list(parents))
    source, where = _relation_sql(kind, relation, lens, params)
    sql = f"""SELECT k.ord, (SELECT count(*) FROM {source} WHERE {where}) AS n
              FROM unnest($1::text[]) WITH ORDINALITY AS k(key, ord) ORDER BY k.ord"""  # noqa: S608
    rows = await conn.fetch(sql, *params.values)
    return [int(r["n"]) for r in rows]


# A revision's document keys and the SQL that reads each from ``revisions r``. The time is rendered
# by PostgreSQL, as in every fact document, so REST, the GraphQL resolvers and the read planner
# (db/plan/) print it identically; so is the diff from the previous version (snapshot_diff, 0008,
# one primary-key probe for the previous snapshot).
REVISION_COLUMNS: dict[str, str] = {
    "factId": "{a}.fact_id",
    "factType": "{a}.fact_type",
    "version": "{a}.version",
    "changeKind": "{a}.change_kind",
    "reason": "{a}.reason",
    "changedBy": "{a}.changed_by",
    "changedAt": "to_jsonb({a}.changed_at) #>> '{{}}'",
    "snapshot": "{a}.snapshot",
    "diff": (
        "snapshot_diff((SELECT prev.snapshot FROM revisions prev"
        " WHERE prev.fact_id = {a}.fact_id AND prev.version = {a}.version - 1), {a}.snapshot)"
    ),
}
# What a read-scope or anonymous caller gets of a revision (the recall rules, 0016): its snapshot and
# the diff without the references into articles whose text is hidden now.
PUBLIC_REVISION_COLUMNS: dict[str, str] = {
    **REVISION_COLUMNS,
    "snapshot": "nf_public_doc({a}.snapshot)",
    "diff": (
        "snapshot_diff(nf_public_doc((SELECT prev.snapshot FROM revisions prev"
        " WHERE prev.fact_id = {a}.fact_id AND prev.version = {a}.version - 1)), nf_public_doc({a}.snapshot))"
    ),
}


def revision_columns(public: bool) -> dict[str, str]:
    """The row mapping of a revision for a caller (public: under the recall rules)."""
    return PUBLIC_REVISION_COLUMNS if public else REVISION_COLUMNS


def _revision_select(public: bool) -> str:
    return ", ".join(f'{sql.format(a="r")} AS "{key}"' for key, sql in revision_columns(public).items())


async def revisions_of(conn: Conn, fact_ids: Sequence[str], *, lens: Lens) -> list[list[dict[str, Any]]]:
    """Every version of each fact the lens shows, oldest first, for many facts in one statement."""
    params = Params.of(list(fact_ids))
    rows = await conn.fetch(
        f"""SELECT {_revision_select(lens.public)} FROM revisions r
            WHERE r.fact_id = ANY($1::text[]) AND {lens.revisions_where("r", params)}
            ORDER BY r.fact_id, r.version""",  # noqa: S608 - constant columns
        *params.values,
    )
    by_fact: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_fact.setdefault(r["factId"], []).append(dict(r))
    return [by_fact.get(i, []) for i in fact_ids]


async def article_by_uri(conn: Conn, uri: str, *, lens: Lens) -> dict[str, Any] | None:
    params = Params.of(uri)
    source = lens.relation("article", params)
    doc = await conn.fetchval(f"SELECT article_doc(r) FROM {source} r WHERE r.uri = $1", *params.values)  # noqa: S608
    return dict(doc) if doc is not None else None
