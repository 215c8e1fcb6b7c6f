"""Secondary indexes set aside for a large load and built again after it, as pg_restore and
pgloader do: building an index over the loaded rows is one sort, where maintaining it row by row
(ten btrees and seven GINs per claim, the same again for its history row) was most of what a load
cost PostgreSQL. The definitions come from the catalogue (``pg_get_indexdef``), never retyped.

All of it happens in the load's one transaction: the indexes are dropped, the batches written and
the indexes created again before the commit, so a load killed at any point rolls back whole and
leaves every index as it was. The cost is the lock: ``DROP INDEX`` takes an ACCESS EXCLUSIVE lock
on each table it touches, held to the commit, so readers and writers of those tables wait for the
whole load — why db/bulk.py takes this path only for an initial load or when asked to."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

from db.pool import Conn

log = logging.getLogger("newsfacts.load")

# Indexes that are safe to drop and create again from their definition alone: not unique (the
# checks probe the unique ones, and a unique index enforces what a load must not break), backing no
# constraint, valid, and carrying nothing pg_get_indexdef leaves out — a tablespace other than the
# default, or a statistics target on one of its columns. A comment is carried over.
_SECONDARY = """
SELECT ic.relname AS name, pg_get_indexdef(i.indexrelid) AS definition,
       obj_description(i.indexrelid, 'pg_class') AS comment, i.indisclustered AS clustered,
       i.indrelid::regclass::text AS "table"
FROM pg_index i
JOIN pg_class ic ON ic.oid = i.indexrelid
WHERE i.indrelid = ANY($1::regclass[])
  AND NOT i.indisunique AND NOT i.indisprimary AND NOT i.indisexclusion
  AND i.indisvalid AND i.indisready AND i.indislive
  AND ic.reltablespace = 0
  AND NOT EXISTS (SELECT FROM pg_constraint c WHERE c.conindid = i.indexrelid)
  AND NOT EXISTS (SELECT FROM pg_attribute a WHERE a.attrelid = i.indexrelid AND a.attstattarget > 0)
ORDER BY i.indrelid, ic.relname
"""

# For the builds: a GIN build gathers its entries in maintenance_work_mem, and a btree build sorts in
# it; at the usual 64 MB a build over a million claims spills to disk in many runs.
BUILD_MEMORY = "512MB"


@dataclass(frozen=True)
class Index:
    name: str
    table: str
    definition: str  # pg_get_indexdef: CREATE INDEX name ON schema.table USING … (storage parameters too)
    comment: str | None
    clustered: bool


async def secondary(conn: Conn, tables: Sequence[str]) -> list[Index]:
    """The secondary indexes of ``tables`` that a load may set aside, as the catalogue has them."""
    rows = await conn.fetch(_SECONDARY, list(tables))
    return [Index(r["name"], r["table"], r["definition"], r["comment"], r["clustered"]) for r in rows]


async def definitions(conn: Conn, tables: Sequence[str]) -> dict[str, str]:
    """Every index of ``tables`` by name, as pg_get_indexdef has it (what a rebuild must restore)."""
    rows = await conn.fetch(
        "SELECT indexrelid::regclass::text AS name, pg_get_indexdef(indexrelid) AS definition"
        " FROM pg_index WHERE indrelid = ANY($1::regclass[])",
        list(tables),
    )
    return {r["name"]: r["definition"] for r in rows}


@asynccontextmanager
async def set_aside(conn: Conn, tables: Sequence[str]) -> AsyncIterator[list[Index]]:
    """Drops the secondary indexes of ``tables`` and creates them again when the block is done.
    Must run inside the caller's transaction: the drops, the writes and the builds commit together
    or not at all. On an error the block's exception propagates and the transaction's rollback
    brings the indexes back; nothing is built in vain."""
    if not conn.is_in_transaction():
        raise RuntimeError("indexes are set aside only inside the load's transaction")
    dropped = await secondary(conn, tables)
    for index in dropped:
        # Names come from the catalogue; quote_ident through regclass keeps them exact.
        await conn.execute(f"DROP INDEX {await _qualified(conn, index.name, index.table)}")
    log.info("set %d secondary indexes aside for the load", len(dropped))
    yield dropped
    started = time.perf_counter()
    await conn.execute(f"SET LOCAL maintenance_work_mem = '{BUILD_MEMORY}'")
    for index in dropped:
        await conn.execute(index.definition)
        name = await _qualified(conn, index.name, index.table)
        if index.comment is not None:
            await conn.execute(f"COMMENT ON INDEX {name} IS {await _literal(conn, index.comment)}")
        if index.clustered:
            await conn.execute(f"ALTER TABLE {index.table} CLUSTER ON {_ident(index.name)}")
    log.info("built %d indexes again in %.1f s", len(dropped), time.perf_counter() - started)


async def _qualified(conn: Conn, name: str, table: str) -> str:
    """``name`` in ``table``'s schema, quoted: an index lives in its table's schema."""
    schema = await conn.fetchval(
        "SELECT relnamespace::regnamespace::text FROM pg_class WHERE oid = $1::regclass", table
    )
    return f"{schema}.{_ident(name)}"


async def _literal(conn: Conn, text: str) -> str:
    return str(await conn.fetchval("SELECT quote_literal($1::text)", text))


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
