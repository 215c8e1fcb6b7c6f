"""FactType: what the generic write service and list queries need to know about one kind of fact —
its table, its input fields, derived columns, filters and sort orders. Each of db/actors.py,
db/articles.py, db/claims.py, db/deployments.py and db/incidents.py declares one."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from db.analytics import ANY_OF, Analytics
from db.fields import INVALID, Checks, Field, Validator, shape_of, with_shape
from db.ids import PREFIXES, is_id
from db.kinds import BY_NAME

# A sourced fact's derived sourcing (0007/0008: fact_sourcing over its cited articles).
SOURCINGS = ("supported", "partlyWithdrawn", "withdrawn")

# The most values one any-of filter (``statusIn``) may list.
MAX_ANY_OF = 100

# Fields every document carries that a client cannot write.
READ_ONLY = frozenset({"id", "object", "createdAt", "updatedAt", "version", "retractedAt", "sourcing"})


@dataclass(frozen=True)
class FilterDef:
    """A list filter: ``parse`` validates the raw value, ``sql`` is a WHERE fragment in which ``{p}``
    stands for the bound parameter (always passed as text or text[] and cast in SQL)."""

    name: str
    parse: Validator
    sql: str
    description: str = ""
    # An any-of filter (``<filter>In``): its value is a list, comma-separated in a query string.
    many: bool = False


@dataclass(frozen=True)
class OrderDef:
    """A keyset sort order: ``key`` is the SQL expression rows are ordered by (then by id, which
    breaks ties); ``cast`` turns the cursor's text back into the key's type. An order that
    ``needs`` a filter (distance: ``near``) takes that filter's bound value where ``key`` says
    ``{<filter>}``, and is refused without it."""

    name: str
    key: str
    cast: str
    needs: str | None = None


@dataclass(frozen=True)
class FactType:
    kind: str
    table: str
    alias: str
    fields: tuple[Field, ...]
    filters: tuple[FilterDef, ...] = ()
    orders: tuple[OrderDef, ...] = ()
    derive: Callable[[dict[str, Any]], None] | None = None
    cross_check: Callable[[dict[str, Any], Checks], None] | None = None
    on_retract: dict[str, Any] = field(default_factory=dict)
    # SQL of the text the ``search`` tsvector indexes, over ``{a}`` (the row's alias): what
    # search snippets are cut from.
    search_text: str = "''"
    # What the kind is summarised by: facets, histogram dates, bounded sums, its map geometry.
    analytics: Analytics = field(default_factory=Analytics)

    def __post_init__(self) -> None:
        # Each filter a facet selects by also has its any-of form right after it (``statusIn``),
        # so a multi-select facet has a filter in every layer without being declared twice.
        selecting = {name for facet in self.analytics.facets for name in facet.filters}
        with_any = [g for f in self.filters for g in ((f, any_of(f)) if f.name in selecting else (f,))]
        object.__setattr__(self, "filters", tuple(with_any))

    @property
    def prefix(self) -> str:
        return PREFIXES[self.kind]

    @property
    def sourced(self) -> bool:
        """Whether the kind's rows carry a derived ``sourcing`` (from their ``article_ids``)."""
        return BY_NAME[self.kind].sourced

    @property
    def read_only(self) -> frozenset[str]:
        """The read-only keys this kind's documents carry (sourcing only on sourced kinds; on a kind
        with a map geometry, distanceKm, which a read with ``near`` adds)."""
        keys = READ_ONLY if self.sourced else READ_ONLY - {"sourcing"}
        return keys | {"distanceKm"} if self.analytics.geometry is not None else keys

    @property
    def doc_function(self) -> str:
        return f"{self.kind}_doc"

    @functools.cached_property
    def field_names(self) -> frozenset[str]:
        return frozenset(f.name for f in self.fields)

    @functools.cached_property
    def _accepted_keys(self) -> frozenset[str]:
        """The keys a record may carry without an UNKNOWN_FIELD: its fields and the read-only keys
        of a document (the id among them), which are ignored."""
        return self.field_names | READ_ONLY | self.read_only

    @functools.cached_property
    def _plan(self) -> tuple[tuple[Field, tuple[str], str | None], ...]:
        """Each field with its path and, unless it stores itself, its one column: what validate
        would otherwise rebuild for every record of a bulk load."""
        return tuple((f, (f.name,), None if f.store is not None else f.column or f.name) for f in self.fields)

    def filter(self, name: str) -> FilterDef | None:
        return next((f for f in self.filters if f.name == name), None)

    def order(self, name: str) -> OrderDef | None:
        return next((o for o in self.orders if o.name == name), None)

    def validate(self, record: Any, checks: Checks, *, allow_id: bool = True) -> dict[str, Any] | None:
        """Validate one input record (camelCase) into column values, or None when it is invalid
        (``checks.errors`` then says why). The id is kept when given and well-formed."""
        if not isinstance(record, dict):
            checks.fail((), "INVALID_TYPE", f"a {self.kind} must be a JSON object")
            return None
        if not record.keys() <= self._accepted_keys:
            known = self.field_names
            for key in record:
                if key not in known and not (key == "id" and allow_id) and key not in READ_ONLY | self.read_only:
                    checks.fail((key,), "UNKNOWN_FIELD", f"is not a field of {self.kind}")
        columns: dict[str, Any] = {}
        if "id" in record and allow_id:
            if not is_id(record["id"], self.kind):
                checks.fail(("id",), "INVALID_ID", f"must be an id of the form {self.prefix}_<26 characters>")
            else:
                columns["id"] = record["id"]
        values: dict[str, Any] = {}
        for f, path, column in self._plan:
            raw = record.get(f.name)
            if raw is None:
                if f.required:
                    checks.fail(path, "REQUIRED", "is required")
                value = f.default() if callable(f.default) else f.default
            else:
                value = f.validate(raw, path, checks)
            values[f.name] = value
            if value is not INVALID:
                if column is None:
                    columns.update(f.columns(value))
                else:
                    columns[column] = value
        if checks.errors:
            return None
        if self.cross_check is not None:
            self.cross_check(values, checks)
            if checks.errors:
                return None
        if self.derive is not None:
            self.derive(columns)
        return columns


def any_of(f: FilterDef) -> FilterDef:
    """``f``'s any-of form, ``<name>In``: facts matching ``f`` for at least one of the values given
    (a non-empty list of what ``f`` accepts). ``f``'s own condition is reused, once per value."""
    from db.fields import list_of

    items = list_of(f.parse, max_items=MAX_ANY_OF, unique=True)

    def parse(value: Any, path: Any, checks: Checks) -> Any:
        if isinstance(value, list) and not value:
            checks.fail(path, "INVALID_VALUE", "must name at least one value")
            return INVALID
        return items(value, path, checks)

    return FilterDef(
        f"{f.name}{ANY_OF}",
        with_shape(parse, shape_of(items)),
        _any_of_sql(f.sql),
        f"{f.description or f.name}: any of the values given",
        many=True,
    )


# The two shapes of condition most filters have, and their any-of forms that keep the column's
# index (btree for ``=``, GIN for ``&&``): EXISTS over the values can use neither, and counted
# claims by speaker or subject 11 and 31 times slower (bench/bench_any_of.py, docs/benchmarks/analytics.md).
_EQUALS = re.compile(r"^(\w+\.\w+) = \{p\}::text$")
_CONTAINS = re.compile(r'^(\w+\.\w+) @> ARRAY\[\{p\}::text( COLLATE "default")?\]$')


def _any_of_sql(sql: str) -> str:
    """A filter's condition for a list of values (``{p}`` a text[]): ``= ANY`` for a column that
    equals the value, ``&&`` for an array column that contains it, else the condition once per value."""
    if m := _EQUALS.match(sql):
        return f"{m[1]} = ANY({{p}}::text[])"
    if m := _CONTAINS.match(sql):
        return f"{m[1]} && ({{p}}::text[]{m[2] or ''})"
    return f"EXISTS (SELECT FROM unnest({{p}}::text[]) AS any_of(v) WHERE {sql.replace('{p}', 'any_of.v')})"


def common_filters(alias: str) -> tuple[FilterDef, ...]:
    """Filters every fact type has."""
    from db.fields import text, timestamp

    return (
        FilterDef(
            "updatedSince",
            timestamp(),
            f"{alias}.updated_at >= ({{p}}::text)::timestamptz",
            "only facts changed at or after this time",
        ),
        FilterDef(
            "query",
            text(max_len=500),
            f"{alias}.search @@ websearch_to_tsquery('english', {{p}}::text)",
            'full-text search (web search syntax: words, "phrases", -exclusions, OR)',
        ),
    )


def date_key(alias: str, column: str) -> str:
    """The sort key of a nullable date column: undated facts get a sentinel, so every row has a key
    and keyset comparisons stay row comparisons on one btree (matching the migrations' indexes)."""
    return f"coalesce({alias}.{column}, '0001-01-01'::date)"


def date_range_filters(
    alias: str, column: str, names: tuple[str, str], descriptions: tuple[str, str] = ("", "")
) -> tuple[FilterDef, FilterDef]:
    """Inclusive ``from``/``to`` filters on a nullable date column, written on its sort key so the
    key's index serves them (undated facts never match)."""
    from db.fields import date

    key = date_key(alias, column)
    present = f"{alias}.{column} IS NOT NULL"
    return (
        FilterDef(names[0], date(), f"{key} >= ({{p}}::text)::date AND {present}", descriptions[0]),
        FilterDef(names[1], date(), f"{key} <= ({{p}}::text)::date AND {present}", descriptions[1]),
    )


def article_filter(alias: str, plural: str) -> FilterDef:
    """Facts citing an article in their references (the derived ``article_ids`` column)."""
    from db.fields import ref

    return FilterDef(
        "article",
        ref("article"),
        f'{alias}.article_ids @> ARRAY[{{p}}::text COLLATE "default"]',
        f"{plural} cited from this article",
    )


def sourcing_filter(alias: str, plural: str) -> FilterDef:
    """Facts whose cited articles are all usable, partly or wholly withdrawn (the stored sourcing)."""
    from db.fields import enum

    return FilterDef(
        "sourcing", enum(*SOURCINGS), f"{alias}.sourcing = {{p}}::text", f"{plural} by the state of their sources"
    )


def common_orders(alias: str) -> tuple[OrderDef, ...]:
    return (
        OrderDef("createdAt", f"{alias}.id", "text"),
        OrderDef("updatedAt", f"{alias}.updated_at", "timestamptz"),
    )


def without_read_only(doc: dict[str, Any]) -> dict[str, Any]:
    """A stored document turned back into input shape (what an update merges its patch into)."""
    return {k: v for k, v in doc.items() if k not in READ_ONLY}


__all__ = [
    "INVALID",
    "READ_ONLY",
    "SOURCINGS",
    "FactType",
    "FilterDef",
    "OrderDef",
    "common_filters",
    "common_orders",
    "sourcing_filter",
]
