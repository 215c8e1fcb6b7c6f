"""An NDJSON export is the paginated listing, line for line: for every kind, filters, orders
(distance too), ``fields``, ``asOf`` and sub-collections, read anonymously and with an admin key
while a withheld article is present, every line of the export is the document the pages (walked
through their cursors) give at that position. The facts' text holds what escaping could break:
backslashes, quotes, newlines, tabs, control characters, and non-ASCII text and emoji. And the
export's statement builds each kind's document (db/export.py) as ``<kind>_doc`` does, row for row,
in every lens."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import orjson
import pytest

from db import bulk, generate
from db.export import export_sql
from db.kinds import LOAD_ORDER
from db.lens import Lens
from db.pool import connect
from db.registry import fact_type
from tests.api.history import database_now
from tests.api.live_events import api_key, bearer
from tests.factories import quote_ref
from tests.services import LiveServer

pytestmark = pytest.mark.anyio

# Text that COPY's own formats would escape (backslash, newline, tab, carriage return), that JSON
# escapes (quotes, control characters — among them the export's CSV delimiter and quote), and
# text beyond ASCII (accents, a right-to-left script, an emoji outside the BMP, a line separator).
TRICKY = 'He said "no" \\ then C:\\dir\\n\nnew line\ttab\r\x01\x02 — café Ωmega مرحبا 🚢🇫🇷 \u2028 end \\'
HELD_BODY = "Zorvatine envoys met at Quellmark harbour. The ledger was sealed."


@pytest.fixture(scope="module")
def generated(database_url: str) -> None:
    """A small generated corpus beside the seed: every kind, places and assets included."""

    async def load() -> None:
        conn = await connect(database_url)
        try:
            records = generate.records(30, 300, seed=11, incidents=20)
            report = await bulk.load(conn, ((i, r.pop("object"), r) for i, r in enumerate(records)), changed_by="test")
            assert not report.rejected, report.rejected[:3]
        finally:
            await conn.close()

    asyncio.run(load())


async def _post(client: httpx.AsyncClient, path: str, body: dict[str, Any], key: str) -> dict[str, Any]:
    r = await client.post(path, json=body, headers=bearer(key))
    assert r.status_code in (200, 201), r.text
    doc: dict[str, Any] = r.json()
    return doc


async def _corpus(client: httpx.AsyncClient, key: str, database_url: str) -> dict[str, Any]:
    tag = uuid.uuid4().hex[:8]
    usable = await _post(
        client, "/v1/articles", {"uri": f"urn:test:tricky-{tag}", "headline": f"Tricky {TRICKY}", "body": TRICKY}, key
    )
    held = await _post(
        client, "/v1/articles", {"uri": f"urn:test:held-{tag}", "headline": "Held", "body": HELD_BODY}, key
    )
    speaker = await _post(client, "/v1/actors", {"kind": "person", "name": f'Renée \\ "Ø" 🚢 {tag}'}, key)
    claims = []
    for i, text in enumerate(['He said "no"', "C:\\dir\\n\nnew line\ttab", "café Ωmega مرحبا 🚢🇫🇷"]):
        body = {"statement": f"{i} {TRICKY}", "quoteType": "assertion", "speaker": speaker["id"]}
        claims.append(await _post(client, "/v1/claims", {**body, "references": [quote_ref(usable, text)]}, key))
    # Partly withdrawn once the article is withheld (listed, without the reference into it), and
    # wholly withdrawn (absent for anonymous callers).
    both = await _post(
        client, "/v1/claims",
        {"statement": "Envoys met", "quoteType": "assertion",
         "references": [quote_ref(held, "Zorvatine envoys met"), quote_ref(usable, "café Ωmega")]},
        key,
    )  # fmt: skip
    only = await _post(
        client, "/v1/claims",
        {"statement": "The ledger", "quoteType": "assertion", "references": [quote_ref(held, "The ledger was sealed")]},
        key,
    )  # fmt: skip
    before = await database_now(database_url)
    r = await client.post(
        f"/v1/claims/{claims[0]['id']}/corrections",
        json={"changes": {"statement": f"corrected {TRICKY}"}, "reason": "a \\ reason"},
        headers=bearer(key),
    )
    assert r.status_code in (200, 201), r.text
    r = await client.patch(f"/v1/articles/{held['id']}", json={"pubStatus": "withheld"}, headers=bearer(key))
    assert r.status_code == 200, r.text
    return {"usable": usable, "held": held, "speaker": speaker, "both": both, "only": only, "before": before}


async def _pages(client: httpx.AsyncClient, path: str, params: dict[str, str], headers: dict[str, str]) -> list[Any]:
    """Every document of a listing, walking its pages of three through their cursors."""
    docs: list[Any] = []
    query = {**params, "limit": "3"}
    while True:
        r = await client.get(path, params=query, headers=headers)
        assert r.status_code == 200, (path, params, r.text)
        body = r.json()
        docs.extend(body["data"])
        if not body["hasMore"]:
            return docs
        query = {**{k: v for k, v in params.items() if k != "asOf"}, "limit": "3", "cursor": body["nextCursor"]}


async def _export(client: httpx.AsyncClient, path: str, params: dict[str, str], headers: dict[str, str]) -> bytes:
    r = await client.get(path, params=params, headers={**headers, "Accept": "application/x-ndjson"})
    assert r.status_code == 200, (path, params, r.text)
    assert r.headers["content-type"].startswith("application/x-ndjson")
    return r.content


def _lines(body: bytes) -> list[Any]:
    """The documents of an NDJSON body: one JSON text per line, each line ended by a newline."""
    if not body:
        return []
    assert body.endswith(b"\n")
    return [orjson.loads(line) for line in body[:-1].split(b"\n")]


async def test_the_export_statement_builds_each_kinds_document(generated: None, database_url: str) -> None:
    conn = await connect(database_url)
    try:
        before = await conn.fetchval("SELECT now()")
        for kind in LOAD_ORDER:
            t = fact_type(kind)
            for lens in (Lens(), Lens(public=True), Lens(before.isoformat(), public=True)):
                sql, args = export_sql(kind, {}, lens=lens)
                built, _, rest = sql.removeprefix("SELECT ").partition("::text FROM ")
                source = rest.partition(" ORDER BY ")[0]
                row = await conn.fetchrow(
                    f"SELECT count(*), count(*) FILTER (WHERE ({built})::jsonb IS DISTINCT FROM {t.doc_function}({t.alias}))"
                    f" FROM {source}",
                    *args,
                )
                assert row is not None and row[0] > 0 and row[1] == 0, (kind, lens, row)
    finally:
        await conn.close()


async def test_an_export_is_its_listing_walked_page_by_page(
    generated: None, server: LiveServer, database_url: str
) -> None:
    write, admin = await asyncio.gather(api_key(database_url, "write"), api_key(database_url, "admin"))
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        c = await _corpus(client, write, database_url)
        usable, held, speaker = c["usable"]["id"], c["held"]["id"], c["speaker"]["id"]
        reads: list[tuple[str, dict[str, str]]] = [
            ("/v1/claims", {}),
            ("/v1/claims", {"sort": "-createdAt"}),
            ("/v1/claims", {"article": usable}),
            ("/v1/claims", {"speaker": speaker, "fields": "statement,references"}),
            ("/v1/claims", {"asOf": c["before"]}),
            ("/v1/claims", {"asOf": c["before"], "fields": "statement,version", "sort": "-createdAt"}),
            (f"/v1/articles/{usable}/claims", {}),
            (f"/v1/articles/{held}/claims", {}),
            ("/v1/articles", {}),
            ("/v1/articles", {"fields": "headline,body,pubStatus"}),
            ("/v1/actors", {"fields": "name"}),
            ("/v1/actors", {}),
            ("/v1/deployments", {}),
            ("/v1/deployments", {"article": held}),  # none: an empty body
            ("/v1/deployments", {"fields": "region,assets", "sort": "-createdAt"}),
            ("/v1/incidents", {}),
            ("/v1/incidents", {"near": "0,0,20000", "sort": "distance"}),
            ("/v1/incidents", {"near": "0,0,20000", "fields": "location"}),
        ]
        for who, headers in (("anonymous", {}), ("admin", bearer(admin))):
            exported_claims = b""
            for path, params in reads:
                pages = await _pages(client, path, params, headers)
                body = await _export(client, path, params, headers)
                assert _lines(body) == pages, (who, path, params)
                if path == "/v1/claims" and not params:
                    exported_claims = body
            # The test reads what it means to: the tricky text went through, the recall rules held.
            docs = {d["id"]: d for d in _lines(exported_claims)}
            assert sum(TRICKY in d["statement"] for d in docs.values()) == 3, who
            public = who == "anonymous"
            assert (c["only"]["id"] in docs) is not public, who
            assert (b"Zorvatine" in exported_claims) is not public, who
            refs = docs[c["both"]["id"]]["references"]
            assert [r["article"] for r in refs] == ([usable] if public else [held, usable]), who
