"""A read plan: what one GraphQL operation reads, in database terms — which facts, which of their
document keys under which response keys, which relations and pages. schema/plan/ compiles a
document into these nodes once; db/plan/sql.py turns them, with one request's arguments, into
one SQL statement whose result is the response JSON."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# A plan node's arguments for one request (validated, in database terms), from the request's
# variables. Raising a NewsfactsError refuses the request's field; raising Unplannable sends the
# whole operation to the resolvers.
Bind = Callable[[Any], Any]


def now(variables: Any) -> None:
    """The ``when`` of a root without asOf: it reads the facts as they are."""
    return None


# Whether a field is selected for one request (@skip / @include over the request's variables).
Include = Callable[[Any], bool]


class Unplannable(Exception):
    """The operation (or this request of it) cannot be answered by the planner; the resolvers will."""


@dataclass(frozen=True)
class Field:
    key: str
    value: Value
    include: Include | None = None


@dataclass(frozen=True)
class Obj:
    """A JSON object built from one source row or document. ``kind`` is set for facts (their id
    joins the ids the response read)."""

    kind: str | None
    fields: tuple[Field, ...]


@dataclass(frozen=True)
class Const:
    """A constant string (``__typename``)."""

    text: str


@dataclass(frozen=True)
class Scalar:
    """A document value as stored (strings, numbers, dates, lists of strings, JSON)."""

    key: str


@dataclass(frozen=True)
class EnumScalar:
    """A document string shown as a GraphQL enum name: ``names`` maps stored value → name."""

    key: str
    names: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Embedded:
    """Value objects stored in the document (a quantity, a place, references, assets…).
    ``empty`` says when a single one reads as null: "null" (only when absent), "falsy" (also
    ``{}``), "place" (also when it has neither a name nor geometry)."""

    key: str
    obj: Obj
    many: bool
    empty: str = "null"


@dataclass(frozen=True)
class Linked:
    """Facts of ``kind`` named by id in the document: ``parts`` are (key, holds a list) in order;
    ``distinct`` keeps the first of repeated ids. Missing facts are left out (null when single)."""

    kind: str
    parts: tuple[tuple[str, bool], ...]
    obj: Obj
    many: bool
    distinct: bool = False


@dataclass(frozen=True)
class Expanded:
    """REST's ``expand`` of the id (or list of ids) at ``key``: each id replaced by the canonical
    document (``<kind>_doc``) of the fact of ``kind`` it names, as the lens shows it. An id the
    lens does not show, and anything that is not an id, stays as it is."""

    key: str
    kind: str


@dataclass(frozen=True)
class Patched:
    """Value objects stored at ``key`` (a list of them, or one) kept as stored, except that the
    keys of ``fields`` (Expanded or Patched) are read through them: REST's nested ``expand``
    (``references.article``)."""

    key: str
    fields: tuple[Expanded | Patched, ...]


@dataclass(frozen=True)
class Typed:
    """A fact document stored under ``key`` (an event's data), read as the object of its kind."""

    key: str
    objs: dict[str, Obj]


@dataclass(frozen=True)
class Revisions:
    obj: Obj


@dataclass(frozen=True)
class Connection:
    """The selection of a keyset connection: values are Nodes, Edges, PageInfo, TotalCount, Const."""

    fields: tuple[Field, ...]


@dataclass(frozen=True)
class Nodes:
    obj: Obj


@dataclass(frozen=True)
class Edges:
    """Edge fields: values are EdgeCursor, EdgeNode, Const."""

    fields: tuple[Field, ...]


@dataclass(frozen=True)
class EdgeCursor:
    pass


@dataclass(frozen=True)
class EdgeNode:
    obj: Obj


@dataclass(frozen=True)
class PageInfo:
    """Page info fields: values are PageFlag("next" | "previous"), PageCursor("start" | "end"), Const."""

    fields: tuple[Field, ...]


@dataclass(frozen=True)
class PageFlag:
    which: str


@dataclass(frozen=True)
class PageCursor:
    """ "start" or "end" (in page info), or "next": the end cursor when a next page exists, else
    null (REST's ``nextCursor``, a value of the connection itself)."""

    which: str


@dataclass(frozen=True)
class TotalCount:
    pass


@dataclass(frozen=True)
class Aggregate:
    """An aggregate of the facts a connection lists (all its pages, under its filters and lens):
    ``what`` is "facets", "histogram" or "sums"; ``bind`` gives the db.aggregates request;
    ``obj`` reads the selected fields from the jsonb document PostgreSQL builds (db/plan/
    aggregates.py), or None to answer the document as it is (REST)."""

    what: str
    bind: Bind
    obj: Obj | None = None


@dataclass(frozen=True)
class EdgeDistance:
    """An edge's great-circle distance (km) from a ``near`` filter's centre; null without one."""


@dataclass(frozen=True)
class Related:
    """A nested connection: facts of ``kind`` pointing at the parent by ``relation`` (a FactType
    filter, see db/relations.py), in id order. ``bind`` gives (page size, after id or None)."""

    kind: str
    relation: str
    connection: Connection
    bind: Bind


# ---- root fields ---------------------------------------------------------------------------
# Each root's ``when`` gives the time it reads at (its asOf, or the one its cursor carries; None
# for now): every fact under it is read through the request's lens at that time (db/lens.py).


@dataclass(frozen=True)
class ById:
    """One fact; ``bind`` gives its id."""

    kind: str
    obj: Obj
    bind: Bind
    when: Bind = now


@dataclass(frozen=True)
class ByUri:
    """One article by uri; ``bind`` gives the uri."""

    obj: Obj
    bind: Bind
    when: Bind = now


@dataclass(frozen=True)
class AnyNode:
    """One fact of any kind; ``bind`` gives (kind, id)."""

    objs: dict[str, Obj]
    bind: Bind
    when: Bind = now


@dataclass(frozen=True)
class AnyNodes:
    """Facts of any kind in the order asked, null where unknown; ``bind`` gives [(kind, id)]."""

    objs: dict[str, Obj]
    bind: Bind
    when: Bind = now


@dataclass(frozen=True)
class RootList:
    """A root keyset connection; ``bind`` gives (parsed filters, db.queries.PageRequest)."""

    kind: str
    connection: Connection
    bind: Bind
    when: Bind = now


@dataclass(frozen=True)
class Corrections:
    """The corrections feed (db/corrections.py); ``bind`` gives (its Filter, page size, the
    position after the ``after`` cursor or None)."""

    connection: Connection
    bind: Bind
    when: Bind = now  # the feed is the history itself: it has no asOf


@dataclass(frozen=True)
class Search:
    """Full-text search across kinds as a connection, most relevant first; ``bind`` gives a
    db.search.SearchRequest. Its nodes are a union: Nodes and EdgeNode are UnionNodes and
    UnionEdgeNode, and edges also carry EdgeRank and EdgeSnippet."""

    connection: Connection
    bind: Bind
    when: Bind = now


@dataclass(frozen=True)
class UnionNodes:
    """The nodes of a search page: one object plan per kind."""

    objs: dict[str, Obj]


@dataclass(frozen=True)
class UnionEdgeNode:
    objs: dict[str, Obj]


@dataclass(frozen=True)
class EdgeRank:
    pass


@dataclass(frozen=True)
class EdgeSnippet:
    """A search edge's snippet parts, each read as ``obj`` from its {"text", "match"} document."""

    obj: Obj


@dataclass(frozen=True)
class Payload:
    """A document handed in whole (a subscription's event), read as ``obj`` with its relations."""

    obj: Obj
    bind: Bind
    when: Bind = now


@dataclass(frozen=True)
class RootAggregate:
    """An aggregate of a kind's facts as the whole answer (REST's facets, histogram and aggregate
    reads, the GraphQL resolvers'); ``bind`` gives (parsed filters, (relation, parent id) or None)."""

    kind: str
    aggregate: Aggregate
    bind: Bind
    when: Bind = now


@dataclass(frozen=True)
class Choice:
    """A root whose plan depends on the request's arguments (``article``: by id or by uri)."""

    choose: Callable[[Any], ById | ByUri]


Value = (
    Const | Scalar | EnumScalar | Embedded | Typed | Linked | Revisions | Related | Connection | Nodes | Edges | EdgeCursor
    | EdgeNode | PageInfo | PageFlag | PageCursor | TotalCount | UnionNodes | UnionEdgeNode | EdgeRank | EdgeSnippet
    | Aggregate | EdgeDistance | Expanded | Patched
)  # fmt: skip
# Values without a selection of their own: the same whichever field node selects them.
LEAVES = (Const, Scalar, EnumScalar)
Root = ById | ByUri | AnyNode | AnyNodes | RootList | Corrections | Search | Choice | Payload | RootAggregate
