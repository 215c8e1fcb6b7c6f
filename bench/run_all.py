"""`make bench`: runs every bench/bench_*.py in turn, collects the markdown tables they print into
bench/results/latest.md (with the machine and the time), and draws every ratio column as a PNG
chart (bench/results/latest.png). Each script measures its own baseline in the same run."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
ORDER = [
    "bench_load", "bench_keyset", "bench_rest", "bench_graphql", "bench_cache", "bench_events", "bench_webhooks",
    "bench_replicas",
]  # fmt: skip


def scripts(only: list[str] | None) -> list[str]:
    found = sorted(p.stem for p in HERE.glob("bench_*.py"))
    ordered = [s for s in ORDER if s in found] + [s for s in found if s not in ORDER]
    return [s for s in ordered if not only or s in only]


def run(name: str, timeout: float) -> tuple[str, float]:
    started = dt.datetime.now()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", f"bench.{name}"], cwd=HERE.parent, capture_output=True, text=True, timeout=timeout
        )
        out = proc.stdout
        if proc.returncode != 0:
            out += f"\n**{name} exited with {proc.returncode}**\n\n```\n{proc.stderr[-3000:]}\n```\n"
    except subprocess.TimeoutExpired as exc:
        out = (exc.stdout or "") if isinstance(exc.stdout, str) else ""
        out += f"\n**{name} timed out after {timeout:.0f} s**\n"
    return out, (dt.datetime.now() - started).total_seconds()


def ratio_rows(markdown: str) -> list[tuple[str, float]]:
    """(label, ratio) for each row of a table with a throughput "… vs ceiling" column (the first such
    column; latency ratios and other baselines are left to the tables). A second, textual cell
    (e.g. the cache mode) joins the label."""
    rows: list[tuple[str, float]] = []
    headers: list[str] = []
    column: int | None = None
    for line in markdown.splitlines():
        if not line.startswith("|"):
            headers, column = [], None
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not headers:
            headers = cells
            column = next((i for i, h in enumerate(cells) if re.search(r"vs ceiling", h, re.I)), None)
            continue
        if column is None or set(line.replace("|", "").strip()) <= {"-", ":", " "} or column >= len(cells):
            continue
        try:
            value = float(cells[column].replace(",", "").rstrip("\u00d7x"))
        except ValueError:
            continue
        label = cells[0]
        if len(cells) > 2 and cells[1] not in ("-", "") and not re.fullmatch(r"[\d.,]+", cells[1]):
            label += f" ({cells[1]})"
        rows.append((label, value))
    return rows


def chart(rows: list[tuple[str, float]], path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    if not rows:
        return False
    fig, ax = plt.subplots(figsize=(12, max(3, 0.35 * len(rows))))
    labels = [label[:90] for label, _ in rows]
    ax.barh(range(len(rows)), [v for _, v in rows], color="#3b6ea5")
    ax.set_yticks(range(len(rows)), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("ratio of the same run's baseline (ceiling = 1.0)")
    ax.axvline(1.0, color="grey", linewidth=0.8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("only", nargs="*", help="bench names to run (default: all)")
    parser.add_argument("--timeout", type=float, default=float(os.environ.get("BENCH_TIMEOUT", 1800)))
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    parts = [
        "# newsfacts benchmarks\n",
        f"Run {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC on {platform.node()} "
        f"({os.cpu_count()} cores, Python {platform.python_version()}). Every figure is compared with a "
        "baseline measured in the same run; these machines are shared, so read ratios, not absolutes.\n",
    ]
    all_rows: list[tuple[str, float]] = []
    for name in scripts(args.only):
        print(f"running {name} …", file=sys.stderr, flush=True)
        out, seconds = run(name, args.timeout)
        parts.append(f"## {name} ({seconds:.0f} s)\n\n{out}\n")
        all_rows += [(f"{name}: {label}", value) for label, value in ratio_rows(out)]
    (RESULTS / "latest.md").write_text("\n".join(parts))
    drawn = chart(all_rows, RESULTS / "latest.png")
    print(f"wrote {RESULTS / 'latest.md'}" + (f" and {RESULTS / 'latest.png'}" if drawn else ""), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
