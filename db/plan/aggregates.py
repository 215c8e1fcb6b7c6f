"""The SQL of the aggregates a read can ask of the facts a list would return (their rows: the same
filters, ``q``, lens, asOf and recall rules): facets, a calendar date histogram and bounded sums.
Each is one scalar subquery yielding a JSON document — what REST answers, and what a GraphQL
selection reads its fields from — so an aggregate is part of the request's one statement."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from db.aggregates import INTERVALS, MAX_BUCKETS, MAX_GROUPS, PRECISIONS, FacetsRequest, HistogramRequest, SumsRequest
from db.analytics import Facet, GroupBy, SumField
from db.queries import where_clauses
from db.registry import fact_type
from db.relations import relation_where

if TYPE_CHECKING:
    from db.plan.sql import Statement

# What names a related fact in a REST bucket's ``label``.
LABELS = {"actor": "name", "article": "headline"}


@dataclass(frozen=True)
class RowSet:
    """The rows an aggregate summarises: facts of ``kind`` under the statement's lens that pass
    ``filters`` (parsed, db.queries.parse_filters), the ``extra`` conditions (over the kind's
    alias: a planned nested connection's relation to its parent row) and, from the resolvers, a
    relation to a parent by id."""

    kind: str
    filters: Mapping[str, Any] = field(default_factory=dict)
    extra: tuple[str, ...] = ()
    # (relation, parent id): the facts of a nested connection, its parent bound as a parameter.
    related: tuple[str, str] | None = None

    def source(self, stmt: Statement, *, without: frozenset[str] = frozenset()) -> str:
        """``FROM … WHERE …`` of the rows, leaving out the filters named in ``without``."""
        t = fact_type(self.kind)
        kept = {k: v for k, v in self.filters.items() if k not in without}
        where = [*where_clauses(t, kept, stmt.params), *self.extra]
        if self.related is not None:
            relation, parent = self.related
            where.append(relation_where(self.kind, relation, f"{stmt.params.add(parent)}::text"))
        condition = f" WHERE {' AND '.join(where)}" if where else ""
        return f"FROM {stmt._rel(self.kind)} {t.alias}{condition}"


# ---- facets ----------------------------------------------------------------------------------


def facets(stmt: Statement, rows: RowSet, request: FacetsRequest) -> str:
    """``{key: {"buckets": [{"value"[, "label"][, "role"], "count"}], "otherCount", "missingCount"}}``:
    each facet's most frequent values (ties by value), how many values the cut left out and how
    many facts have none. Facets counted under the same filters share one pass over the rows."""
    t = fact_type(rows.kind)
    a = t.alias
    passes: dict[frozenset[str], list[Facet]] = {}
    number: dict[tuple[frozenset[str], str], int] = {}
    for ask in request.asks:
        own = frozenset(ask.facet.selected_by) & frozenset(rows.filters) if request.exclude_own else frozenset()
        found = passes.setdefault(own, [])
        if (own, ask.facet.name) not in number:
            number[(own, ask.facet.name)] = len(number)
            found.append(ask.facet)
    grouped = []
    if _whole_table(stmt, rows):
        # No filter, no asOf: every facet is in one pass, read from the kept counts (0018).
        ((own, facets_),) = passes.items()
        grouped.append(_rollup(stmt, rows.kind, [(number[(own, f.name)], f) for f in facets_]))
        passes = {}
    for own, facets_ in passes.items():
        source = rows.source(stmt, without=own)
        columns = [f for f in facets_ if f.column is not None]
        if columns:
            # Plain columns: one pass, one grouping set each (what a hand-written GROUP BY does).
            grouped.append(_grouping_sets([(number[(own, f.name)], f"{a}.{f.column}") for f in columns], source))
        others = [f for f in facets_ if f.column is None]
        if others:
            selects = " UNION ALL ".join(
                f"SELECT {number[(own, f.name)]}, x.v, x.d FROM ({f.rows.format(a=a)}) x(v, d)" for f in others
            )
            table, _, where = source.partition(" WHERE ")
            condition = f" WHERE {where}" if where else ""
            grouped.append(
                f"SELECT f.n, f.v, f.d, count(*) AS c {table} CROSS JOIN LATERAL ({selects}) f(n, v, d){condition}"
                " GROUP BY 1, 2, 3"
            )
    keys = []
    details = {}
    for ask in request.asks:
        own = frozenset(ask.facet.selected_by) & frozenset(rows.filters) if request.exclude_own else frozenset()
        keys.append(f"({stmt.params.add(ask.key)}::text, {number[(own, ask.facet.name)]}, {int(ask.first)})")
        details[number[(own, ask.facet.name)]] = ask.facet
    shapes = []
    for n, facet in details.items():
        pairs = ["'value', r.v"]
        if facet.relation is not None and request.labels:
            label = LABELS[facet.relation]
            rel = stmt._rel(facet.relation)
            pairs.append(f"'label', (SELECT l.{label} FROM {rel} l WHERE l.id = r.v LIMIT 1)")
        if facet.detail is not None:
            pairs.append(f"'{facet.detail}', r.d")
        pairs.append("'count', r.c")
        shapes.append(f"WHEN {n} THEN json_build_object({', '.join(pairs)})")
    bucket = f"CASE r.n {' '.join(shapes)} END"
    shown = "r.v IS NOT NULL AND r.rn <= k.first"
    return (
        # Materialized: each facet's LATERAL reads r, which PostgreSQL would otherwise inline and
        # recompute (the whole grouping pass) once per facet.
        "(WITH g AS MATERIALIZED (" + " UNION ALL ".join(grouped) + "), "
        "r AS MATERIALIZED (SELECT g.*, row_number() OVER (PARTITION BY g.n, g.v IS NULL ORDER BY g.c DESC, g.v, g.d) AS rn"
        " FROM g) "
        "SELECT json_object_agg(k.key, x.doc) "
        f"FROM (VALUES {', '.join(keys)}) k(key, n, first) CROSS JOIN LATERAL ("
        "SELECT json_build_object("
        f"'buckets', coalesce(json_agg({bucket} ORDER BY r.c DESC, r.v, r.d) "
        f"FILTER (WHERE {shown}), '[]'::json), "
        "'otherCount', coalesce(sum(r.c) FILTER (WHERE r.v IS NOT NULL AND r.rn > k.first), 0), "
        "'missingCount', coalesce(sum(r.c) FILTER (WHERE r.v IS NULL), 0)) AS doc "
        "FROM r WHERE r.n = k.n) x)"
    )


def _whole_table(stmt: Statement, rows: RowSet) -> bool:
    """Whether the rows are the kind's whole relation now (no filter, q, parent or asOf): what the
    facet counts kept by triggers (db/migrations/0018_facet_rollup.sql) count."""
    return not rows.filters and not rows.extra and rows.related is None and stmt.lens.as_of is None


def _kept(table: str, columns: str, where: str) -> str:
    """The rows of ``table``, counters kept by triggers (``facet_counts``: 0018, 0019;
    ``sum_counts``: 0020), plus the deltas writers appended to its ``…_deltas`` twin since the last
    fold: what a whole-table read adds up, ``where`` holds in both."""
    deltas = f"{table.removesuffix('s')}_deltas"
    return " UNION ALL ".join(f"SELECT {columns} FROM {t} WHERE {where}" for t in (table, deltas))


def _rollup(stmt: Statement, kind: str, facets_: list[tuple[int, Facet]]) -> str:
    """``(n, v, d, c)`` rows of whole-table facets from the kept counts: the folded counters plus
    the deltas appended since the last fold, the lens's count (``pub`` under the recall rules).
    A counter at zero is a value no fact has (the GROUP BY path has no such bucket)."""
    count = "pub" if stmt.lens.public else "n"
    asked = ", ".join(f"({stmt.params.add(f.name)}::text, {n})" for n, f in facets_)
    k = stmt.params.add(kind)
    return (
        f"SELECT w.n, c.value AS v, c.detail AS d, sum(c.{count})::bigint AS c "
        f"FROM ({_kept('facet_counts', f'facet, value, detail, {count}', f'kind = {k}::text')}) c "
        f"JOIN (VALUES {asked}) w(facet, n) ON w.facet = c.facet "
        f"GROUP BY 1, 2, 3 HAVING sum(c.{count}) <> 0"
    )


def _grouping_sets(columns: list[tuple[int, str]], source: str) -> str:
    """``(n, v, d, c)`` rows of several columns' counts in one pass: a grouping set per column, and
    GROUPING() telling which column a row counts (its value is NULL in the other columns)."""
    if len(columns) == 1:
        ((n, column),) = columns
        return f"SELECT {n} AS n, {column}::text AS v, NULL::text AS d, count(*) AS c {source} GROUP BY 2"
    width = len(columns)
    which = " ".join(f"WHEN {(1 << width) - 1 - (1 << (width - 1 - i))} THEN {n}" for i, (n, _) in enumerate(columns))
    listed = ", ".join(column for _, column in columns)
    value = f"coalesce({', '.join(f'{column}::text' for _, column in columns)})"
    sets = ", ".join(f"({column})" for _, column in columns)
    return (
        f"SELECT CASE GROUPING({listed}) {which} END AS n, {value} AS v, NULL::text AS d, count(*) AS c "
        f"{source} GROUP BY GROUPING SETS ({sets})"
    )


# ---- date histograms -------------------------------------------------------------------------

_STEPS = {
    "hour": "1 hour",
    "day": "1 day",
    "week": "7 days",
    "month": "1 month",
    "quarter": "3 months",
    "year": "1 year",
}
# How many buckets lie from ``lo`` to ``hi`` (bucket keys), checked before any is generated.
_COUNTS = {
    "hour": "(extract(epoch FROM {hi} - {lo}) / 3600)::bigint + 1",
    "day": "({hi}::date - {lo}::date)::bigint + 1",
    "week": "(({hi}::date - {lo}::date) / 7)::bigint + 1",
    "month": "((extract(year FROM {hi}) - extract(year FROM {lo})) * 12 + extract(month FROM {hi}) - extract(month FROM {lo}))::bigint + 1",
    "quarter": "(((extract(year FROM {hi}) - extract(year FROM {lo})) * 12 + extract(month FROM {hi}) - extract(month FROM {lo})) / 3)::bigint + 1",
    "year": "(extract(year FROM {hi}) - extract(year FROM {lo}))::bigint + 1",
}


def _bucket_key(instant: str, interval: str, tz: str, *, local: str | None = None) -> str:
    """The bucket an instant falls in. Calendar intervals truncate the wall-clock time in the
    zone (a day of 23 or 25 hours across a daylight-saving change is one day) and key buckets by
    that local timestamp; hours are instants, the last time the zone's clock showed HH:00 — so the
    hour repeated when clocks go back is two buckets, as it is two hours."""
    local = local or f"({instant} AT TIME ZONE {tz})"
    if interval == "hour":
        return f"({instant} - make_interval(mins => extract(minute FROM {local})::int, secs => extract(second FROM {local})))"
    return f"date_trunc('{interval}', {local})"


def histogram(stmt: Statement, rows: RowSet, request: HistogramRequest) -> str:
    """``{"buckets": [{"start", "end", "count"}], "imprecise", "missingCount"}``: consecutive
    buckets, zero-filled, from the first to the last that holds a fact (or over from/to); facts
    dated less precisely than the interval go in no bucket and are counted as imprecise.

    A whole-table histogram of a calendar date (no filter, q, parent or asOf) counts the kept
    per-day counters (db/migrations/0019_histogram_rollup.sql) instead of the facts: a day's
    bucket depends on the day alone, whatever the interval and time zone, so the buckets are the
    same. Timestamps (createdAt, publishedAt) fall in a zone's day by their instant: they count
    the facts, as any filtered or asOf histogram does."""
    t = fact_type(rows.kind)
    a = t.alias
    on = request.on
    interval = request.interval
    tz = f"{stmt.params.add(request.time_zone)}::text"
    kept = not on.timestamp and _whole_table(stmt, rows)
    if kept:
        # A counter row: the day (text, NULL for facts without a date), its precision and count.
        column = "nf_day_of(c.value)"
        precision = "c.detail" if on.precision is not None else None
        count = "pub" if stmt.lens.public else "n"
        k, f = stmt.params.add(rows.kind), stmt.params.add(f"date:{on.name}")
        counters = _kept("facet_counts", f"value, detail, {count} AS n", f"kind = {k}::text AND facet = {f}::text")
        source, counted = f"FROM ({counters}) c WHERE true", "sum(c.n)::bigint"
        # A bucket whose counters net to zero holds no fact (the counting path has no such row).
        having = " HAVING sum(c.n) <> 0"
    else:
        column = on.column.format(a=a)
        precision = on.precision.format(a=a) if on.precision is not None else None
        source, counted, having = rows.source(stmt), "count(*)", ""
    instant = column if on.timestamp else f"(({column})::timestamp AT TIME ZONE {tz})"
    # A calendar date is already the zone's wall-clock day: it is bucketed as it is.
    key = _bucket_key(instant, interval, tz, local=None if on.timestamp else f"({column})::timestamp")
    fits = "true"
    if precision is not None:
        fitting = [p for p, rank in PRECISIONS.items() if rank <= INTERVALS.index(interval)]
        listed = ", ".join(f"'{p}'" for p in fitting) or "NULL"
        fits = f"coalesce({precision}, 'day') IN ({listed})"
    bounds = []
    low = high = "NULL"
    if request.start is not None:
        start = f"{stmt.params.add(request.start)}::timestamptz"
        bounds.append(f"{instant} >= {start}")
        low = _bucket_key(start, interval, tz)
    if request.end is not None:
        end = f"{stmt.params.add(request.end)}::timestamptz"
        bounds.append(f"{instant} < {end}")
        high = _bucket_key(f"({end} - interval '1 microsecond')", interval, tz)
    if bounds:
        ranged = f"({column} IS NULL OR ({' AND '.join(bounds)}))"
        source += f" AND {ranged}" if " WHERE " in source else f" WHERE {ranged}"
    step = f"interval '{_STEPS[interval]}'"
    count = _COUNTS[interval].format(lo="m.lo", hi="m.hi")
    if interval == "hour":
        start_iso, end_iso = f"nf_iso(s.key, {tz})", f"nf_iso(s.key + {step}, {tz})"
    else:
        start_iso, end_iso = (
            f"nf_iso(s.key AT TIME ZONE {tz}, {tz})",
            f"nf_iso((s.key + {step}) AT TIME ZONE {tz}, {tz})",
        )
    return (
        f"(WITH k AS (SELECT CASE WHEN {column} IS NOT NULL AND {fits} THEN {key} END AS key, "
        f"{column} IS NULL AS missing, {counted} AS n {source} GROUP BY 1, 2{having}), "
        f"m AS (SELECT coalesce({low}, min(k.key)) AS lo, coalesce({high}, max(k.key)) AS hi FROM k) "
        "SELECT json_build_object("
        "'buckets', coalesce((SELECT json_agg(json_build_object("
        f"'start', {start_iso}, 'end', {end_iso}, 'count', coalesce(k.n, 0)) ORDER BY s.key) "
        f"FROM m CROSS JOIN LATERAL generate_series(m.lo, "
        f"CASE WHEN nf_bucket_limit({count}, {MAX_BUCKETS}, '{interval}') > 0 THEN m.hi END, {step}) s(key) "
        "LEFT JOIN k ON k.key = s.key), '[]'::json), "
        "'imprecise', (SELECT coalesce(sum(k.n), 0) FROM k WHERE k.key IS NULL AND NOT k.missing), "
        "'missingCount', (SELECT coalesce(sum(k.n), 0) FROM k WHERE k.missing)))"
    )


# ---- bounded sums ----------------------------------------------------------------------------

# A quantity's interval arithmetic (docs/analytics/sums.md) is nf_bounds(quantity) → (unit, lo,
# best, hi, unknown, approx), defined once in db/migrations/0020_sum_rollup.sql for the kept sums'
# triggers and this pass alike. OFFSET 0 keeps it a subquery: pulled up, its expressions were
# evaluated again wherever the statement reads them (and PostgreSQL memoizes the subquery by the
# quantity, which repeats: 2,933 distinct among 20,000 incidents in the bench corpus).
_BOUNDS = "SELECT * FROM nf_bounds(s.q) OFFSET 0"


def _unit_sums(where: str) -> str:
    """A JSON array: one sum per unit of the ``x`` rows matching ``where``, the largest first."""
    return (
        "coalesce((SELECT json_agg(json_build_object('unit', u.unit, 'count', u.c, 'low', u.lo, 'best', u.best, "
        "'high', u.hi, 'openUpper', u.open, 'unknown', u.unknown, 'approximate', u.approx) "
        "ORDER BY u.c DESC, u.unit NULLS LAST) "
        f"FROM per u WHERE {where}), '[]'::json)"
    )


def sums(stmt: Statement, rows: RowSet, request: SumsRequest) -> str:
    """``{"totalCount", "sums": {key: [per unit]}, "groups": [{"key", "totalCount", "sums"}]}``
    (``flat``: each sum under its key beside totalCount). A sum per unit: quantities of
    different units are never added; facts without a quantity are (0, 0, open) and unknown.

    A whole-table sum (no filter, q, parent or asOf) adds the counters kept by triggers
    (``_kept_sums``). Otherwise one pass over the rows: one GROUP BY with grouping sets gives the
    sums and the counts, in total and per group. A sum with one row per fact (a quantity column)
    counts the facts too; else each fact yields a row of its own (``n`` NULL) beside its items,
    for the counts."""
    t = fact_type(rows.kind)
    a = t.alias
    group = request.group_by
    chosen: list[tuple[int, SumField]] = list(enumerate(f for _, f in request.sums))
    if group is not None and group.item and not chosen:
        # Groups keyed by an item (an asset's type) come from the items even when no sum is shown.
        chosen = [(-1, t.analytics.sums[0])]
    keyed = [(stmt.params.add(key), n) for (key, _), (n, _) in zip(request.sums, chosen, strict=False)]
    # The kept counters count an item-keyed group's facts through one sum's items.
    if _whole_table(stmt, rows) and (group is None or not group.item or len({f.name for _, f in chosen}) == 1):
        return _document(_kept_sums(stmt, rows.kind, group, chosen), request, keyed, "u.n IS NULL")
    source = rows.source(stmt)
    table, _, where = source.partition(" WHERE ")
    condition = f" WHERE {where}" if where else ""
    grp = "NULL::text"
    if group is not None:
        # Keyed by an item, the fact's own row has no key (k NULL): only the total counts it.
        grp = "s.k" if group.item else f"({group.key.format(a=a)})::text"
    # The sum whose rows are the facts, one each: its counts are the facts' (no row of their own).
    counter = next((n for n, f in chosen if f.per_fact), None)
    selects = [f"SELECT {n}, i.q, i.k FROM ({f.items.format(a=a)}) i(q, k)" for n, f in chosen]
    if counter is None:
        selects.insert(0, "SELECT NULL::int, NULL::jsonb, NULL::text")
    items = " UNION ALL ".join(selects)
    fact_rows = "u.n IS NULL" if counter is None else f"u.n = {counter}"
    x = (
        f"SELECT {a}.id AS fact, {grp} AS grp, s.n, v.unit, v.lo, v.best, v.hi, v.unknown = 1 AS unknown, "
        f"v.approx = 1 AS approx {table} CROSS JOIN LATERAL ({items}) s(n, q, k) "
        f"CROSS JOIN LATERAL ({_BOUNDS}) v{condition}"
    )
    if group is not None:
        head, sets = "GROUPING(x.grp) AS total, x.grp", "GROUPING SETS ((x.n, x.unit), (x.grp, x.n, x.unit))"
    else:
        head, sets = "1 AS total, NULL::text AS grp", "x.n, x.unit"
    # trim_scale: a sum's digits are its value's, not the most any counted quantity happened to
    # carry (kept counters, which remember every quantity ever added, must print the same).
    per = (
        f"SELECT {head}, x.n, x.unit, count(*) AS c, trim_scale(coalesce(sum(x.lo), 0)) AS lo, "
        "trim_scale(coalesce(sum(x.best), 0)) AS best, "
        "CASE WHEN bool_and(x.hi IS NOT NULL) THEN trim_scale(sum(x.hi)) END AS hi, "
        "count(*) FILTER (WHERE x.hi IS NULL) AS open, "
        f"count(*) FILTER (WHERE x.unknown) AS unknown, bool_or(x.approx) AS approx FROM x GROUP BY {sets}"
    )
    ctes = [f"x AS ({x})", f"per AS MATERIALIZED ({per})"]
    if group is not None:
        if group.item:
            # A fact counts once in each group one of its items is in.
            counts = "SELECT x.grp, count(DISTINCT x.fact) AS c FROM x WHERE x.n IS NOT NULL GROUP BY x.grp"
        else:
            counts = f"SELECT u.grp, sum(u.c)::bigint AS c FROM per u WHERE u.total = 0 AND {fact_rows} GROUP BY 1"
        ctes.append(f"gc AS ({counts} ORDER BY c DESC, grp NULLS LAST LIMIT {MAX_GROUPS})")
    return _document(ctes, request, keyed, fact_rows)


def _document(ctes: list[str], request: SumsRequest, keyed: list[tuple[str, int]], fact_rows: str) -> str:
    """The sums' JSON from ``per`` (rows ``(total, grp, n, unit, c, lo, best, hi, open, unknown,
    approx)``: total 1 for the whole, 0 for a group) and, when grouped, ``gc`` (each group's fact
    count, largest first); ``fact_rows``: which ``per`` rows count the facts."""

    def document(scope: str, count: str, first: list[tuple[str, str]], last: list[tuple[str, str]]) -> str:
        found = [(f"{p}::text", _unit_sums(f"{scope} AND u.n = {n}")) for p, n in keyed]
        pairs = [*first, ("'totalCount'", count)]
        if request.flat:
            pairs += found
        else:
            pairs.append(("'sums'", f"json_build_object({', '.join(f'{k}, {v}' for k, v in found)})"))
        return f"json_build_object({', '.join(f'{k}, {v}' for k, v in [*pairs, *last])})"

    groups = "'[]'::json"
    if request.group_by is not None:
        one = document("u.total = 0 AND u.grp IS NOT DISTINCT FROM gc.grp", "gc.c", [("'key'", "gc.grp")], [])
        groups = f"coalesce((SELECT json_agg({one} ORDER BY gc.c DESC, gc.grp NULLS LAST) FROM gc), '[]'::json)"
    total = f"coalesce((SELECT sum(u.c)::bigint FROM per u WHERE u.total = 1 AND {fact_rows}), 0)"
    whole = document("u.total = 1", total, [], [("'groups'", groups)])
    return f"(WITH {', '.join(ctes)} SELECT {whole})"


def _kept_sums(stmt: Statement, kind: str, group: GroupBy | None, chosen: list[tuple[int, SumField]]) -> list[str]:
    """``per`` and ``gc`` of a whole-table sum from the counters kept by triggers
    (db/migrations/0020_sum_rollup.sql), in the lens's rows. The facts' own counters are ``per``
    rows with ``n`` NULL: in total, and per group, where a grouping by an item's key counts them
    through the (one) sum's items, once per distinct key. A counter that nets to no fact is no row
    (the GROUP BY path has none)."""
    k = stmt.params.add(kind)
    by = f"{stmt.params.add(group.name)}::text" if group is not None else "''"
    wanted = [f"({stmt.params.add(f.name)}::text, false, {n})" for n, f in chosen]
    wanted.append("('', true, NULL::int)")
    if group is not None and group.item:
        wanted.append(f"({stmt.params.add(chosen[0][1].name)}::text, true, NULL::int)")
    public = "true" if stmt.lens.public else "false"
    counters = _kept(
        "sum_counts",
        "facts, sum, by, grp, unit, c, lo, best, hi, open, unknown, approx",
        f"kind = {k}::text AND pub = {public} AND by IN ('', {by})",
    )
    per = (
        "SELECT (s.by = '')::int AS total, s.grp, w.n, s.unit, sum(s.c)::bigint AS c, trim_scale(sum(s.lo)) AS lo, "
        "trim_scale(sum(s.best)) AS best, CASE WHEN sum(s.open) = 0 THEN trim_scale(sum(s.hi)) END AS hi, "
        "sum(s.open)::bigint AS open, sum(s.unknown)::bigint AS unknown, sum(s.approx) > 0 AS approx "
        f"FROM ({counters}) s JOIN (VALUES {', '.join(wanted)}) w(sum, facts, n) "
        "ON w.sum = s.sum AND w.facts = s.facts GROUP BY s.by, s.grp, w.n, s.unit HAVING sum(s.c) <> 0"
    )
    ctes = [f"per AS MATERIALIZED ({per})"]
    if group is not None:
        counts = "SELECT u.grp, u.c FROM per u WHERE u.total = 0 AND u.n IS NULL"
        ctes.append(f"gc AS ({counts} ORDER BY c DESC, grp NULLS LAST LIMIT {MAX_GROUPS})")
    return ctes


__all__ = ["LABELS", "RowSet", "facets", "histogram", "sums"]
