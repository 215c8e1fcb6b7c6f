"""Bulk loading: records are read as a stream (memory stays flat), validated field by field by the
write service's declarations, and written in batches of one kind — one transaction each, set-based
(db/load/: COPY into a staging table, the relational checks in one statement, one insert of the
good records with their revisions, history and events). A bad record is reported, never fatal:
the good records around it still load."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import itertools
import logging
import os
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import asyncpg
import orjson

from db.errors import BodyNotObject, InvalidJson, InvalidUtf8, MalformedBody, RecordRejection
from db.json_input import decode, json_type, refuse
from db.load import batch, indexes, minting, stage
from db.pool import Conn
from db.registry import FACT_TYPES, LOAD_ORDER

log = logging.getLogger("newsfacts.load")

PLURALS = {kind + "s": kind for kind in FACT_TYPES}
_BOM = b"\xef\xbb\xbf"


@dataclass
class LoadReport:
    loaded: dict[str, int] = field(default_factory=lambda: dict.fromkeys(LOAD_ORDER, 0))
    rejected: list[RecordRejection] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def total_loaded(self) -> int:
        return sum(self.loaded.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "loaded": self.loaded,
            "totalLoaded": self.total_loaded,
            "rejected": [r.as_dict() for r in self.rejected],
            "seconds": round(self.seconds, 3),
        }


Item = tuple[int, str | None, Any]  # (position in the input, kind or None when unknown, record)


def read_records(stream: IO[bytes]) -> Iterator[Item]:
    """Records from a JSON document (``{"actors": [...], ...}`` or a list of records with
    ``"object"``) or from NDJSON (one record per line, each with ``"object"``). NDJSON is read line
    by line; a line the JSON decoder refuses (db/json_input.py: bad UTF-8 or JSON, too deep, a
    number too large) becomes an item with kind None carrying the refusal. A UTF-8 byte order mark
    that starts the file is skipped: editors write one, and it is no part of the data."""
    first = stream.readline().removeprefix(_BOM)
    while first and not first.strip():
        first = stream.readline()
    if not first:
        return
    try:
        head = decode(first, subject="the record", path=())
    except MalformedBody:
        head = None
    if isinstance(head, dict) and "object" in head:
        yield from _ndjson_items(first, stream)
    elif head is not None:
        yield from _document_items(head)  # a whole document on one line
    else:
        text = first + stream.read()
        try:
            document = decode(text, subject="the document", path=())
        except MalformedBody as exc:
            if not isinstance(exc, InvalidJson | InvalidUtf8) and _one_value(text):
                yield 0, None, exc  # one JSON document, but past the bounds every decoder keeps
                return
            # Not one document: treat it as NDJSON so each bad line is reported on its own.
            stream.seek(0)
            if stream.read(len(_BOM)) != _BOM:
                stream.seek(0)
            yield from _ndjson_items(b"", stream)
            return
        yield from _document_items(document)


def _one_value(text: bytes) -> bool:
    """Whether ``text`` parses as one JSON value (deeper than orjson's 1,024 levels it does not:
    that may as well be NDJSON whose first line is too deep, each line then judged alone)."""
    try:
        orjson.loads(text)
    except orjson.JSONDecodeError:
        return False
    return True


def _ndjson_items(first: bytes, stream: IO[bytes]) -> Iterator[Item]:
    index = 0
    for line in itertools.chain((first,), stream):
        if not line.strip():
            continue
        try:
            record = decode(line, subject="the record", path=())
        except MalformedBody as exc:
            yield index, None, exc
        else:
            kind = record.get("object") if isinstance(record, dict) else None
            yield index, kind if kind in FACT_TYPES else None, record
        index += 1


def _document_items(document: Any) -> Iterator[Item]:
    if isinstance(document, list):
        for index, record in enumerate(document):
            kind = record.get("object") if isinstance(record, dict) else None
            yield index, kind if kind in FACT_TYPES else None, record
        return
    if not isinstance(document, dict):
        yield (
            0,
            None,
            refuse(BodyNotObject, "is an object of lists or a list of records", subject="a load document", path=()),
        )
        return
    index = 0
    for key, records in document.items():
        kind = PLURALS.get(key)
        for record in records if isinstance(records, list) else [records]:
            yield index, kind, record
            index += 1


async def load(
    conn: Conn,
    items: Iterable[Item] | AsyncIterator[Item],
    *,
    changed_by: str,
    batch_size: int = 2_000,
    progress: Callable[[LoadReport], None] | None = None,
    mint: minting.Minter | None = None,
    rebuild_indexes: bool = False,
) -> LoadReport:
    """Load records in batches of one kind each. Before a batch of kind K is written, pending
    batches of the kinds K may reference are written, so references within the input resolve.

    Two stages overlap: while one batch is checked against and written to the database (each in
    its own transaction, in input order), the next batch's static checks run in a worker thread,
    which also encodes its staged rows as a binary COPY (db/load/encode.py), so Python's CPU work
    and PostgreSQL's run side by side. Whatever depends on an earlier batch's rows (references,
    unique keys) is checked in SQL after that batch, on the same connection. One prepared batch
    waits ahead of the one being written, so memory stays flat.

    A record without an id gets one from ``mint`` (given its kind and position in the input) when
    there is one, else a fresh random one.

    ``rebuild_indexes``: the whole load is one transaction that sets the written tables' secondary
    indexes aside and builds them again at the end (db/load/indexes.py) — several times cheaper
    for PostgreSQL, but those tables are locked against readers until it commits."""
    started = time.perf_counter()
    with _rare_collections():
        if not rebuild_indexes:
            report = await _load(
                conn, items, changed_by=changed_by, batch_size=batch_size, progress=progress, mint=mint
            )
        else:
            # One transaction: the indexes set aside, every batch, the indexes built again
            # (db/load/indexes.py). Each batch is a savepoint in it, as it was a transaction.
            async with conn.transaction(), indexes.set_aside(conn, written_tables()):
                report = await _load(
                    conn, items, changed_by=changed_by, batch_size=batch_size, progress=progress, mint=mint
                )
                # The facet counts' triggers fold once per transaction (0018): the deltas of every
                # later batch are folded here, once, so readers do not add them up after the commit.
                await conn.execute("SELECT nf_fold_facet_counts()")
    if report.total_loaded and rebuild_indexes:
        await vacuum(conn, written_tables())
    elif report.total_loaded:
        await settle(conn, {kind: n for kind, n in report.loaded.items() if n})
    report.seconds = time.perf_counter() - started
    return report


def written_tables() -> list[str]:
    """Every table a load writes: the fact tables, their history, the revisions and the outbox."""
    tables = [name for t in FACT_TYPES.values() for name in (t.table, f"{t.table}_history")]
    return [*tables, "revisions", "events"]


# An automatic rebuild (``indexes="auto"``) is for an initial load of some size: every fact table
# empty, so no reader is kept from anything it could read, and a file large enough that building
# the indexes pays for itself — dropping and creating the 82 costs 0.24-0.31 s however few rows,
# and saves ~65 µs of PostgreSQL CPU per fact: even at about 4,000 facts (2.6 MB of NDJSON).
AUTO_REBUILD_BYTES = 4 * 1024 * 1024


async def initial(conn: Conn) -> bool:
    """Whether every fact table is empty and this session may drop and create their indexes (it
    owns every table a load writes)."""
    empty = " AND ".join(f"NOT EXISTS (SELECT FROM {t.table})" for t in FACT_TYPES.values())
    owner = "SELECT bool_and(pg_has_role(current_user, c.relowner, 'USAGE')) FROM pg_class c WHERE c.oid = ANY($1::regclass[])"
    return bool(await conn.fetchval(f"SELECT {empty}")) and bool(await conn.fetchval(owner, written_tables()))


@contextlib.contextmanager
def _rare_collections() -> Iterator[None]:
    """Cyclic garbage collection made rare while loading: a batch in flight is some hundred
    thousand live objects (records, their checks, staged rows), and each full collection walks
    them all. At Python's default thresholds that was over half of the loader's CPU (static checks
    of a claim: 43 µs, 20 µs without collections). A load makes little cyclic garbage; what it
    makes is still collected, about 140 times less often."""
    before = gc.get_threshold()
    gc.set_threshold(max(before[0], 100_000), *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)


async def _load(
    conn: Conn,
    items: Iterable[Item] | AsyncIterator[Item],
    *,
    changed_by: str,
    batch_size: int,
    progress: Callable[[LoadReport], None] | None,
    mint: minting.Minter | None,
) -> LoadReport:
    report = LoadReport()
    started = time.perf_counter()
    buffers: dict[str, list[tuple[int, Any]]] = {kind: [] for kind in LOAD_ORDER}
    loop = asyncio.get_running_loop()
    # One batch ahead is enough: preparing one takes the worker thread about a quarter of the time
    # PostgreSQL takes to write one; more would only hold more encoded batches in memory.
    pending: asyncio.Queue[_Batch | None] = asyncio.Queue(maxsize=1)

    # Every kind's staging table, before the writer and the worker thread need them.
    statements = {kind: batch.Statements.of(await stage.create(conn, kind)) for kind in LOAD_ORDER}

    async def writer() -> None:
        while (pending_batch := await pending.get()) is not None:
            prepared = await pending_batch.prepared
            kind = pending_batch.kind
            positions = [i for i, _ in pending_batch.records]
            records = [r for _, r in pending_batch.records]
            written = await batch.write(conn, statements[kind], positions, records, prepared, changed_by=changed_by)
            report.loaded[kind] += written.loaded
            report.rejected.extend(written.rejected)
            report.seconds = time.perf_counter() - started
            if progress is not None:
                progress(report)

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="newsfacts-load") as executor:
        writing = asyncio.create_task(writer())

        async def hand_over(item: _Batch | None) -> None:
            put = asyncio.ensure_future(pending.put(item))
            # A failed writer must stop the input side rather than leave it blocked on a full queue.
            await asyncio.wait({put, writing}, return_when=asyncio.FIRST_COMPLETED)
            if not put.done():
                put.cancel()
            if writing.done() and (item is not None or writing.exception() is not None):
                writing.result()  # re-raises the writer's error
                raise RuntimeError("the bulk writer stopped early")

        async def submit(kind: str) -> None:
            records, buffers[kind] = buffers[kind], []
            minter = None if mint is None else functools.partial(_mint_at, mint, kind, [i for i, _ in records])
            prepare = functools.partial(batch.Prepared.of, statements[kind].stage, [r for _, r in records], minter)
            await hand_over(_Batch(kind, records, loop.run_in_executor(executor, prepare)))

        async def flush(upto: str) -> None:
            for kind in LOAD_ORDER[: LOAD_ORDER.index(upto) + 1]:
                if buffers[kind]:
                    await submit(kind)

        async def consume(item: Item) -> None:
            index, kind, record = item
            if index % _YIELD_EVERY == 0:
                # Decoding a batch's worth of lines is some 20 ms of this task's CPU: without a
                # pause the writer, whose statement PostgreSQL has answered, would wait that long
                # before it sends the next one, and the backend would sit idle.
                await asyncio.sleep(0)
            if kind is None:
                report.rejected.append(_unknown(index, record))
                return
            buffers[kind].append((index, record))
            if len(buffers[kind]) >= batch_size:
                await flush(kind)

        try:
            if isinstance(items, AsyncIterator):
                async for item in items:
                    await consume(item)
            else:
                for item in items:
                    await consume(item)
            await flush(LOAD_ORDER[-1])
            await hand_over(None)
            await writing
        finally:
            if not writing.done():
                writing.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await writing
            if not conn.is_closed():
                for staged in statements.values():
                    with contextlib.suppress(asyncpg.PostgresError, asyncpg.InterfaceError):
                        await stage.drop(conn, staged.stage)
    report.rejected.sort(key=lambda r: r.index)
    return report


# A table's statistics are stale once the rows written since they were gathered reach this share of
# the table (plus a few): autovacuum's own rule, at its defaults.
_STALE_SHARE, _STALE_ROWS = 0.1, 50

_STATS_AGE = """
SELECT c.reltuples < 0 OR $2::bigint >= $3::float8 * c.reltuples + $4::bigint
FROM pg_class c WHERE c.oid = $1::regclass
"""


async def settle(conn: Conn, loaded: dict[str, int]) -> None:
    """After a load: merge the GIN indexes' pending lists and refresh the planner's statistics
    of the tables written. A GIN insert goes to a pending list that every probe scans whole until
    (auto)vacuum merges it — a plain ANALYZE does not: 10,000 freshly loaded claims made each
    relation probe 0.37 ms instead of 0.002 ms (EXPLAIN ANALYZE of the nested articles → claims
    read). The relation indexes have had no pending list since migration 0011; the full-text
    indexes keep theirs, and searches right after a load would scan it.

    A table is analysed only when the load made its statistics stale (``loaded``: rows written
    per kind), by autovacuum's rule: a load of a few thousand facts into a large graph left the
    statistics as good as they were, and its ANALYZEs (each samples 30,000 rows of a fact table
    and of its history, whatever the load) were most of its cost. Autovacuum counts the loaded
    rows as well, and analyses by the same rule once later writes make the share."""
    for kind, rows in loaded.items():
        table = FACT_TYPES[kind].table
        for name in (table, f"{table}_history"):
            try:
                await conn.execute(
                    "SELECT gin_clean_pending_list(i.indexrelid) FROM pg_index i"
                    " JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_am am ON am.oid = ic.relam"
                    " WHERE i.indrelid = $1::regclass AND am.amname = 'gin'",
                    name,
                )
                if await conn.fetchval(_STATS_AGE, name, rows, _STALE_SHARE, _STALE_ROWS):
                    await conn.execute(f"ANALYZE {name}")
            except asyncpg.PostgresError as exc:  # not the tables' owner: autovacuum does it later
                log.warning("could not settle %s after the load: %s", name, exc)


async def vacuum(conn: Conn, tables: list[str]) -> None:
    """After a load that set the indexes aside: VACUUM (ANALYZE) every table it wrote. All its rows
    became visible at once, so autovacuum would otherwise set about each of them right after (the
    insert threshold), and the first readers would set the rows' hint bits: 1,104,000 facts left
    the next load of 11,040 facts paying 841 µs of PostgreSQL CPU per fact instead of ~160 while
    that went on. Done here, the load's own figures count it, and the tables are left with their
    visibility map set (index-only scans) and fresh statistics."""
    for name in tables:
        try:
            await conn.execute(f"VACUUM (ANALYZE) {name}")
        except asyncpg.PostgresError as exc:  # not the tables' owner: autovacuum does it later
            log.warning("could not vacuum %s after the load: %s", name, exc)


def _mint_at(mint: minting.Minter, kind: str, positions: list[int], i: int) -> str:
    """The id of the ``i``-th record of a batch whose records sit at ``positions`` of the input."""
    return mint(kind, positions[i])


# How many input items the reading task decodes between two turns of the event loop: ~0.5 ms of work.
_YIELD_EVERY = 64


@dataclass
class _Batch:
    kind: str
    records: list[tuple[int, Any]]
    prepared: asyncio.Future[batch.Prepared]


def _unknown(index: int, record: Any) -> RecordRejection:
    """The rejection of an item with no kind: a line the decoder refused, with its own code."""
    if isinstance(record, MalformedBody):
        return RecordRejection(index, "unknown", record.code, record.detail)
    if not isinstance(record, dict):
        message = f"a record must be a JSON object, not {json_type(record)}"
        return RecordRejection(index, "unknown", BodyNotObject.code, message)
    return RecordRejection(index, "unknown", "BAD_USER_INPUT", 'record has no known "object" type')


async def load_file(
    conn: Conn,
    path: Path,
    *,
    changed_by: str,
    batch_size: int = 2_000,
    progress: Callable[[LoadReport], None] | None = None,
    indexes: str = "auto",
) -> LoadReport:
    """Load a file. Loading it again loads nothing twice: records with ids are refused as taken,
    and records without are minted the ids they got the first time (db/load/minting.py).

    ``indexes``: ``rebuild`` sets the written tables' secondary indexes aside for the load and
    builds them again at its end, in its one transaction (``load``'s ``rebuild_indexes``);
    ``keep`` maintains them batch by batch, each batch committed on its own; ``auto`` rebuilds for
    an initial load (every fact table empty) of a file of at least AUTO_REBUILD_BYTES."""
    if indexes not in ("auto", "rebuild", "keep"):
        raise ValueError(f"indexes is auto, rebuild or keep, not {indexes!r}")
    mint = await minting.for_file(conn, path)
    with path.open("rb") as stream:
        size = os.fstat(stream.fileno()).st_size
        rebuild = indexes == "rebuild" or (indexes == "auto" and size >= AUTO_REBUILD_BYTES and await initial(conn))
        return await load(
            conn,
            read_records(stream),
            changed_by=changed_by,
            batch_size=batch_size,
            progress=progress,
            mint=mint,
            rebuild_indexes=rebuild,
        )
