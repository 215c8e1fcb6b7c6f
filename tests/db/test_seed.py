"""The seed article as data: it loads cleanly, every reference of every fact quotes the article body
exactly, and the key facts of the story are modelled as the article tells them."""

from __future__ import annotations

from importlib import resources
from typing import Any

import pytest

from db import queries
from db.lens import FULL
from db.pool import Conn
from db.seed import fixture_document, seed

pytestmark = pytest.mark.anyio

ARTICLE = "art_01K8B1E3F9FPCM47JBPJSG0VT9"
MADURO, TRUMP, ATLANTIC = (
    "act_01K8B1E2G12Z4MP14DZVS18EHJ",
    "act_01K8B1E2G23GFA841FH00VS49Q",
    "act_01K8B1E2G4CV8AYVXXYVX5Y92G",
)
CANDY_CLAIM = "clm_01K8B1E4EJJ4YDVT3E4602WPWC"
DEPLOYMENT = "dep_01K8B1E5DS81PW7K51N7X88QBD"
INCIDENT = "inc_01K8B1E7C9EGR26T72D8JGSNDX"


def _references(doc: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    found = [(f"/references/{i}", r) for i, r in enumerate(doc.get("references") or [])]
    for a, asset in enumerate(doc.get("assets") or []):
        found += [(f"/assets/{a}/references/{i}", r) for i, r in enumerate(asset.get("references") or [])]
    return found


async def test_seeding_twice_loads_nothing_the_second_time(conn: Conn) -> None:
    # The session database is already seeded by conftest.
    before = await conn.fetchval("SELECT count(*) FROM revisions")
    assert await seed(conn) is None
    assert await conn.fetchval("SELECT count(*) FROM revisions") == before


async def test_every_seed_fact_is_stored_and_every_reference_quotes_the_article_body(conn: Conn) -> None:
    document = fixture_document()
    article = await queries.get(conn, "article", ARTICLE, lens=FULL)
    assert article is not None
    body = article["body"]
    shipped_text = (resources.files("db") / "fixtures" / "atlantic-maduro-exile.txt").read_text("utf-8")
    assert body == shipped_text and len(body) > 1000

    checked = 0
    for plural, records in document.items():
        kind = plural.removesuffix("s")
        for record in records:
            stored = await queries.get(conn, kind, record["id"], lens=FULL)
            assert stored is not None, record["id"]
            for where, ref in _references(stored):
                assert ref["article"] == ARTICLE, (record["id"], where)
                assert body[ref["charStart"] : ref["charEnd"]] == ref["quoteText"], (record["id"], where)
                checked += 1
            if kind in ("claim", "deployment", "incident"):
                assert stored["references"], f"{record['id']} has no provenance"
    assert checked >= 20


async def test_the_candy_claim_has_no_speaker_but_a_described_source_reported_by_the_atlantic(conn: Conn) -> None:
    claim = await queries.get(conn, "claim", CANDY_CLAIM, lens=FULL)
    assert claim is not None
    assert claim["speaker"] is None
    assert claim["speakerDescription"] == "a person who speaks to officials in both countries"
    assert claim["reportedBy"] == ATLANTIC
    assert "enough candy in the dish" in claim["quote"]
    assert MADURO in claim["subjects"]
    atlantic = await queries.get(conn, "actor", ATLANTIC, lens=FULL)
    assert atlantic is not None and atlantic["name"] == "The Atlantic" and atlantic["kind"] == "mediaOutlet"


async def test_the_deployment_counts_around_ten_thousand_troops(conn: Conn) -> None:
    deployment = await queries.get(conn, "deployment", DEPLOYMENT, lens=FULL)
    assert deployment is not None
    troops = [a for a in deployment["assets"] if a["assetType"] == "troops"]
    assert len(troops) == 1
    assert troops[0]["quantity"]["amount"] == 10000
    assert troops[0]["quantity"]["approximation"] == "approximately"
    carrier = next(a for a in deployment["assets"] if a["assetType"] == "aircraftCarrier")
    assert carrier["name"] == "USS Gerald R. Ford"
    jets = next(a for a in deployment["assets"] if a["assetType"] == "fighterJet")
    assert jets["quantity"]["approximation"] == "unspecified" and "amount" not in {
        k for k, v in jets["quantity"].items() if v is not None
    }


async def test_the_boat_strikes_killed_at_least_65_in_16_attacks_authorised_by_trump(conn: Conn) -> None:
    incident = await queries.get(conn, "incident", INCIDENT, lens=FULL)
    assert incident is not None
    assert incident["incidentType"] == "strike"
    fatalities = incident["fatalities"]
    assert fatalities["approximation"] == "atLeast"
    assert fatalities["lowerBound"] == 65 and fatalities.get("upperBound") is None
    assert incident["count"]["amount"] == 16 and incident["count"]["approximation"] == "exact"
    assert {"actor": TRUMP, "role": "authorizer"} in incident["actors"]
    trump = await queries.get(conn, "actor", TRUMP, lens=FULL)
    assert trump is not None and "Trump" in trump["name"]


async def test_each_seed_fact_has_its_creation_revision_and_event(conn: Conn) -> None:
    ids = [r["id"] for records in fixture_document().values() for r in records]
    revisions = await conn.fetchval(
        "SELECT count(*) FROM revisions WHERE fact_id = ANY($1::text[]) AND version = 1 AND change_kind = 'created'",
        ids,
    )
    events = await conn.fetchval(
        "SELECT count(DISTINCT object_id) FROM events WHERE object_id = ANY($1::text[]) AND type LIKE '%.created'",
        ids,
    )
    assert revisions == len(ids) == events


def test_seed_ids_are_ulids_of_the_article_date_in_load_order() -> None:
    # Ids order createdAt (keyset indexes and the GraphQL planner rely on it): the seed's must be
    # real ULIDs, older than any id made now, or `sort=-createdAt` would list the seed first.
    from datetime import UTC, datetime

    from db.ids import ALPHABET, new_id

    doc = fixture_document()
    ids = [
        d["id"]
        for kind in ("actors", "articles", "claims", "deployments", "incidents")
        for d in doc[kind]
        for d in [d, *d.get("assets", [])]
    ]
    published = datetime(2025, 10, 24, 12, tzinfo=UTC)
    for fact_id in ids:
        ms = 0
        for ch in fact_id[4:14]:
            ms = ms * 32 + ALPHABET.index(ch)
        assert abs(datetime.fromtimestamp(ms / 1000, UTC) - published).total_seconds() < 10, fact_id
        assert fact_id[4:] < new_id("claim")[4:]
    for kind in ("actors", "claims"):
        assert [d["id"] for d in doc[kind]] == sorted(d["id"] for d in doc[kind])  # fixture order = id order
