"""The write service: create, update (merge-patch, optionally a correction) and retract facts.
REST, GraphQL, the CLI and the bulk loader all write through here, so every write is validated the
same way and, in the same transaction, leaves a revision and an outbox event — or nothing at all."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from db import events
from db.errors import (
    Conflict,
    FieldError,
    NewsfactsError,
    NotFound,
    ValidationFailed,
    VersionConflict,
    from_postgres,
)
from db.facts import READ_ONLY, FactType, without_read_only
from db.fields import Checks, Path, QuoteCheck
from db.ids import is_id, new_id
from db.kinds import SOURCING_CHANGED
from db.pool import Conn
from db.quotes import locate
from db.registry import FACT_TYPES, fact_type

# The longest reason a revision keeps, on every transport (REST refuses it as a parameter and in a
# correction's body, GraphQL as a userError on ``reason``).
MAX_REASON = 2000


@dataclass
class Validated:
    """One record that passed validation: its position in the input and its column values."""

    index: int
    columns: dict[str, Any]


@dataclass
class Rejected:
    """One record that failed validation, with every reason."""

    index: int
    errors: list[FieldError]


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396 JSON merge patch: objects merge recursively, null removes, anything else replaces."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


async def validate_batch(
    conn: Conn,
    kind: str,
    records: Sequence[Any],
    *,
    allow_id: bool = True,
    cited_before: Sequence[Collection[str]] | None = None,
) -> tuple[list[Validated], list[Rejected]]:
    """Validate records of one kind, including what needs the database: every referenced id must
    exist (or be created in this batch), every reference's quoteText must match its article, and no
    new reference may point into a withdrawn article (``cited_before``: what each record's previous
    version cited, for updates)."""
    checked = static_checks(kind, records, allow_id=allow_id)
    return await check_in_database(conn, kind, checked, cited_before=cited_before)


Checked = list[tuple[int, Checks, dict[str, Any] | None]]


def static_checks(
    kind: str, records: Sequence[Any], *, allow_id: bool = True, mint: Callable[[int], str] | None = None
) -> Checked:
    """The checks that need no database (types, enums, required and unknown fields, lengths), with
    ids minted for new records (by ``mint``, given the record's index, when there is one). Pure CPU
    and thread-safe: the bulk loader runs it in a worker thread while the previous batch is written."""
    t = fact_type(kind)
    checked: Checked = []
    for i, record in enumerate(records):
        checks = Checks()
        columns = t.validate(record, checks, allow_id=allow_id)
        if columns is not None and "id" not in columns:
            columns["id"] = mint(i) if mint is not None else new_id(kind)
        checked.append((i, checks, columns))
    return checked


async def check_in_database(
    conn: Conn, kind: str, checked: Checked, *, cited_before: Sequence[Collection[str]] | None = None
) -> tuple[list[Validated], list[Rejected]]:
    """The checks that need the database (referenced ids exist, quotes match their articles, new
    references cite no withdrawn article), then the split into good and rejected records."""
    batch_ids = {c["id"] for _, _, c in checked if c is not None}
    await resolve_references(conn, kind, checked)
    stored = await _check_refs(conn, kind, checked, batch_ids)
    # The cited articles are locked (FOR KEY SHARE) before the quotes are read against their bodies:
    # a body change (FOR UPDATE, then its own check of every cited quote) either committed before and
    # is what the quotes are checked against, or waits for this write and then sees its quotes.
    await _check_withdrawn(conn, checked, cited_before)
    await _check_quotes(conn, checked)
    drop_refs_to_rejected(checked, {r.id for _, checks, _ in checked for r in checks.refs} - stored)
    return split(checked)


def split(checked: Checked) -> tuple[list[Validated], list[Rejected]]:
    """The records that passed every check, and the others with their errors."""
    good, bad = [], []
    for i, checks, columns in checked:
        if checks.errors or columns is None:
            bad.append(Rejected(i, checks.errors))
        else:
            good.append(Validated(i, columns))
    return good, bad


async def _check_refs(
    conn: Conn,
    kind: str,
    checked: list[tuple[int, Checks, dict[str, Any] | None]],
    batch_ids: set[str],
) -> set[str]:
    """Fails every ref naming neither a stored fact nor a record of this batch; returns the stored ids."""
    wanted: dict[str, set[str]] = defaultdict(set)
    for _, checks, _columns in checked:
        for r in checks.refs:
            wanted[r.kind].add(r.id)
    stored: set[str] = set()
    for ref_kind, ids in wanted.items():
        table = FACT_TYPES[ref_kind].table
        # table comes from our own registry, never from input.
        rows = await conn.fetch(f"SELECT id FROM {table} WHERE id = ANY($1::text[])", list(ids))  # noqa: S608
        stored.update(r["id"] for r in rows)
    fail_missing_refs(checked, {r.id for _, checks, _ in checked for r in checks.refs} - stored - batch_ids)
    return stored


def fail_missing_refs(checked: Checked, missing: Collection[str]) -> None:
    """Fails every ref naming one of ``missing`` (ids neither stored nor in the batch). Records that
    already failed static checks are checked too: a caller learns everything at once."""
    for _, checks, _columns in checked:
        for r in checks.refs:
            if r.id in missing:
                checks.fail(r.path, "REF_NOT_FOUND", f"no {r.kind} has the id {r.id}")


def drop_refs_to_rejected(checked: Checked, unstored: Collection[str], also_rejected: Collection[str] = ()) -> None:
    """Fails every good record that cites a record of its batch that was rejected (or one of
    ``also_rejected``) and is not stored (``unstored``: referenced ids the database does not have).
    Such a record would be inserted pointing at nothing. Repeats until stable, since rejecting one
    can strand another."""
    while True:
        rejected = {c["id"] for _, checks, c in checked if c is not None and checks.errors} | set(also_rejected)
        stranded = False
        for _, checks, columns in checked:
            if columns is None or checks.errors:
                continue
            for r in checks.refs:
                if r.id in rejected and r.id in unstored:
                    checks.fail(r.path, "REF_NOT_FOUND", f"no {r.kind} has the id {r.id} (it was rejected)")
                    stranded = True
        if not stranded:
            return


_ARTICLES_FOR_REFERENCES = """
SELECT id, uri, CASE WHEN id = ANY($3::text[]) OR uri = ANY($4::text[]) THEN body END AS body
FROM articles WHERE id = ANY($1::text[]) OR uri = ANY($2::text[])
"""


async def resolve_references(conn: Conn, kind: str, checked: Checked) -> bool:
    """Completes references that name their article by uri (→ its id) or give only the quote (→ the
    offsets of its match in the body), in one query per batch; what cannot be resolved fails the
    record here. The derived columns (article_ids) are then recomputed from the completed refs.
    Returns whether there was anything to complete."""
    pending: list[tuple[Checks, dict[str, Any], QuoteCheck]] = []
    for _, checks, columns in checked:
        for q in checks.quotes:
            if columns is not None and (q.char_start is None or not is_id(q.article, "article")):
                pending.append((checks, columns, q))
    if not pending:
        return False
    ids = {q.article for _, _, q in pending if is_id(q.article, "article")}
    uris = {q.article for _, _, q in pending} - ids
    # Bodies only where a quote must be searched: an article can be 500,000 characters.
    searched = {q.article for _, _, q in pending if q.char_start is None}
    rows = await conn.fetch(
        _ARTICLES_FOR_REFERENCES, list(ids), list(uris), list(searched & ids), list(searched & uris)
    )
    by_key: dict[str, Any] = {}
    for row in rows:
        by_key[row["id"]] = row
        by_key[row["uri"]] = row
    changed: dict[int, tuple[Checks, dict[str, Any]]] = {}
    for checks, columns, q in pending:
        row = by_key.get(q.article)
        if row is None:
            if not is_id(q.article, "article"):
                checks.fail((*q.path, "article"), "REF_NOT_FOUND", f"no article has the id or uri {q.article!r}")
            continue  # an unknown id is reported by _check_refs
        q.article = q.ref["article"] = row["id"]
        if q.char_start is None:
            found = locate(row["body"] or "", q.quote_text, q.occurrence)
            if found.error is not None:
                field_name, code, message = found.error
                checks.fail((*q.path, field_name), code, message)
                continue
            q.char_start, q.char_end = found.start, found.end
            q.ref["charStart"], q.ref["charEnd"] = found.start, found.end
        changed[id(columns)] = (checks, columns)
    derive = fact_type(kind).derive
    if derive is not None:
        for _, columns in changed.values():
            derive(columns)
    return True


_QUOTE_CHECK = """
SELECT q.i, a.id IS NULL AS missing, length(a.body) AS body_length,
       substr(a.body, q.s + 1, q.e - q.s) AS found
FROM unnest($1::int[], $2::text[], $3::int[], $4::int[], $5::text[]) AS q(i, article, s, e, quote)
LEFT JOIN articles a ON a.id = q.article
WHERE a.id IS NULL OR q.e > length(a.body) OR substr(a.body, q.s + 1, q.e - q.s) <> q.quote
"""


def quote_to_check(q: QuoteCheck) -> bool:
    """Whether a quote's span is checked against its article: a reference left unresolved (unknown
    uri, quote not found) has already failed."""
    return q.char_start is not None and is_id(q.article, "article")


async def _check_quotes(conn: Conn, checked: list[tuple[int, Checks, dict[str, Any] | None]]) -> None:
    # Offsets count Unicode code points on both sides: Python str indexing and PostgreSQL substr()
    # on a UTF-8 database agree, unlike byte or UTF-16 offsets.
    flat: list[tuple[Checks, Path, Any]] = []
    for _, checks, _columns in checked:
        for q in checks.quotes:
            if quote_to_check(q):
                flat.append((checks, q.path, q))
    if not flat:
        return
    rows = await conn.fetch(
        _QUOTE_CHECK,
        list(range(len(flat))),
        [q.article for _, _, q in flat],
        [q.char_start for _, _, q in flat],
        [q.char_end for _, _, q in flat],
        [q.quote_text for _, _, q in flat],
    )
    for row in rows:
        checks, _path, q = flat[row["i"]]
        if row["missing"]:
            continue  # the article ref itself is reported by _check_refs
        fail_quote(checks, q, row["body_length"], row["found"])


def fail_quote(checks: Checks, q: QuoteCheck, body_length: int, found: str) -> None:
    """Fails a quote whose span does not hold its text in a body of ``body_length`` characters
    (``found``: what the span holds)."""
    if q.char_end is not None and q.char_end > body_length:
        checks.fail((*q.path, "charEnd"), "OUT_OF_RANGE", f"is past the end of the article body ({body_length})")
    else:
        checks.fail(
            (*q.path, "quoteText"),
            "QUOTE_MISMATCH",
            f"does not match the article body at [{q.char_start}, {q.char_end}): found {found!r}",
        )


# The state of each cited article, locked FOR KEY SHARE: an article's recall (which takes its row
# FOR UPDATE, see _lock_current) waits for this write to commit and then finds the new citation when
# it recomputes sourcing; a recall that committed first is seen here and refuses the reference.
_CITED_ARTICLES = """
SELECT id, article_withdrawn_state(retracted_at, pub_status) AS state
FROM articles WHERE id = ANY($1::text[]) ORDER BY id FOR KEY SHARE
"""


async def _check_withdrawn(conn: Conn, checked: Checked, cited_before: Sequence[Collection[str]] | None) -> None:
    """Refuses every new reference into a retracted, withheld or canceled article. A reference is
    new when the record's previous version cited no reference into that article: what a fact
    already cited stays (its sourcing says the source is gone), but nothing may newly rest on it.
    Only new references are locked, so an update never waits on an article it already cites —
    that article's recall may be waiting on this fact's row (no lock cycle)."""
    new = new_citations(checked, cited_before)
    if not new:
        return
    rows = await conn.fetch(_CITED_ARTICLES, sorted({q.article for _, q in new}))
    fail_withdrawn(new, {r["id"]: r["state"] for r in rows if r["state"] is not None})


def new_citations(
    checked: Checked, cited_before: Sequence[Collection[str]] | None = None
) -> list[tuple[Checks, QuoteCheck]]:
    """Each reference that cites an article its record's previous version did not, in order."""
    new: list[tuple[Checks, QuoteCheck]] = []
    for position, (_, checks, _columns) in enumerate(checked):
        before = cited_before[position] if cited_before is not None else ()
        for q in checks.quotes:
            if is_id(q.article, "article") and q.article not in before:
                new.append((checks, q))
    return new


def fail_withdrawn(new: Sequence[tuple[Checks, QuoteCheck]], withdrawn: Mapping[str, str]) -> None:
    """Fails each new reference into an article of ``withdrawn`` (id → why: retracted, withheld…)."""
    for checks, q in new:
        state = withdrawn.get(q.article)
        if state is not None:
            # CONFLICT, as a duplicate uri is: the field collides with stored state, it is not malformed.
            checks.fail((*q.path, "article"), Conflict.code, f"cites article {q.article}, which is {state}")


def _raise_rejections(bad: list[Rejected], *, single: bool) -> None:
    errors = []
    for r in bad:
        errors.extend(r.errors if single else [FieldError((r.index, *e.path), e.code, e.message) for e in r.errors])
    first = errors[0] if errors else None
    where = f" at {first.pointer()}: {first.message}" if first else ""
    if rejection_code(errors) == Conflict.code:
        raise Conflict(f"{len(errors)} reference(s) into withdrawn articles{where}", errors=errors)
    raise ValidationFailed(f"{len(errors)} invalid field(s){where}", errors=errors)


def rejection_code(errors: Sequence[FieldError]) -> str:
    """The catalogue code of a refused record: input that is only wrong because of the cited
    articles' state conflicts with stored state (CONFLICT, 409) — the same record was valid before
    the recall; anything else is invalid input (BAD_USER_INPUT, 422 on REST)."""
    if errors and all(e.code == Conflict.code for e in errors):
        return Conflict.code
    return ValidationFailed.code


async def insert_validated(
    conn: Conn,
    kind: str,
    rows: Sequence[Validated],
    *,
    changed_by: str,
    reason: str | None = None,
    returning: bool = True,
) -> list[dict[str, Any]]:
    """Insert validated rows with their first revision and ``<kind>.created`` events; returns the
    new documents (or nothing, ``returning=False``: the bulk loader has no use for a million
    documents coming back). Must run inside a transaction that the caller commits."""
    if not rows:
        return []
    t = fact_type(kind)
    columns = [r.columns for r in rows]
    docs = await _insert_rows(conn, t, columns, changed_by=changed_by, reason=reason, returning=returning)
    # A new fact is always at version 1.
    created = [c["id"] for c in columns]
    await events.append(conn, [events.PendingEvent(f"{kind}.created", fact_id, 1) for fact_id in created])
    return docs


async def _insert_rows(
    conn: Conn,
    t: FactType,
    rows: list[dict[str, Any]],
    *,
    changed_by: str,
    reason: str | None,
    returning: bool = True,
) -> list[dict[str, Any]]:
    columns = sorted(rows[0])
    cols = ", ".join(columns)
    # A sourced fact's sourcing comes from its cited articles, computed by PostgreSQL as it inserts.
    # New references into withdrawn articles are refused, so this is 'supported' unless a recall
    # raced the write — which the FOR KEY SHARE of _check_withdrawn rules out.
    into, select = (f"{cols}, sourcing", f"{cols}, fact_sourcing(article_ids)") if t.sourced else (cols, cols)
    # Identifiers come from FactType specs (our code), values travel as one jsonb parameter that
    # PostgreSQL maps onto the table's row type: one round trip for the whole batch.
    sql = f"""
        WITH ins AS (
            INSERT INTO {t.table} ({into})
            SELECT {select} FROM jsonb_populate_recordset(NULL::{t.table}, $1::jsonb)
            RETURNING *
        )
        INSERT INTO revisions (fact_id, version, fact_type, change_kind, reason, changed_by, changed_at, snapshot)
        SELECT ins.id, ins.version, '{t.kind}', 'created', $2, $3, ins.updated_at,
               {t.doc_function}(ins::{t.table})
        FROM ins
    """  # noqa: S608
    if not returning:
        await conn.execute(sql, rows, reason, changed_by)
        return []
    result = await conn.fetch(sql + " RETURNING snapshot", rows, reason, changed_by)
    return [r["snapshot"] for r in result]


async def create(conn: Conn, kind: str, record: Any, *, changed_by: str, reason: str | None = None) -> dict[str, Any]:
    """Create one fact; raises ValidationFailed naming every bad field, Conflict on a duplicate."""
    (doc,) = await create_many(conn, kind, [record], changed_by=changed_by, reason=reason, _single=True)
    return doc


async def create_many(
    conn: Conn,
    kind: str,
    records: Sequence[Any],
    *,
    changed_by: str,
    reason: str | None = None,
    _single: bool = False,
) -> list[dict[str, Any]]:
    """Create facts all-or-nothing: one bad record refuses the whole call (errors carry its index)."""
    try:
        async with conn.transaction():
            good, bad = await validate_batch(conn, kind, records)
            if bad:
                _raise_rejections(bad, single=_single)
            return await insert_validated(conn, kind, good, changed_by=changed_by, reason=reason)
    except asyncpg.PostgresError as exc:
        raise from_postgres(exc) from exc


async def _lock_current(conn: Conn, t: FactType, fact_id: str) -> dict[str, Any]:
    if not isinstance(fact_id, str) or not fact_id.startswith(t.prefix + "_"):
        raise NotFound(f"no {t.kind} has the id {fact_id!r}")
    # FOR UPDATE: a concurrent update of the same fact waits here, then sees this one's result,
    # so both apply in order (two revisions) instead of one silently overwriting the other.
    doc = await conn.fetchval(
        f"SELECT {t.doc_function}(x) FROM {t.table} x WHERE id = $1 FOR UPDATE",  # noqa: S608
        fact_id,
    )
    if doc is None:
        raise NotFound(f"no {t.kind} has the id {fact_id}")
    return dict(doc)


async def _cited(conn: Conn, t: FactType, fact_id: str) -> frozenset[str]:
    """The articles a stored fact cites (its derived article_ids; none for kinds without references)."""
    if not t.sourced:
        return frozenset()
    ids = await conn.fetchval(f"SELECT article_ids FROM {t.table} WHERE id = $1", fact_id)  # noqa: S608
    return frozenset(ids or ())


async def _write_version(
    conn: Conn,
    t: FactType,
    fact_id: str,
    columns: dict[str, Any],
    *,
    change_kind: str,
    changed_by: str,
    reason: str | None,
    retract: bool = False,
) -> tuple[dict[str, Any], list[events.PendingEvent]]:
    """Write the fact's next version and its revision; returns the new document and the events to
    append (the caller appends them last, with any sourcing changes the version caused)."""
    columns = {k: v for k, v in columns.items() if k != "id"}
    sets = ["version = version + 1", "updated_at = now()"]
    if columns:
        cols = ", ".join(sorted(columns))
        sets.append(f"({cols}) = (SELECT {cols} FROM jsonb_populate_record(NULL::{t.table}, $2::jsonb))")  # noqa: S608
    if t.sourced and "article_ids" in columns:
        # The fact's own update may drop (or keep) references into withdrawn articles.
        sets.append("sourcing = fact_sourcing(ARRAY(SELECT jsonb_array_elements_text($2::jsonb -> 'article_ids')))")
    if retract:
        sets.append("retracted_at = now()")
    sql = f"""
        WITH upd AS (
            UPDATE {t.table} SET {", ".join(sets)}
            WHERE id = $1
            RETURNING *
        )
        INSERT INTO revisions (fact_id, version, fact_type, change_kind, reason, changed_by, changed_at, snapshot)
        SELECT upd.id, upd.version, '{t.kind}', $3, $4, $5, upd.updated_at, {t.doc_function}(upd::{t.table})
        FROM upd
        RETURNING snapshot
    """  # noqa: S608 - identifiers from FactType specs only
    # $2 is only referenced when there are columns to set; give PostgreSQL its type either way.
    sql = sql.replace("WHERE id = $1", "WHERE id = $1 AND $2::jsonb IS NOT NULL", 1) if not columns else sql
    doc = await conn.fetchval(sql, fact_id, columns, change_kind, reason, changed_by)
    return dict(doc), [events.PendingEvent(f"{t.kind}.{change_kind}", doc["id"], doc["version"])]


def _lock_sql() -> str:
    """Locks every live sourced fact citing any of ``$1``, in id order: a recall waits here for any
    other writer of those facts (another recall, a fact's own update) to commit, so the statement
    after it, with a snapshot taken then, sees every article change already committed. Computing
    and locking in one statement would judge with a snapshot older than the lock: two concurrent
    recalls of a fact's two articles could each see only its own and leave it partlyWithdrawn."""
    # Identifiers come from FactType specs only.
    where = "article_ids && $1::text[] AND retracted_at IS NULL ORDER BY id FOR UPDATE"
    sourced = [t for t in FACT_TYPES.values() if t.sourced]
    ctes = ", ".join(f"l_{t.kind} AS (SELECT id FROM {t.table} WHERE {where})" for t in sourced)  # noqa: S608
    counts = " + ".join(f"(SELECT count(*) FROM l_{t.kind})" for t in sourced)  # noqa: S608
    return f"WITH {ctes} SELECT {counts}"


_LOCK = _lock_sql()


def _sourcing_sql() -> str:
    """One statement that gives every live sourced fact citing any of ``$1`` (article ids) whose
    sourcing no longer matches its articles a new version: the new sourcing, a revision
    (sourcing_changed, reason ``$2``, by ``$3``), returning what the events need. One pair of CTEs
    per sourced kind, from the registry; identifiers come from FactType specs only."""
    ctes, results = [], []
    for t in FACT_TYPES.values():
        if not t.sourced:
            continue
        a = t.alias
        ctes.append(f"""
        u_{t.kind} AS (
            UPDATE {t.table} {a} SET sourcing = fact_sourcing({a}.article_ids),
                   version = {a}.version + 1, updated_at = now()
            WHERE {a}.article_ids && $1::text[] AND {a}.retracted_at IS NULL
              AND {a}.sourcing <> fact_sourcing({a}.article_ids)
            RETURNING {a}.*
        ), r_{t.kind} AS (
            INSERT INTO revisions (fact_id, version, fact_type, change_kind, reason, changed_by, changed_at, snapshot)
            SELECT u.id, u.version, '{t.kind}', '{SOURCING_CHANGED}', $2, $3, u.updated_at,
                   {t.doc_function}(u::{t.table})
            FROM u_{t.kind} u
            RETURNING fact_type, fact_id, version
        )""")  # noqa: S608
        results.append(f"SELECT fact_type, fact_id, version FROM r_{t.kind}")  # noqa: S608
    return f"WITH {','.join(ctes)}\n{' UNION ALL '.join(results)} ORDER BY fact_id"


_SOURCING = _sourcing_sql()


def _recall_kind(before: dict[str, Any], after: dict[str, Any]) -> str | None:
    """The change kind of an article version whose pubStatus moved into or out of recall."""
    old, new = before.get("pubStatus") or "usable", after.get("pubStatus") or "usable"
    if old == new:
        return None
    return "released" if new == "usable" else str(new)


async def _resync_sourcing(
    conn: Conn, article: dict[str, Any], state: str, *, changed_by: str, reason: str | None
) -> list[events.PendingEvent]:
    """After an article's recall, release or retraction: a new version of every fact whose sourcing
    changed with it, in one statement; returns their ``<kind>.sourcing_changed`` events. The facts
    are locked first, in id order (``_LOCK``): two recalls of articles that share facts queue rather
    than deadlock, and each judges with every committed article change. Retracted facts keep their
    last version, as everywhere else."""
    why = f"article {article['id']} {state}" + (f": {reason}" if reason else "")
    if not await conn.fetchval(_LOCK, [article["id"]]):
        return []  # nothing cites it
    rows = await conn.fetch(_SOURCING, [article["id"]], why, changed_by)
    return [events.PendingEvent(f"{r['fact_type']}.{SOURCING_CHANGED}", r["fact_id"], r["version"]) for r in rows]


def _check_version(doc: dict[str, Any], expected_version: int | None) -> None:
    if expected_version is not None and doc["version"] != expected_version:
        raise VersionConflict(
            f"{doc['id']} is at version {doc['version']}, not {expected_version}: re-read it and retry",
            current_version=doc["version"],
        )


def check_patch(kind: str, patch: Any, *, at: tuple[str, ...] = ()) -> None:
    """Refuse a patch whose given values are invalid on their own — what validating the merged
    record refuses too — before any precondition is weighed: a bad body is a 422 whatever its
    If-Match says. Unknown and read-only fields are left to ``update``, which names them."""
    if not isinstance(patch, dict):
        return
    fields = {f.name: f for f in fact_type(kind).fields}
    checks = Checks()
    for key, value in patch.items():
        f = fields.get(key)
        if f is not None and value is not None:
            f.validate(value, (*at, key), checks)
    if checks.errors:
        first = checks.errors[0]
        raise ValidationFailed(f"{len(checks.errors)} invalid field(s) at {first.pointer()}", errors=checks.errors)


async def update(
    conn: Conn,
    kind: str,
    fact_id: str,
    patch: Any,
    *,
    changed_by: str,
    reason: str | None = None,
    correction: bool = False,
    expected_version: int | None = None,
) -> dict[str, Any]:
    """Apply a JSON merge patch to a fact. A correction must say why (``reason``) and emits
    ``<kind>.corrected``; otherwise ``<kind>.updated``. ``expected_version`` makes it conditional."""
    t = fact_type(kind)
    if not isinstance(patch, dict):
        raise ValidationFailed(
            "the patch must be a JSON object", errors=[FieldError((), "INVALID_TYPE", "must be an object")]
        )
    read_only = [FieldError((k,), "READ_ONLY", "cannot be changed") for k in patch if k in READ_ONLY]
    if read_only:
        raise ValidationFailed(f"{read_only[0].path[0]} cannot be changed", errors=read_only)
    if correction and not (isinstance(reason, str) and reason.strip()):
        raise ValidationFailed(
            "a correction needs a reason", errors=[FieldError(("reason",), "REQUIRED", "is required")]
        )
    try:
        async with conn.transaction():
            current = await _lock_current(conn, t, fact_id)
            _check_version(current, expected_version)
            if current.get("retractedAt"):
                raise Conflict(f"{fact_id} was retracted; retracted facts keep their last version")
            merged = merge_patch(without_read_only(current), patch)
            cited = await _cited(conn, t, fact_id)
            good, bad = await validate_batch(conn, kind, [merged], allow_id=False, cited_before=[cited])
            if bad:
                _raise_rejections(bad, single=True)
            if kind == "article" and merged.get("body") != current.get("body"):
                await _check_quoted_body(conn, fact_id, merged.get("body") or "")
            # A recall or release names the version whatever else it changed (a correction's reason stays).
            recall = _recall_kind(current, merged) if kind == "article" else None
            doc, pending = await _write_version(
                conn,
                t,
                fact_id,
                good[0].columns,
                change_kind=recall or ("corrected" if correction else "updated"),
                changed_by=changed_by,
                reason=reason,
            )
            if recall is not None:
                pending += await _resync_sourcing(conn, doc, recall, changed_by=changed_by, reason=reason)
            await events.append(conn, pending)
            return doc
    except asyncpg.PostgresError as exc:
        raise from_postgres(exc) from exc


def _broken_quotes_sql() -> str:
    """Each reference into article ``$1`` that a body ``$2`` would no longer hold at its span: the
    references of every fact not retracted (a retracted one keeps its last version), and those of
    its assets (a deployment's), as the kinds declare them."""
    parts = []
    for t in FACT_TYPES.values():
        if not t.sourced:
            continue
        a = t.alias
        cites = f'{a}.article_ids @> ARRAY[$1::text COLLATE "default"] AND {a}.retracted_at IS NULL'
        parts.append(
            f"SELECT {a}.id, r.ref FROM {t.table} {a} CROSS JOIN LATERAL jsonb_array_elements({a}.refs) r(ref) WHERE {cites}"  # noqa: S608
        )
        if "assets" in t.field_names:
            nested = (
                "CASE WHEN jsonb_typeof(x.asset -> 'references') = 'array' THEN x.asset -> 'references' ELSE '[]' END"
            )
            parts.append(
                f"SELECT {a}.id, r.ref FROM {t.table} {a} CROSS JOIN LATERAL jsonb_array_elements({a}.assets) x(asset)"  # noqa: S608
                f" CROSS JOIN LATERAL jsonb_array_elements({nested}) r(ref) WHERE {cites}"
            )
    span = "(q.ref ->> 'charStart')::int"
    end = "(q.ref ->> 'charEnd')::int"
    return f"""
SELECT q.id, {span} AS s, {end} AS e, q.ref ->> 'quoteText' AS quote
FROM ({" UNION ALL ".join(parts)}) q
WHERE q.ref ->> 'article' = $1
  AND jsonb_typeof(q.ref -> 'charStart') = 'number' AND jsonb_typeof(q.ref -> 'charEnd') = 'number'
  AND ({end} > length($2::text) OR substr($2::text, {span} + 1, {end} - {span}) IS DISTINCT FROM q.ref ->> 'quoteText')
ORDER BY q.id"""  # noqa: S608 - declared names only


_BROKEN_QUOTES = _broken_quotes_sql()


async def _check_quoted_body(conn: Conn, article_id: str, body: str) -> None:
    """Refuses a body that would leave a quote some fact cites pointing at other words: every
    fact must stay traceable to the words that support it (its references are corrected first)."""
    broken = await conn.fetch(_BROKEN_QUOTES, article_id, body)
    if not broken:
        return
    first = broken[0]
    facts = sorted({r["id"] for r in broken})
    detail = (
        f"would no longer hold {len(broken)} quote(s) that {len(facts)} fact(s) cite, e.g. {first['id']}"
        f" at [{first['s']}, {first['e']}): {first['quote']!r}; correct their references first"
        f" ({', '.join(facts[:10])}{', …' if len(facts) > 10 else ''})"
    )
    raise ValidationFailed(f"body {detail}", errors=[FieldError(("body",), "QUOTE_MISMATCH", detail)])


async def retract(
    conn: Conn,
    kind: str,
    fact_id: str,
    *,
    changed_by: str,
    reason: str | None = None,
    expected_version: int | None = None,
) -> dict[str, Any]:
    """Retract a fact: it stays readable, with its history, marked retracted (claims: status retracted)."""
    t = fact_type(kind)
    try:
        async with conn.transaction():
            current = await _lock_current(conn, t, fact_id)
            _check_version(current, expected_version)
            if current.get("retractedAt"):
                raise Conflict(f"{fact_id} is already retracted")
            doc, pending = await _write_version(
                conn,
                t,
                fact_id,
                dict(t.on_retract),
                change_kind="retracted",
                changed_by=changed_by,
                reason=reason,
                retract=True,
            )
            if kind == "article":
                pending += await _resync_sourcing(conn, doc, "retracted", changed_by=changed_by, reason=reason)
            await events.append(conn, pending)
            return doc
    except asyncpg.PostgresError as exc:
        raise from_postgres(exc) from exc


__all__ = [
    "NewsfactsError",
    "Rejected",
    "Validated",
    "check_in_database",
    "create",
    "create_many",
    "insert_validated",
    "merge_patch",
    "rejection_code",
    "retract",
    "static_checks",
    "update",
    "validate_batch",
]
