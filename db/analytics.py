"""What each fact kind can be summarised by, declared once beside its fields (``FactType.analytics``):
the fields it is faceted on, the dates it is bucketed by, the quantities it sums, what those sums
group by and where it sits on a map. REST, GraphQL and the read planner's aggregates
(db/plan/aggregates.py) are all derived from these declarations. SQL templates are over ``{a}``,
the fact row's alias."""

from __future__ import annotations

from dataclasses import dataclass

# The suffix of a filter's any-of form (``status`` → ``statusIn``), which db/facts.py derives for
# every filter a facet selects by.
ANY_OF = "In"


@dataclass(frozen=True)
class Facet:
    """Counts by value of one categorical or relation field. ``rows`` is a SELECT of the fact's
    values as ``(value text, detail text)``, one row per value and a single NULL value when the fact
    has none (its ``missingCount``); ``column`` is set when the value is one plain column, which
    lets several such facets share one pass without a subquery per row. Whole-table counts of
    every facet are also kept by triggers (0018's ``nf_facet_rows``, which must say the same:
    tests/db/test_facet_rollup.py)."""

    name: str
    rows: str
    column: str | None = None
    relation: str | None = None  # values are ids of facts of this kind: a bucket's value is the fact
    values: tuple[str, ...] = ()  # an enum's values
    filters: tuple[str, ...] = ()  # the filters that select by this facet (left out by excludeOwnFilter)
    detail: str | None = None  # what a bucket's second part is named (an incident actor's role)
    detail_values: tuple[str, ...] = ()

    @property
    def selected_by(self) -> tuple[str, ...]:
        """Every filter that selects by this facet, its any-of forms too (what excludeOwnFilter drops)."""
        return (*self.filters, *(f"{name}{ANY_OF}" for name in self.filters))


def column_facet(
    name: str, column: str, *, relation: str | None = None, values: tuple[str, ...] = (), filters: tuple[str, ...] = ()
) -> Facet:
    """A facet on a scalar column: each fact counts once, by its value."""
    return Facet(
        name, f"SELECT {{a}}.{column}::text, NULL::text", column, relation, values, filters or (name,)
    )  # fmt: skip


def array_facet(
    name: str, column: str, *, relation: str | None = None, values: tuple[str, ...] = (), filters: tuple[str, ...] = ()
) -> Facet:
    """A facet on an array column: a fact counts once in each of its values' buckets."""
    values_ = f"CASE WHEN cardinality({{a}}.{column}) > 0 THEN {{a}}.{column} ELSE ARRAY[NULL]::text[] END"
    rows = f"SELECT x::text, NULL::text FROM unnest({values_}) x"  # noqa: S608 - a declared column name
    return Facet(name, rows, None, relation, values, filters or (name,))


@dataclass(frozen=True)
class DateField:
    """A date a histogram buckets by: a calendar ``date`` (a day in the histogram's time zone) or a
    ``timestamptz``; ``precision`` is SQL of how precisely each fact's date is known ('day',
    'month', 'year'), None when always to the day (dates) or exactly (timestamps). Whole-table
    counts per day and precision of every calendar date are kept by triggers (0019's
    ``nf_facet_rows``, the facet ``date:<name>``: tests/db/test_facet_rollup.py)."""

    name: str
    column: str
    timestamp: bool = False
    precision: str | None = None


CREATED_AT = DateField("createdAt", "{a}.created_at", timestamp=True)


@dataclass(frozen=True)
class SumField:
    """Quantities a bounded sum adds up: ``items`` is a SELECT of ``(quantity jsonb, key text)``
    rows per fact — one quantity (NULL when the fact gives none), or one per nested item (each
    asset's) with the item's own group key. ``per_fact``: exactly one row per fact, so the sum's
    own counts are the facts' counts (db/plan/aggregates.py counts facts from them)."""

    name: str
    items: str
    description: str = ""
    per_fact: bool = False


def quantity_sum(name: str, column: str, description: str = "") -> SumField:
    """The sum of one quantity column: every fact counts once, without a quantity as unknown."""
    return SumField(name, f"SELECT nullif({{a}}.{column}, 'null'::jsonb), NULL::text", description, per_fact=True)


@dataclass(frozen=True)
class GroupBy:
    """What bounded sums can be grouped by: ``key`` is SQL over ``{a}``, or, with ``item``, the
    key each summed item carries (an asset's type: a deployment's assets fall in several groups)."""

    name: str
    key: str = ""
    item: bool = False


@dataclass(frozen=True)
class Geometry:
    """Where a fact is on a map: the ``field`` (a place) whose GeoJSON is stored in ``column``."""

    field: str
    column: str


@dataclass(frozen=True)
class Analytics:
    facets: tuple[Facet, ...] = ()
    dates: tuple[DateField, ...] = ()
    sums: tuple[SumField, ...] = ()
    groups: tuple[GroupBy, ...] = ()
    geometry: Geometry | None = None

    @property
    def histogram_fields(self) -> tuple[DateField, ...]:
        """The declared dates, then ``createdAt``, which every fact has."""
        return (*self.dates, CREATED_AT)

    def facet(self, name: str) -> Facet | None:
        return next((f for f in self.facets if f.name == name), None)

    def date(self, name: str) -> DateField | None:
        return next((d for d in self.histogram_fields if d.name == name), None)

    def sum(self, name: str) -> SumField | None:
        return next((s for s in self.sums if s.name == name), None)

    def group(self, name: str) -> GroupBy | None:
        return next((g for g in self.groups if g.name == name), None)


__all__ = [
    "ANY_OF",
    "CREATED_AT",
    "Analytics",
    "DateField",
    "Facet",
    "Geometry",
    "GroupBy",
    "SumField",
    "array_facet",
    "column_facet",
    "quantity_sum",
]
