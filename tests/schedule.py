"""The order of a parallel run (pytest-xdist, as `make test` runs it): whole modules, the slowest
first, so the long ones start at once and the short ones fill in behind them and the workers
finish together. Seconds per module come from tests/durations.json, measured on a full run;
NEWSFACTS_RECORD_DURATIONS=1 writes what a run measured back into it."""

from __future__ import annotations

import json
import os
from collections import Counter, defaultdict
from pathlib import Path

import pytest

TABLE = Path(__file__).with_name("durations.json")
# A module not in the table yet (new since it was recorded): ahead of the many short modules, so a
# slow newcomer does not start last and hold up the end of the run.
UNKNOWN_SECONDS = 10.0

_measured: defaultdict[str, float] = defaultdict(float)


def _module(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]  # what xdist's --dist loadfile keeps together


def _table() -> dict[str, float]:
    try:
        found = json.loads(TABLE.read_text())
    except (OSError, ValueError):
        return {}
    return {str(k): float(v) for k, v in found.items()} if isinstance(found, dict) else {}


def _unique_ids(config: pytest.Config, items: list[pytest.Item]) -> None:
    """pytest 9.2 builds an item's id from its function's name and its parametrize() call, and
    schemathesis makes an item per API operation without one: all of them share one id. xdist
    hands tests out by id and would run only the first; their names carry the operation."""
    counts = Counter(item.nodeid for item in items)
    shared = [item for item in items if counts[item.nodeid] > 1]
    if shared:
        from _pytest.nodeid import coerce_node_id  # pytest >= 9.2, the only one that shares them

        for item in shared:
            assert item.parent is not None
            item._id = coerce_node_id(f"{item.parent.nodeid}::{item.name}")
    still = [nodeid for nodeid, n in Counter(item.nodeid for item in items).items() if n > 1]
    if still and hasattr(config, "workerinput"):
        raise pytest.UsageError(f"tests share an id, so pytest-xdist would run only one of each: {still[:5]}")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    _unique_ids(config, items)
    # Only in xdist's workers (their collections must agree, and they do: the sort is stable and
    # depends on nothing but the table). A serial run keeps the files' order.
    if not hasattr(config, "workerinput"):
        return
    seconds = _table()
    items.sort(key=lambda item: -seconds.get(_module(item.nodeid), UNKNOWN_SECONDS))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    # Setup, call and teardown: a module's servers and corpora are set up and torn down within
    # its tests' phases, so the sum is the module's time on its worker.
    _measured[_module(report.nodeid)] += report.duration


def pytest_sessionfinish(session: pytest.Session) -> None:
    if os.environ.get("NEWSFACTS_RECORD_DURATIONS") != "1" or hasattr(session.config, "workerinput"):
        return
    root = session.config.rootpath
    table = {**_table(), **{module: round(s, 1) for module, s in _measured.items()}}
    table = {module: s for module, s in table.items() if (root / module).is_file()}  # gone: forgotten
    ordered = dict(sorted(table.items(), key=lambda kv: (-kv[1], kv[0])))
    TABLE.write_text(json.dumps(ordered, indent=1) + "\n")
