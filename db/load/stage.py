"""Staging tables: one temporary table per kind, shaped from its fact table (the catalogue's types
and collations) for the columns the kind's declaration fills, plus what the relational checks of a
record need — the ids it references and the quotes it makes. A batch is COPied into it whole."""

from __future__ import annotations

import operator
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from db.facts import FactType
from db.fields import QuoteCheck
from db.ids import is_id
from db.pool import Conn
from db.registry import fact_type
from db.writes import Checked

# Types asyncpg's binary COPY cannot take from the validators' values as they are (it has no
# binary jsonb encoder; dates and times come as ISO strings): staged as text, cast on insert.
_AS_TEXT = frozenset({"jsonb", "date", "timestamp with time zone"})

# Besides the fact's columns, a staged row carries its position in the batch, whether it passed
# the static checks (the fact's columns are NULL when not) and what its relational checks need.
CHECK_COLUMNS = (
    ("ref_ids", "text[]"),  # every id the record references (db/fields.RefCheck)
    ("q_article", "text[]"),  # its references into articles (db/fields.QuoteCheck): article,
    ("q_start", "integer[]"),  # span (NULL when the quote could not be placed)
    ("q_end", "integer[]"),
    ("q_text", "text[]"),  # and quote
)

_COLUMNS = """
SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type,
       CASE WHEN a.attcollation NOT IN (0, 100) THEN c.collname END AS collation
FROM pg_attribute a LEFT JOIN pg_collation c ON c.oid = a.attcollation
WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped
"""

# Unique keys of one column, in index order: the order in which an insert meets them, so a record
# colliding on two is reported for the first, as the database would report it.
_UNIQUE = """
SELECT ic.relname AS name, a.attname AS column, i.indnkeyatts AS width
FROM pg_index i
JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
WHERE i.indrelid = $1::regclass AND i.indisunique AND i.indpred IS NULL AND i.indexprs IS NULL
ORDER BY i.indexrelid
"""


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # as the fact table declares it
    collation: str | None  # the fact table's, when not the database default

    @property
    def staged_type(self) -> str:
        return "text" if self.type in _AS_TEXT else self.type

    def value(self, alias: str) -> str:
        """The SQL of this column's value in staged row ``alias``, in the fact table's type."""
        cast = f"::{self.type}" if self.type in _AS_TEXT else ""
        return f"{alias}.{self.name}{cast}"


@dataclass(frozen=True)
class Stage:
    kind: str
    name: str  # the temporary table
    columns: tuple[Column, ...]  # the fact columns a valid record fills, in declaration order
    unique: tuple[tuple[str, str], ...]  # (unique index, its column) of the fact table, in index order

    @property
    def type(self) -> FactType:
        return fact_type(self.kind)

    @property
    def copy_columns(self) -> list[str]:
        return ["pos", "ok", *(c.name for c in self.columns), *(name for name, _ in CHECK_COLUMNS)]

    @property
    def copy_types(self) -> list[str]:
        """The staged type of each of ``copy_columns``."""
        return ["integer", "boolean", *(c.staged_type for c in self.columns), *(t for _, t in CHECK_COLUMNS)]


def declared_columns(t: FactType) -> list[str]:
    """The columns a valid record of ``t`` fills, as the validators build them: the id, each
    field's columns (its default shows which) and what the derive step adds."""
    columns: dict[str, Any] = {"id": None}
    for f in t.fields:
        columns.update(f.columns(f.default() if callable(f.default) else f.default))
    if t.derive is not None:
        t.derive(columns)
    return list(columns)


async def create(conn: Conn, kind: str) -> Stage:
    """The staging table of ``kind`` on this connection (a temporary table: dropped with the
    session at the latest; ``drop`` drops it when the load is done)."""
    t = fact_type(kind)
    catalogue = {r["name"]: r for r in await conn.fetch(_COLUMNS, t.table)}
    columns = tuple(Column(name, catalogue[name]["type"], catalogue[name]["collation"]) for name in declared_columns(t))
    unique = []
    for r in await conn.fetch(_UNIQUE, t.table):
        # A key of several columns is left to the insert, which reports it record by record.
        if r["width"] == 1:
            unique.append((str(r["name"]), str(r["column"])))
    stage = Stage(kind, f"nf_stage_{t.table}", columns, tuple(unique))
    definitions = [
        "pos integer NOT NULL",
        "ok boolean NOT NULL",
        *(f"{c.name} {c.staged_type}{f' COLLATE {_quote(c.collation)}' if c.collation else ''}" for c in columns),
        *(f"{name} {type_}" for name, type_ in CHECK_COLUMNS),
    ]
    # Identifiers come from the registry and the catalogue, never from input.
    await conn.execute(f"DROP TABLE IF EXISTS pg_temp.{stage.name}")
    await conn.execute(f"CREATE TEMPORARY TABLE {stage.name} ({', '.join(definitions)})")
    return stage


async def drop(conn: Conn, stage: Stage) -> None:
    await conn.execute(f"DROP TABLE IF EXISTS pg_temp.{stage.name}")


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def staged_quotes(quotes: Sequence[QuoteCheck]) -> list[QuoteCheck]:
    """The quotes of a record that are staged: those naming an article by id (a uri left
    unresolved has failed already). Their order numbers them in the check's results."""
    return [q for q in quotes if is_id(q.article, "article")]


def rows(stage: Stage, checked: Checked) -> list[tuple[Any, ...]]:
    """The staged rows of a checked batch, one per record, valid or not: a record that failed its
    static checks still has its references and quotes checked, so its report names every problem."""
    names = [c.name for c in stage.columns]
    values_of = operator.itemgetter(*names)
    jsonb = [n for n, c in enumerate(stage.columns) if c.type == "jsonb"]
    empty = (None,) * len(names)
    out: list[tuple[Any, ...]] = []
    for i, checks, columns in checked:
        if columns is None:
            values: Sequence[Any] = empty
        else:
            if len(columns) != len(names):
                raise ValueError(f"a {stage.kind} record filled {sorted(columns)}, not the staged {names}")
            values = list(values_of(columns))
            for n in jsonb:
                if values[n] is not None:
                    values[n] = orjson.dumps(values[n]).decode()
        refs = [r.id for r in checks.refs] if checks.refs else None
        quotes = staged_quotes(checks.quotes) if checks.quotes else None
        if quotes:
            spans = (
                [q.article for q in quotes],
                [q.char_start for q in quotes],
                [q.char_end for q in quotes],
                [q.quote_text for q in quotes],
            )
            out.append((i, columns is not None, *values, refs, *spans))
        else:
            out.append((i, columns is not None, *values, refs, None, None, None, None))
    return out


async def copy(conn: Conn, stage: Stage, staged: list[tuple[Any, ...]], payload: bytes | None = None) -> None:
    """Replaces what the staging table holds with ``staged`` rows (in the caller's transaction);
    ``payload``, when given, is those rows already encoded (db/load/encode.py), and is sent as is."""
    await conn.execute(f"TRUNCATE {stage.name}")
    if payload is None:
        await conn.copy_records_to_table(stage.name, records=staged, columns=stage.copy_columns)
    else:
        # An async iterable of one chunk: asyncpg would take bytes for a file name (os.fspath).
        await conn.copy_to_table(stage.name, source=_chunks(payload), columns=stage.copy_columns, format="binary")


async def _chunks(payload: bytes) -> AsyncIterator[bytes]:
    yield payload
