"""History: every version is kept, and a fact can be read as it stood at a given time."""

from __future__ import annotations

import asyncio

import pytest

from db import queries, writes
from db.lens import FULL, Lens
from db.migrate import available, migrate
from db.pool import Conn, connect
from db.registry import FACT_TYPES
from tests import corpus
from tests.factories import make_actor, make_claim

pytestmark = pytest.mark.anyio


async def test_as_of_a_time_between_two_revisions_returns_the_older_version(conn: Conn) -> None:
    before_creation = (await conn.fetchval("SELECT clock_timestamp()")).isoformat()
    await asyncio.sleep(0.01)
    claim = await make_claim(conn)
    await asyncio.sleep(0.01)
    between = (await conn.fetchval("SELECT clock_timestamp()")).isoformat()
    await asyncio.sleep(0.01)
    await writes.update(conn, "claim", claim["id"], {"status": "disputed"}, changed_by="editor", reason="r1")
    after = (await conn.fetchval("SELECT clock_timestamp()")).isoformat()

    assert await queries.get(conn, "claim", claim["id"], lens=Lens(before_creation)) is None
    old = await queries.get(conn, "claim", claim["id"], lens=Lens(between))
    assert old is not None and (old["version"], old["status"]) == (1, "reported")
    new = await queries.get(conn, "claim", claim["id"], lens=Lens(after))
    assert new is not None and (new["version"], new["status"]) == (2, "disputed")


async def test_revisions_list_every_version_with_who_and_why_and_a_retraction_keeps_them(conn: Conn) -> None:
    claim = await make_claim(conn)
    await writes.update(conn, "claim", claim["id"], {"status": "disputed"}, changed_by="ed", reason="second source")
    retracted = await writes.retract(conn, "claim", claim["id"], changed_by="ed", reason="fabricated")
    assert retracted["status"] == "retracted" and retracted["retractedAt"] is not None
    history = await queries.revisions(conn, claim["id"], lens=FULL)
    assert [(h["version"], h["changeKind"], h["reason"]) for h in history] == [
        (1, "created", None),
        (2, "updated", "second source"),
        (3, "retracted", "fabricated"),
    ]
    assert [h["snapshot"]["status"] for h in history] == ["reported", "disputed", "retracted"]


async def _migrate_before(conn: Conn, version: str) -> None:
    """Apply, as db.migrate would, every migration older than ``version``."""
    await conn.execute(
        """CREATE TABLE schema_migrations (version text PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,
           applied_at timestamptz NOT NULL DEFAULT now())"""
    )
    for m in available():
        if m.version >= version:
            break
        async with conn.transaction():
            await conn.execute(m.sql)
            await conn.execute(
                "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                m.version,
                m.name,
                m.checksum,
            )


async def _disagreements(conn: Conn) -> list[str]:
    """Revisions whose snapshot is not what the table as of their time shows for their fact."""
    out = []
    for kind, t in FACT_TYPES.items():
        rows = await conn.fetch(
            f"""SELECT r.fact_id, r.version, r.snapshot,
                       (SELECT {t.doc_function}(x) FROM {t.table}_at(r.changed_at) x WHERE x.id = r.fact_id) AS doc
                FROM revisions r WHERE r.fact_type = $1""",
            kind,
        )
        out += [
            f"{r['fact_id']} v{r['version']}: {r['doc']} != {r['snapshot']}" for r in rows if r["doc"] != r["snapshot"]
        ]
    return out


async def test_the_history_agrees_with_every_revision_stored_before_and_after_it_existed(empty_database: str) -> None:
    """Migration 0009 rebuilds the earlier versions of facts already stored from their revisions,
    and its triggers record every later one: each revision is what "as of" its time reads."""
    conn = await connect(empty_database)
    try:
        await _migrate_before(conn, "0009")
        await corpus.build(conn)
        actor = await make_actor(conn)
        await writes.update(conn, "actor", actor["id"], {"name": "Renamed before"}, changed_by="t", reason=None)
        assert await migrate(conn) == [m.version for m in available() if m.version >= "0009"]
        assert await conn.fetchval("SELECT count(*) FROM revisions") == await conn.fetchval(
            "SELECT (SELECT count(*) FROM actors_history) + (SELECT count(*) FROM articles_history)"
            " + (SELECT count(*) FROM claims_history) + (SELECT count(*) FROM deployments_history)"
            " + (SELECT count(*) FROM incidents_history)"
        )
        await writes.update(conn, "actor", actor["id"], {"name": "Renamed after"}, changed_by="t", reason=None)
        claim = await make_claim(conn)
        await writes.retract(conn, "claim", claim["id"], changed_by="t", reason="gone")
        assert await _disagreements(conn) == []
        versions = await conn.fetch(
            "SELECT name, valid_from < valid_to AS live FROM actors_history WHERE id = $1 ORDER BY valid_from",
            actor["id"],
        )
        assert [r["name"] for r in versions][1:] == ["Renamed before", "Renamed after"]
        assert all(r["live"] for r in versions)
    finally:
        await conn.close()


async def test_a_bulk_load_into_an_analyzed_database_does_not_scan_the_history_per_row(conn: Conn) -> None:
    """The history trigger of an insert does not look for an open version (a new fact has none).
    It used to, once per row, with a plan made when the history table was as small as its last
    ANALYZE said: a scan of the whole table the same load was filling, quadratic in the load's
    size (20,000 claims into the seeded database: 235 s instead of 18 s). Counted in rows read,
    not timed: PostgreSQL's own statistics of sequential reads of the history table."""
    await conn.execute("ANALYZE claims_history")  # small, as after the seed's own ANALYZE

    async def scanned() -> int:
        await conn.execute("SELECT pg_stat_force_next_flush()")
        return int(await conn.fetchval("SELECT seq_tup_read FROM pg_stat_user_tables WHERE relname = 'claims_history'"))

    before = await scanned()
    actor = await make_actor(conn)
    records = [
        {"statement": f"Claim number {n}.", "speaker": actor["id"], "quoteType": "assertion"} for n in range(1_000)
    ]
    created = await writes.create_many(conn, "claim", records, changed_by="loader")
    assert len(created) == 1_000
    read = await scanned() - before
    # Scanning per row read about 1,000 x 500 rows; without that probe, none.
    assert read < 10_000, read
    open_versions = await conn.fetchval(
        "SELECT count(*) FROM claims_history WHERE id = ANY($1::text[]) AND valid_to = 'infinity'",
        [c["id"] for c in created],
    )
    assert open_versions == 1_000


async def test_each_version_keeps_the_search_vector_it_had(conn: Conn) -> None:
    """Since 0015 the history copies a version's search vector from the fact row instead of
    computing it again: a search "as of" a time finds the words the fact had then."""
    claim = await make_claim(conn, statement="The envoy praised the harbour.")
    await writes.update(conn, "claim", claim["id"], {"statement": "The envoy condemned the blockade."}, changed_by="t")
    rows = await conn.fetch(
        "SELECT h.search = c.search AS same_as_now, h.search @@ plainto_tsquery('english', 'harbour') AS old_word,"
        " h.search @@ plainto_tsquery('english', 'blockade') AS new_word"
        " FROM claims_history h JOIN claims c USING (id) WHERE h.id = $1 ORDER BY h.valid_from",
        claim["id"],
    )
    assert [tuple(r.values()) for r in rows] == [(False, True, False), (True, False, True)]
