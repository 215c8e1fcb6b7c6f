"""What a read sees. Every read runs the same SQL over a relation per fact table, and the lens
names it: the table now, or as it stood at a time (``<table>_at``); in full, or under the recall
rules that read-scope and anonymous callers get (``<table>_public``: withheld and canceled
articles as stubs, facts whose every source is withdrawn absent, no reference into a withheld or
canceled article — 0016; revisions through ``db.relations.revision_columns``). Each relation has its table's
row type (db/migrations/0009_history.sql), so filters, orders, relations and ``<kind>_doc`` apply
unchanged, and as SQL functions PostgreSQL inlines them onto the history's indexes."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Protocol

from db.registry import fact_type

# Kinds the recall rules apply to (an article's stub, a fact's sourcing); actors have none.
RECALLED = frozenset({"article", "claim", "deployment", "incident"})


class Binds(Protocol):
    def once(self, value: Any) -> str:
        """The placeholder of ``value``, added as a bind parameter the first time only."""
        ...


@dataclass(frozen=True, slots=True)
class Lens:
    as_of: str | None = None  # ISO 8601, already validated
    public: bool = False

    def relation(self, kind: str, binds: Binds) -> str:
        """The FROM item (without alias) that stands for ``kind``'s table in this lens."""
        table = fact_type(kind).table
        public = self.public and kind in RECALLED
        if self.as_of is None:
            return f"{table}_public()" if public else table
        at = self._time(binds)
        return f"{table}_public_at({at})" if public else f"{table}_at({at})"

    def revisions_where(self, alias: str, binds: Binds) -> str:
        """The condition on ``revisions`` rows under ``alias`` that this lens shows: those made by
        its time, and none of a fact withdrawn from a public reader."""
        where = []
        if self.as_of is not None:
            where.append(f"{alias}.changed_at <= {self._time(binds)}")
        if self.public:
            where.append(f"NOT nf_withdrawn({alias}.fact_id)")
        return " AND ".join(where) or "true"

    def _time(self, binds: Binds) -> str:
        # A timestamptz parameter, not text cast in SQL: text → timestamptz is only STABLE, so
        # PostgreSQL would parse it again for every history row it compares.
        assert self.as_of is not None
        moment = dt.datetime.fromisoformat(self.as_of.replace("Z", "+00:00"))
        return f"{binds.once(moment)}::timestamptz"

    def at(self, as_of: str | None) -> Lens:
        return self if as_of == self.as_of else Lens(as_of, self.public)


# Writes, events and webhooks read the facts as they are, in full.
FULL = Lens()


def for_scope(scope: str | None) -> Lens:
    """The lens of a caller: write and admin keys read everything; read keys and anonymous
    callers read under the recall rules."""
    return FULL if scope in ("write", "admin") else _PUBLIC


# Every read makes one: the two there are, made once (a frozen dataclass's __init__ is slow).
_PUBLIC = Lens(None, public=True)


__all__ = ["FULL", "RECALLED", "Lens", "for_scope"]
