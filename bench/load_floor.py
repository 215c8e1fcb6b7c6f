"""The floor under a load: what PostgreSQL spends per fact on the rows the schema makes every fact
write, with nothing of the loader's around them. bench_load measures it after its load, on the same
server and data, so the loader's own CPU per fact can be read against what no loader could go
under without writing less.

Inside one transaction that is rolled back at the end (the loaded database is left as it was):
every written table is copied aside (untimed), emptied, its secondary indexes set aside as an
initial load sets them (db/load/indexes.py), and then, timed, each kind in load order and in the
loader's batches: the fact rows from their copy by a plain ``INSERT … SELECT`` (the search vector
generated, the history and facet triggers fired) with their revisions and snapshots in the same
statement, as the loader's own insert writes them; the events copied back (each one's snapshot
copied, as the outbox's append copies it); the facet counts folded once; the indexes built again.
What is left out is what a loader adds: staging, checks, the statement per batch of ids, Python,
and the ``VACUUM (ANALYZE)`` after the commit."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import psutil

from db.bulk import written_tables
from db.load import indexes
from db.pool import Conn, connect
from db.registry import FACT_TYPES


@dataclass
class Floor:
    """PostgreSQL's CPU seconds by step (the load's backend), the server's in all, and the facts."""

    facts: int = 0
    steps: dict[str, float] = field(default_factory=dict)
    server_cpu: float | None = None
    seconds: float = 0.0


async def measure(database_url: str, batch_size: int, server_cpu: Callable[[], Awaitable[float | None]]) -> Floor:
    """``server_cpu``: the server's CPU seconds so far (None when it is not a local server)."""
    conn = await connect(database_url)
    floor = Floor()
    try:
        backend = psutil.Process(await conn.fetchval("SELECT pg_backend_pid()"))
        # The copies are temporary tables, read through this backend's own buffers: sized to hold
        # them, so reading them back costs what reading the loader's staging costs, not file I/O.
        await conn.execute("SET temp_buffers = '4GB'")
        tr = conn.transaction()
        await tr.start()
        try:
            await _copy_aside(conn)
            before = await server_cpu()
            started = time.perf_counter()
            await _write(conn, backend, batch_size, floor)
            floor.seconds = time.perf_counter() - started
            after = await server_cpu()
            floor.server_cpu = after - before if before is not None and after is not None else None
        finally:
            await tr.rollback()
    finally:
        await conn.close()
    return floor


def _cpu(process: psutil.Process) -> float:
    t = process.cpu_times()
    return t.user + t.system


async def _columns(conn: Conn, table: str) -> list[str]:
    """The columns an INSERT may name (generated ones are computed by the insert itself)."""
    rows = await conn.fetch(
        "SELECT quote_ident(attname) AS name FROM pg_attribute"
        " WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped AND attgenerated = ''"
        " ORDER BY attnum",
        table,
    )
    return [r["name"] for r in rows]


async def _copy_aside(conn: Conn) -> None:
    """Untimed: each fact table and the outbox copied, numbered for batches, and every written
    table emptied (inside the transaction, so the rollback brings the rows back)."""
    for t in FACT_TYPES.values():
        await conn.execute(f"CREATE TEMP TABLE nf_floor_{t.kind} AS SELECT row_number() OVER () AS n, * FROM {t.table}")
        await conn.execute(f"CREATE INDEX ON nf_floor_{t.kind} (n)")
    await conn.execute("CREATE TEMP TABLE nf_floor_events AS SELECT * FROM events")
    await conn.execute("CREATE INDEX ON nf_floor_events (sequence)")
    await conn.execute("ANALYZE")
    await conn.execute(f"TRUNCATE {', '.join(written_tables())}")


async def _write(conn: Conn, backend: psutil.Process, batch_size: int, floor: Floor) -> None:
    def step(name: str, since: float) -> float:
        now = _cpu(backend)
        floor.steps[name] = floor.steps.get(name, 0.0) + now - since
        return now

    mark = _cpu(backend)
    async with indexes.set_aside(conn, written_tables()):
        mark = step("secondary indexes set aside", mark)
        for t in FACT_TYPES.values():
            columns = ", ".join(await _columns(conn, t.table))
            # The loader's insert (db/load/batch.py) with its staging join and casts taken away.
            insert = f"""
                WITH ins AS (
                    INSERT INTO {t.table} ({columns})
                    SELECT {columns} FROM nf_floor_{t.kind} WHERE n BETWEEN $1 AND $2 ORDER BY n
                    RETURNING *
                )
                INSERT INTO revisions (fact_id, version, fact_type, change_kind, reason, changed_by, changed_at, snapshot)
                SELECT ins.id, ins.version, '{t.kind}', 'created', NULL, 'floor', ins.updated_at, {t.doc_function}(ins)
                FROM ins"""
            count = int(await conn.fetchval(f"SELECT count(*) FROM nf_floor_{t.kind}"))
            mark = _cpu(backend)
            for first in range(1, count + 1, batch_size):
                await conn.execute(insert, first, first + batch_size - 1)
            mark = step("facts, their history rows and facet deltas, revisions", mark)
            floor.facts += count
        last = int(await conn.fetchval("SELECT coalesce(max(sequence), 0) FROM nf_floor_events"))
        mark = _cpu(backend)
        for first in range(1, last + 1, batch_size):
            await conn.execute(
                "INSERT INTO events SELECT * FROM nf_floor_events WHERE sequence BETWEEN $1 AND $2 ORDER BY sequence",
                first,
                first + batch_size - 1,
            )
        mark = step("events", mark)
        await conn.execute("SELECT nf_fold_facet_counts()")
        mark = step("facet counts folded", mark)
    step("indexes built again", mark)
