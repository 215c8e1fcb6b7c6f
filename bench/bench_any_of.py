"""Any-of filters (issue 28): PostgreSQL's time for a declared ``<filter>In`` (db/facts.py's
``any_of``) against the condition one would write by hand (``= ANY($1)``, or ``&&`` on an array
column), and against the generic form any filter could take (its single condition inside
``EXISTS (SELECT FROM unnest($1) ...)``, which no index serves), in the same run over the same
generated corpus. Each statement is a count and a first page of 20 by
id, as a list and its facets ask; times are EXPLAIN ANALYZE's execution time, the median of
``--runs`` interleaved runs, so they are the database's cost alone (no HTTP, no Python).

    .venv/bin/python -m bench.bench_any_of                       # 2,000 articles, 20,000 claims
    .venv/bin/python -m bench.bench_any_of --articles 500 --claims 5000 --runs 5
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
from typing import Any

from bench.common import embedded_postgres, load_corpus, print_table, temp_dir
from db.params import Params
from db.pool import connect
from db.queries import where_clauses
from db.registry import fact_type

# (filter, a hand-written condition over claims c with $1 the text[] of values, how values are chosen)
CASES = [
    (
        "statusIn",
        "c.status = ANY($1::text[])",
        "SELECT array_agg(s) FROM (SELECT DISTINCT status s FROM claims LIMIT 2) x",
    ),
    (
        "speakerIn",
        "c.speaker_id = ANY($1::text[])",
        "SELECT array_agg(s) FROM (SELECT speaker_id s FROM claims WHERE speaker_id IS NOT NULL"
        " GROUP BY 1 ORDER BY count(*) DESC LIMIT 3) x",
    ),
    (
        "subjectIn",
        "c.subject_ids && $1::text[]",
        "SELECT array_agg(s) FROM (SELECT unnest(subject_ids) s FROM claims GROUP BY 1 ORDER BY count(*) DESC LIMIT 3) x",
    ),
]
SHAPES = [
    ("count", "SELECT count(*) FROM claims c WHERE {w}"),
    ("first 20 by id", "SELECT c.id FROM claims c WHERE {w} ORDER BY c.id LIMIT 20"),
]


async def _execution_ms(conn: Any, sql: str, values: list[str]) -> float:
    plan = await conn.fetchval(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", values)
    doc = json.loads(plan) if isinstance(plan, str) else plan  # the pool decodes json itself
    return float(doc[0]["Execution Time"])


async def run(database_url: str, runs: int) -> None:
    conn = await connect(database_url)
    try:
        t = fact_type("claim")
        rows = []
        for name, by_hand, choose in CASES:
            values = list(await conn.fetchval(choose))
            params = Params()
            (declared,) = where_clauses(t, {name: values}, params)  # its one parameter is $1
            generic = f"EXISTS (SELECT FROM unnest($1::text[]) AS any_of(v) WHERE {t.filter(name.removesuffix('In')).sql.replace('{p}', 'any_of.v')})"  # type: ignore[union-attr]
            count = SHAPES[0][1]
            ours_n = await conn.fetchval(count.format(w=declared), values)
            hand_n = await conn.fetchval(count.format(w=by_hand), values)
            assert ours_n == hand_n, f"{name}: the two conditions count different claims ({ours_n}, {hand_n})"
            for shape, template in SHAPES:
                ours_sql = template.format(w=declared)
                hand_sql = template.format(w=by_hand)
                generic_sql = template.format(w=generic)
                ours, hand, each = [], [], []
                for _ in range(runs):
                    hand.append(await _execution_ms(conn, hand_sql, values))
                    ours.append(await _execution_ms(conn, ours_sql, values))
                    each.append(await _execution_ms(conn, generic_sql, values))
                h, o, e = statistics.median(hand), statistics.median(ours), statistics.median(each)
                rows.append(
                    [
                        f"{name} ({len(values)} values)",
                        shape,
                        f"{h:.2f}",
                        f"{o:.2f}",
                        f"{o / h:.2f}",
                        f"{e:.2f}",
                        f"{e / h:.2f}",
                    ]
                )
        print_table(
            "Any-of filters: declared vs hand-written vs EXISTS per value, PostgreSQL execution ms (median)",
            ["filter", "statement", "hand-written ms", "declared ms", "ratio", "EXISTS per value ms", "ratio"],
            rows,
        )
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=2_000)
    parser.add_argument("--claims", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    with temp_dir() as folder, embedded_postgres(folder / "pg") as url:
        asyncio.run(load_corpus(url, args.articles, args.claims))
        asyncio.run(run(url, args.runs))


if __name__ == "__main__":
    main()
