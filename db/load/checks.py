"""The relational checks of a staged batch, in one statement: referenced ids that exist nowhere,
quote spans that do not hold their quote in the article body, citations of withdrawn articles
(locked FOR KEY SHARE, as the write service locks them) and records whose unique keys are taken.
PostgreSQL answers with the failures only; they become the same field errors, in the same order,
as the write service's checks give (db/writes.py), so a bulk report reads like an API refusal."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import asyncpg

from db import writes
from db.load.stage import Stage, staged_quotes
from db.registry import FACT_TYPES, fact_type


def sql(stage: Stage) -> str:
    """The check statement of ``stage``: rows (what, pos, n, key, detail, length), where ``what``
    is ref (``key`` is an id stored nowhere), quote (record ``pos``'s ``n``-th staged quote does
    not hold: ``detail`` is what its span holds in a body of ``length`` characters), withdrawn
    (``key`` is a cited article, ``detail`` why it is withdrawn) or unique (record ``pos``'s
    ``key`` of unique index ``detail`` is stored (``length`` 1) or given again in the batch)."""
    # Every identifier comes from the registry and the catalogue (db/load/stage.py), never from input.
    s, articles = stage.name, fact_type("article").table
    # Each probe is a sub-select with OFFSET 0, which PostgreSQL neither flattens into a join nor
    # turns into a hashed subplan: one index probe per id. Left to itself, it planned the quote check
    # as a merge join walking every article (38,811 rows for a batch citing 200 of them) and the
    # probes of small tables as a hash of the whole table — per batch, growing with the database.
    probes = " ".join(
        f"WHEN '{t.prefix}_' THEN EXISTS (SELECT FROM {t.table} x WHERE x.id = r.id OFFSET 0)"
        for t in FACT_TYPES.values()
    )
    parts = [
        f"""SELECT 'ref' AS what, NULL::integer AS pos, NULL::bigint AS n, r.id AS key, NULL::text AS detail,
                   NULL::integer AS length
            FROM (SELECT DISTINCT u.id FROM {s} s CROSS JOIN LATERAL unnest(s.ref_ids) u(id)) r
            WHERE NOT CASE left(r.id, 4) {probes} ELSE false END""",  # noqa: S608
        # Offsets count code points on both sides: Python indexes a str by code point, and so does
        # substr() in a UTF-8 database, astral characters included (tests/db/test_bulk_report.py).
        # A span past the end of the body holds fewer characters than its quote (the static check
        # made the quote exactly as long as the span), so the one comparison finds it too.
        # Each cited body is read once, from ``cited``: a batch's claims cite few articles, and a
        # probe per quote decompressed the same body again for each of its quotes.
        f"""SELECT 'quote', s.pos, q.n, NULL, substr(c.body, q.s + 1, q.e - q.s), length(c.body)
            FROM {s} s
            CROSS JOIN LATERAL unnest(s.q_article, s.q_start, s.q_end, s.q_text) WITH ORDINALITY q(article, s, e, quote, n)
            JOIN cited c ON c.id = q.article
            WHERE q.s IS NOT NULL AND substr(c.body, q.s + 1, q.e - q.s) <> q.quote""",  # noqa: S608
        "SELECT 'withdrawn', NULL, NULL, c.id, c.state, NULL FROM cited c WHERE c.state IS NOT NULL",
    ]
    for index, column in stage.unique:
        stored = f"EXISTS (SELECT FROM {stage.type.table} x WHERE x.{column} = s.{column} OFFSET 0)"
        parts.append(
            f"""SELECT 'unique', s.pos, NULL, s.{column}::text, '{index}', {stored}::integer
                FROM {s} s
                WHERE s.ok AND ({stored} OR s.{column} IN (
                    SELECT d.{column} FROM {s} d WHERE d.ok GROUP BY 1 HAVING count(*) > 1))"""  # noqa: S608
        )
    # Every cited article is locked, in id order, as the write service locks them (_CITED_ARTICLES):
    # a recall waits for this batch to commit, then finds its citations when it recomputes sourcing;
    # a recall that committed first is seen here and refuses them. MATERIALIZED: all are locked,
    # not only the withdrawn ones the outer query keeps.
    cited = f"""cited AS MATERIALIZED (
        SELECT a.id, a.state, a.body
        FROM (SELECT DISTINCT q.article COLLATE "C" AS article
              FROM {s} s CROSS JOIN LATERAL unnest(s.q_article) q(article) ORDER BY 1) w
        CROSS JOIN LATERAL (
            SELECT x.id, article_withdrawn_state(x.retracted_at, x.pub_status) AS state,
                   x.body || '' AS body  -- decompressed here, once: a stored body is compressed
            FROM {articles} x WHERE x.id = w.article FOR KEY SHARE) a)"""  # noqa: S608
    return f"WITH {cited}\n" + "\nUNION ALL\n".join(parts) + "\nORDER BY 1, 2, 3"


@dataclass
class Found:
    """What the check statement found, by kind of failure."""

    missing: set[str] = field(default_factory=set)  # referenced ids stored nowhere
    quotes: list[asyncpg.Record] = field(default_factory=list)
    withdrawn: dict[str, str] = field(default_factory=dict)  # article id → why
    unique: list[asyncpg.Record] = field(default_factory=list)

    @classmethod
    def of(cls, rows: Sequence[asyncpg.Record]) -> Found:
        found = cls()
        for r in rows:
            what = r["what"]
            if what == "ref":
                found.missing.add(r["key"])
            elif what == "quote":
                found.quotes.append(r)
            elif what == "withdrawn":
                found.withdrawn[r["key"]] = r["detail"]
            else:
                found.unique.append(r)
        return found


def apply(stage: Stage, checked: writes.Checked, found: Found) -> dict[int, str]:
    """Adds the failures to the batch's checks in the write service's order (references, quotes,
    citations of withdrawn articles, then records citing a rejected record of the batch), and
    returns the records refused for a taken unique key: index in the batch → unique index."""
    batch_ids = {c["id"] for _, _, c in checked if c is not None}
    writes.fail_missing_refs(checked, found.missing - batch_ids)
    for r in found.quotes:
        _, checks, _ = checked[r["pos"]]
        q = staged_quotes(checks.quotes)[r["n"] - 1]
        writes.fail_quote(checks, q, r["length"], r["detail"])
    writes.fail_withdrawn(writes.new_citations(checked), found.withdrawn)
    duplicates = _duplicates(stage, checked, found.unique)
    # A record citing a record of its batch refused for a taken key (a uri, say) is stranded like
    # one citing a rejected record — unless another record of the batch carries that id and goes in.
    refused = {c["id"] for i, _, c in checked if i in duplicates and c is not None}
    going_in = {c["id"] for i, item, c in checked if c is not None and not item.errors and i not in duplicates}
    writes.drop_refs_to_rejected(checked, found.missing, also_rejected=refused - going_in)
    return duplicates


def _duplicates(stage: Stage, checked: writes.Checked, rows: Sequence[asyncpg.Record]) -> dict[int, str]:
    """Which of the records that passed every check collide on a unique key, as inserting them one
    by one in input order would find: with a stored row, or with an earlier record that got in (a
    record refused for one key does not take its other keys)."""
    order = {index: n for n, (index, _) in enumerate(stage.unique)}
    keys: dict[int, list[tuple[int, str, str, bool]]] = defaultdict(list)
    for r in rows:
        keys[r["pos"]].append((order[r["detail"]], r["detail"], r["key"], bool(r["length"])))
    taken: dict[str, set[str]] = defaultdict(set)
    duplicates: dict[int, str] = {}
    for i in sorted(keys):
        _, checks, columns = checked[i]
        if checks.errors or columns is None:
            continue
        mine = sorted(keys[i])
        clash = next((index for _, index, key, stored in mine if stored or key in taken[index]), None)
        if clash is not None:
            duplicates[i] = clash
        else:
            for _, index, key, _ in mine:
                taken[index].add(key)
    return duplicates
