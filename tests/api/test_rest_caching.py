"""Conditional requests and caching headers: ETag/If-None-Match → 304 until the fact changes,
list tags that follow their members, Last-Modified and Cache-Control, and 304s that cost no quota."""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx
import pytest

from db import writes
from tests.factories import make_actor, make_claim
from tests.services import LiveServer


@pytest.mark.anyio
async def test_item_etag_revalidates_until_the_fact_changes(server: LiveServer, conn: asyncpg.Connection[Any]) -> None:
    actor = await make_actor(conn)
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        first = await client.get(f"/v1/actors/{actor['id']}")
        tag = first.headers["etag"]
        assert tag == f'"{actor["id"]}.v1"'
        assert first.headers["cache-control"].startswith("public, max-age=")
        again = await client.get(f"/v1/actors/{actor['id']}", headers={"If-None-Match": tag})
        assert again.status_code == 304 and again.content == b""
        assert again.headers["etag"] == tag
        weak = await client.get(f"/v1/actors/{actor['id']}", headers={"If-None-Match": f'"x", W/{tag}'})
        assert weak.status_code == 304, "GET compares weakly and accepts lists of tags"
        await writes.update(conn, "actor", actor["id"], {"description": "changed"}, changed_by="test")
        changed = await client.get(f"/v1/actors/{actor['id']}", headers={"If-None-Match": tag})
        assert changed.status_code == 200 and changed.headers["etag"] == f'"{actor["id"]}.v2"'
        assert changed.json()["description"] == "changed"


@pytest.mark.anyio
async def test_list_and_variant_tags_change_with_their_content(
    server: LiveServer, conn: asyncpg.Connection[Any]
) -> None:
    speaker = await make_actor(conn)
    claim = await make_claim(conn, speaker=speaker["id"])
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        params = {"speaker": speaker["id"], "expand": "speaker"}
        page = await client.get("/v1/claims", params=params)
        tag = page.headers["etag"]
        assert (await client.get("/v1/claims", params=params, headers={"If-None-Match": tag})).status_code == 304
        expanded = await client.get(f"/v1/claims/{claim['id']}", params={"expand": "speaker"})
        item_tag = expanded.headers["etag"]
        assert item_tag != f'"{claim["id"]}.v1"', "an expanded representation has its own tag"
        # The claim is unchanged but its expanded speaker changes: both tags must move.
        await writes.update(conn, "actor", speaker["id"], {"name": "Renamed"}, changed_by="test")
        page2 = await client.get("/v1/claims", params=params, headers={"If-None-Match": tag})
        assert page2.status_code == 200 and page2.json()["data"][0]["speaker"]["name"] == "Renamed"
        item2 = await client.get(
            f"/v1/claims/{claim['id']}", params={"expand": "speaker"}, headers={"If-None-Match": item_tag}
        )
        assert item2.status_code == 200


@pytest.mark.anyio
async def test_not_modified_costs_no_rate_limit_token(server: LiveServer, conn: asyncpg.Connection[Any]) -> None:
    actor = await make_actor(conn)
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        tag = (await client.get(f"/v1/actors/{actor['id']}")).headers["etag"]
        before = (await client.get("/v1/quota")).json()["remaining"]
        for _ in range(5):
            r = await client.get(f"/v1/actors/{actor['id']}", headers={"If-None-Match": tag})
            assert r.status_code == 304
        after = (await client.get("/v1/quota")).json()["remaining"]
        # Only the second quota call itself was charged (other tests may run in between; never the 304s).
        assert before - after <= 1 + 0, (before, after)
