"""Fact suggestion against the hand-annotated gold set (bench/suggest_gold.py): precision and recall
per kind, and CPU per 1,000 words of article, for every engine in db/suggestions/engine.py.

    .venv/bin/python -m bench.bench_suggest [--misses]

Runs in-process on the extraction and shaping a request does (no database, no HTTP: the actors
table is the gold set's, as a gazetteer)."""

from __future__ import annotations

import argparse
import resource

from bench.common import print_table
from bench.suggest_gold import Tally, articles, gazetteer, score
from db.suggestions import shape
from db.suggestions.engine import ENGINES, Engine
from db.suggestions.store import Article

KINDS = ("direct", "indirect", "quantities", "actors", "speakers")
LABELS = {
    "direct": "direct quotes",
    "indirect": "indirect claims",
    "quantities": "quantities (with approximation and values)",
    "actors": "actors (with their match)",
    "speakers": "speakers of the gold claims",
}
REPEAT = 20


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run(engine: Engine) -> tuple[dict[str, Tally], float]:
    tallies = {k: Tally() for k in KINDS}
    gold = articles()
    words = 0
    for a in gold:
        article = Article(f"art_{a.name}", a.text, "usable", None, False)
        found = engine.extract(a.text, gazetteer())
        score(a, shape.suggestions(article, found, []), tallies)
    started = _cpu()
    for _ in range(REPEAT):
        for a in gold:
            words += len(a.text.split())
            article = Article(f"art_{a.name}", a.text, "usable", None, False)
            shape.suggestions(article, engine.extract(a.text, gazetteer()), [])
    per_thousand_ms = (_cpu() - started) * 1000 / words * 1000
    return tallies, per_thousand_ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--misses", action="store_true", help="list every miss and every wrong suggestion")
    args = parser.parse_args()
    gold = articles()
    print(f"gold set: {len(gold)} articles, {sum(len(a.text.split()) for a in gold)} words")
    for name, engine in ENGINES.items():
        tallies, cpu = run(engine)
        rows = [
            [LABELS[k], t.gold, t.suggested, t.found, f"{t.precision:.2f}", f"{t.recall:.2f}"]
            for k, t in tallies.items()
        ]
        print_table(
            f"engine {name}: CPU {cpu:.1f} ms per 1,000 words",
            ["kind", "gold", "suggested", "found", "precision", "recall"],
            rows,
        )
        for k, t in tallies.items():
            if t.misses:
                print(f"\n{LABELS[k]}, missed ({len(t.misses)}):")
                for m in t.misses if args.misses else t.misses[:12]:
                    print(f"  - {m}")
            if t.wrong and args.misses:
                print(f"{LABELS[k]}, suggested but not in the gold set ({len(t.wrong)}):")
                for m in t.wrong:
                    print(f"  - {m}")


if __name__ == "__main__":
    main()
