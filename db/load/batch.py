"""One batch of one kind, in one transaction: staged, checked, and its good records inserted by one
statement that writes their revisions too (their history rows come from the fact table's
statement-level trigger, 0015), then their ``<kind>.created`` events in input order through the
outbox's own append (db/events.py), last, so the event_counter lock is held only to the commit."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from db import events, writes
from db.errors import RecordRejection, from_postgres, unique_violation
from db.load import checks, encode, stage
from db.load.stage import Stage
from db.pool import Conn


@dataclass
class Written:
    """What a batch came to: how many records went in, and each one refused."""

    loaded: int = 0
    rejected: list[RecordRejection] = field(default_factory=list)


@dataclass
class Prepared:
    """A batch as the worker thread leaves it: its static checks, its staged rows and those rows as
    the bytes of their COPY (None when the stage has a type db/load/encode.py does not encode)."""

    checked: writes.Checked
    rows: list[tuple[Any, ...]] | None  # only when there is no payload: the payload is what is kept
    payload: bytes | None

    @classmethod
    def of(cls, staged: Stage, records: list[Any], mint: Callable[[int], str] | None) -> Prepared:
        """Pure CPU, so it runs in the loader's worker thread while the previous batch is written."""
        checked = writes.static_checks(staged.kind, records, mint=mint)
        rows = stage.rows(staged, checked)
        columns = encode.encoders(staged.copy_types)
        if columns is None:
            return cls(checked, rows, None)
        return cls(checked, None, encode.payload(columns, rows))


@dataclass
class Statements:
    """The statements of one kind, built once per load."""

    stage: Stage
    check: str
    insert: str

    @classmethod
    def of(cls, staged: Stage) -> Statements:
        return cls(staged, checks.sql(staged), _insert_sql(staged))


def _insert_sql(staged: Stage) -> str:
    """Inserts the staged records at positions ``$1`` in that order, with their revisions (by
    ``$2``). A sourced fact's sourcing is the column's default, 'supported': every reference into a
    withdrawn article was refused by the check, whose FOR KEY SHARE holds the cited articles until
    commit, so no recall can land in between (the write service computes the same value with
    fact_sourcing, one probe per cited article)."""
    t = staged.type
    columns = ", ".join(c.name for c in staged.columns)
    values = ", ".join(c.value("s") for c in staged.columns)
    # Identifiers come from the registry and the catalogue; values are the staged rows.
    return f"""
        WITH ins AS (
            INSERT INTO {t.table} ({columns})
            SELECT {values}
            FROM unnest($1::integer[]) WITH ORDINALITY AS g(pos, ord) JOIN {staged.name} s USING (pos)
            ORDER BY g.ord
            RETURNING *
        )
        INSERT INTO revisions (fact_id, version, fact_type, change_kind, reason, changed_by, changed_at, snapshot)
        SELECT ins.id, ins.version, '{t.kind}', 'created', NULL, $2, ins.updated_at, {t.doc_function}(ins)
        FROM ins"""  # noqa: S608


async def write(
    conn: Conn,
    statements: Statements,
    positions: list[int],
    records: list[Any],
    prepared: Prepared,
    *,
    changed_by: str,
) -> Written:
    """Writes one batch (``positions``: each record's place in the input) in its own transaction."""
    staged = statements.stage
    kind = staged.kind
    checked = prepared.checked
    written = Written()
    async with conn.transaction():
        # References by uri and quotes without offsets are completed from the article bodies first
        # (one query, only when a batch has any), as the write service does; their rows change.
        rows, payload = prepared.rows, prepared.payload
        if await writes.resolve_references(conn, kind, checked):
            rows, payload = stage.rows(staged, checked), None
        await stage.copy(conn, staged, rows or [], payload)
        duplicates = checks.apply(staged, checked, checks.Found.of(await conn.fetch(statements.check)))
        good: list[int] = []
        for i, item, columns in checked:
            if item.errors or columns is None:
                first = item.errors[0] if item.errors else None
                written.rejected.append(
                    RecordRejection(
                        positions[i],
                        kind,
                        writes.rejection_code(item.errors),
                        f"{first.pointer()}: {first.message}" if first else "invalid",
                        item.errors,
                        _record_id(records[i]),
                    )
                )
            elif i in duplicates:
                err = unique_violation(duplicates[i])
                written.rejected.append(
                    RecordRejection(positions[i], kind, err.code, err.detail, err.errors, columns["id"])
                )
            else:
                good.append(i)
        inserted = await _insert(conn, statements, good, checked, positions, written, changed_by=changed_by)
        ids = {i: columns["id"] for i, _, columns in checked if columns is not None}
        # A new fact is always at version 1; its event carries its revision's snapshot.
        await events.append(conn, [events.PendingEvent(f"{kind}.created", ids[i], 1) for i in inserted])
    written.loaded = len(inserted)
    return written


async def _insert(
    conn: Conn,
    statements: Statements,
    good: list[int],
    checked: writes.Checked,
    positions: list[int],
    written: Written,
    *,
    changed_by: str,
) -> list[int]:
    """Inserts the good records; returns the ones inserted. Should the one statement fail all the
    same (a constraint the checks do not know), each record is inserted on its own, and the ones
    the database refuses are reported as the write service reports them."""
    if not good:
        return []
    try:
        async with conn.transaction():  # a savepoint: a refusal must not lose the batch
            await conn.execute(statements.insert, good, changed_by)
        return good
    except asyncpg.PostgresError:
        pass
    inserted = []
    for i in good:
        try:
            async with conn.transaction():
                await conn.execute(statements.insert, [i], changed_by)
            inserted.append(i)
        except asyncpg.PostgresError as exc:
            err = from_postgres(exc)
            columns = checked[i][2] or {}
            written.rejected.append(
                RecordRejection(
                    positions[i], statements.stage.kind, err.code, err.detail, err.errors, columns.get("id")
                )
            )
    return inserted


def _record_id(record: Any) -> str | None:
    value = record.get("id") if isinstance(record, dict) else None
    return value if isinstance(value, str) else None
