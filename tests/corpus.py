"""A varied corpus for comparing GraphQL's two read paths: the seed article, a generated corpus, and
facts that exercise every corner of the documents — retractions, corrections with reasons, unnamed
speakers, nulls, open-bounded and unspecified quantities, places with and without geometry, roles
in organisations, claims that supersede or contradict others, renamed actors."""

from __future__ import annotations

import io
from typing import Any

from db import bulk, generate, writes
from db.pool import Conn
from tests.factories import make_actor, make_article, quote_ref


async def build(conn: Conn) -> None:
    """Load everything into ``conn``'s database (already migrated and seeded)."""
    stream = io.BytesIO()
    generate.write_ndjson(stream, 30, 150, seed=7)
    stream.seek(0)
    report = await bulk.load(conn, bulk.read_records(stream), changed_by="corpus")
    assert not report.rejected, report.rejected[:3]

    org = await make_actor(conn, kind="government", name="Ministry of Defence", country="VE")
    person = await make_actor(
        conn, name="Ana Díaz", aliases=["A. Díaz"], description=None, wikidataId="Q42",
        roles=[{"title": "Minister", "organization": org["id"], "since": "2024-01-01"}, {"title": "Envoy"}],
    )  # fmt: skip
    anon = await make_actor(conn, kind="anonymousSource", name="a person familiar with the talks")
    outlet = await make_actor(conn, kind="mediaOutlet", name="The Daily “Quote”")
    article = await make_article(
        conn, outlet=outlet["id"], authors=[person["id"]], basedOn=[outlet["id"], org["id"]],
        subjects=["medtop:11000000", "medtop:16000000"], publishedAt="2025-05-01T08:30:00+02:00",
        summary=None, url="https://example.org/a/1",
    )  # fmt: skip
    await make_article(conn, headline="No outlet, no facts", body="Nothing here is cited.")

    ref = quote_ref(article, "We will not retreat")
    other = quote_ref(article, "the convoy reached the port")
    first = await _claim(conn, statement="The minister vowed not to retreat.", quote="We will not retreat",
                         quoteType="direct", speaker=person["id"], reportedBy=outlet["id"],
                         subjects=[org["id"], person["id"]], claimDate="2025-04-01", claimDatePrecision="month", references=[ref])  # fmt: skip
    unnamed = await _claim(conn, statement="Talks are said to be stalled.", quoteType="indirect",
                           speakerDescription="a person who speaks to officials in both countries",
                           references=[other, ref], status="disputed")  # fmt: skip
    await _claim(conn, statement="The convoy did not reach the port.", quoteType="assertion",
                 speaker=anon["id"], contradicts=[unnamed["id"]], supersedes=[first["id"]],
                 sameAs=[first["id"]], claimDate="2025-05-02",
                 references=[other])  # fmt: skip
    retracted = await _claim(conn, statement="A claim later withdrawn.", quoteType="analysis", references=[other])
    await writes.retract(conn, "claim", retracted["id"], changed_by="corpus", reason="sourcing failed")
    await writes.update(
        conn, "claim", first["id"], {"statement": "The minister vowed never to retreat.", "status": "corroborated"},
        changed_by="editor", reason="wording of the vow", correction=True,
    )  # fmt: skip
    await writes.update(conn, "actor", person["id"], {"name": "Ana María Díaz"}, changed_by="editor")

    quantities: list[dict[str, Any] | None] = [
        {"amount": 10000, "approximation": "approximately", "unit": "troops", "originalText": "around 10,000 troops"},
        {"lowerBound": 8, "approximation": "atLeast"},
        {"upperBound": 3, "approximation": "atMost"},
        {"lowerBound": 2, "upperBound": 4, "approximation": "range"},
        {"approximation": "unspecified", "originalText": "fighter jets"},
        None,
    ]
    await writes.create(
        conn, "deployment",
        {
            "deployer": org["id"], "statedPurpose": None, "status": "announced", "startedOn": "2025-03-01",
            "region": {"name": "Caribbean", "geojson": {"type": "Point", "coordinates": [-66.9, 10.5]}},
            "assets": [{"assetType": "troops", "name": None, "attributes": ["marines"], "quantity": q, "references": [ref]}
                       for q in quantities],
            "references": [ref, other],
        },
        changed_by="corpus",
    )  # fmt: skip
    bare = await writes.create(conn, "deployment", {"status": "active"}, changed_by="corpus")
    await writes.retract(conn, "deployment", bare["id"], changed_by="corpus", reason="duplicate")
    await writes.create(
        conn, "incident",
        {
            "incidentType": "strike", "description": "Strikes on boats",
            "actors": [{"actor": org["id"], "role": "perpetrator"}, {"actor": anon["id"], "role": "witness"}],
            "location": {"name": None, "geojson": {"type": "Point", "coordinates": [-70, 12]}},
            "occurredFrom": "2025-09-01", "occurredTo": "2025-10-15", "occurredPrecision": "day",
            "count": {"amount": 16, "approximation": "exact"},
            "fatalities": {"lowerBound": 65, "approximation": "atLeast"},
            "injuries": {"approximation": "unspecified"}, "references": [other],
        },
        changed_by="corpus",
    )  # fmt: skip
    await writes.create(conn, "incident", {"incidentType": "arrest"}, changed_by="corpus")
    await _recalls(conn, article, org["id"])


async def _recalls(conn: Conn, usable: dict[str, Any], deployer: str) -> None:
    """Facts whose sources are gone: a withheld article (its claims withdrawn or partly so), a
    canceled one, a retracted one cited by a deployment's asset and an incident, and one withheld
    and then released (its claim's sourcing back to supported, with the versions in between)."""
    withheld, canceled, retracted, released = [await make_article(conn, headline=h) for h in ("Withheld", "Canceled", "Retracted", "Released")]  # fmt: skip
    await _claim(conn, statement="Only the withheld article says so.", quoteType="assertion",
                 references=[quote_ref(withheld, "the convoy reached the port")])  # fmt: skip
    await _claim(conn, statement="Two sources, one withheld.", quoteType="assertion",
                 references=[quote_ref(usable, "the convoy reached the port"), quote_ref(withheld, "We will not retreat")])  # fmt: skip
    await _claim(conn, statement="Canceled and retracted sources.", quoteType="assertion",
                 references=[quote_ref(canceled, "the minister"), quote_ref(retracted, "the port")])  # fmt: skip
    await _claim(conn, statement="Withheld, then released.", quoteType="assertion",
                 references=[quote_ref(released, "the minister")])  # fmt: skip
    await writes.create(
        conn, "deployment",
        {"deployer": deployer, "status": "active", "references": [quote_ref(usable, "the port")],
         "assets": [{"assetType": "warship", "references": [quote_ref(retracted, "the convoy")]}]},
        changed_by="corpus",
    )  # fmt: skip
    await writes.create(
        conn,
        "incident",
        {"incidentType": "seizure", "references": [quote_ref(retracted, "the port")]},
        changed_by="corpus",
    )
    for article, status in (
        (withheld, "withheld"),
        (canceled, "canceled"),
        (released, "withheld"),
        (released, "usable"),
    ):
        await writes.update(
            conn, "article", article["id"], {"pubStatus": status}, changed_by="legal", reason="legal review"
        )
    await writes.retract(conn, "article", retracted["id"], changed_by="corpus", reason="fabricated")


async def _claim(conn: Conn, **record: Any) -> dict[str, Any]:
    return await writes.create(conn, "claim", record, changed_by="corpus")
