"""CDN purge tags over real HTTP: a claim's page names in ``Surrogate-Key`` / ``Cache-Tag`` the
response cache's tags for it; its next change, delivered as a signed webhook to the example purge
receiver (api/cache/purge_receiver.py), becomes one purge call naming exactly that change's tags."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import uvicorn

from api.cache import purge_receiver
from api.cache.cdn import bounded, purge_tags
from api.cache.tags import QUOTES_TAG, depends, ids_in
from api.embedded import free_port
from api.settings import Settings
from db.pool import connect
from tests.api.live_events import api_key, bearer
from tests.api.webhook_receiver import Receiver, eventually, register, running_worker
from tests.factories import make_claim
from tests.services import LiveServer, serving

pytestmark = pytest.mark.anyio


def _keys(response: httpx.Response) -> list[str]:
    keys = response.headers["surrogate-key"].split(" ")
    assert response.headers["cache-tag"] == ",".join(keys)
    return keys


async def test_a_page_carries_the_cache_tags_on_misses_and_hits(cached_server: LiveServer, database_url: str) -> None:
    conn = await connect(database_url)
    try:
        claim = await make_claim(conn)
    finally:
        await conn.close()
    async with httpx.AsyncClient(base_url=cached_server.url, timeout=10) as client:
        miss = await client.get(f"/v1/claims/{claim['id']}")
        hit = await client.get(f"/v1/claims/{claim['id']}")
        assert miss.headers["x-cache"] == "miss" and hit.headers["x-cache"].startswith("hit")
        assert _keys(miss) == _keys(hit) == sorted(depends(ids_in(miss.content)))
        assert claim["id"] in _keys(miss) and claim["references"][0]["article"] in _keys(miss)
        assert QUOTES_TAG in _keys(miss), "an article's recall or release changes what a claim's page quotes"
        listing = await client.get("/v1/claims", params={"limit": 3})
        assert "list:claim" in _keys(listing)
        export = await client.get("/v1/claims", headers={"Accept": "application/x-ndjson"})
        assert "surrogate-key" not in export.headers  # streams are not held back to be tagged


@pytest.fixture
def cdn() -> Iterator[Receiver]:
    """Stands in for the CDN's purge API: records every purge call."""
    receiver = Receiver().start()
    try:
        yield receiver
    finally:
        receiver.stop()


async def test_the_next_change_purges_exactly_the_tags_its_page_named(
    wh_api: LiveServer, wh_client: httpx.AsyncClient, wh_settings: Settings, database_url: str, cdn: Receiver
) -> None:
    conn = await connect(database_url)
    try:
        claim = await make_claim(conn)
    finally:
        await conn.close()
    page = await wh_client.get(f"/v1/claims/{claim['id']}")
    listing = await wh_client.get("/v1/claims", params={"limit": 2})
    endpoint_port = free_port()
    endpoint = await register(wh_client, f"http://127.0.0.1:{endpoint_port}/hook", enabledEvents=["claim.updated"])
    app = purge_receiver.app(endpoint["secret"], purge_receiver.Purger("generic", purge_url=cdn.url("/purge")))
    # The example receiver, as a partner would run it.
    with serving(uvicorn.Config(app, host="127.0.0.1", port=endpoint_port, log_level="warning"), probe="/"):
        unsigned = await wh_client.post(f"http://127.0.0.1:{endpoint_port}/hook", content=b"{}")
        assert unsigned.status_code == 401
        writer = await api_key(database_url, "write")
        async with running_worker(wh_settings, database_url):
            patched = await wh_client.patch(
                f"/v1/claims/{claim['id']}", json={"status": "disputed"}, headers=bearer(writer)
            )
            assert patched.status_code == 200, patched.text
            await eventually(lambda: cdn.received, timeout=15)
    purge = cdn.received[0]
    tags = purge.json()["tags"]
    assert tags == [claim["id"], "list:claim"]
    assert purge.headers["surrogate-key"] == f"{claim['id']} list:claim"
    # What the change purges is on the claim's page (its id) and on every claim list (the family).
    assert set(tags) & set(_keys(page)) == {claim["id"]}
    assert "list:claim" in set(tags) & set(_keys(listing))
    assert len(cdn.received) == 1


async def test_an_articles_recall_or_release_purges_every_page_that_quotes_articles() -> None:
    # A recall hides, a release restores, the references into the article of facts that may get no
    # event of their own (0016): every page showing a claim, deployment or incident carries QUOTES_TAG.
    article = "art_01K8B1E3F9FPCM47JBPJSG0VT9"
    for change in ("withheld", "canceled", "released"):
        assert purge_tags("article", article, f"article.{change}") == [article, "list:article", QUOTES_TAG]
    assert purge_tags("article", article, "article.updated") == [article, "list:article"]
    assert purge_tags("article", article) == [article, "list:article"]
    # Past the header's size the ids give way to their kinds' list tags; the quotes tag stays.
    many = {f"clm_{i:026d}" for i in range(400)}
    assert bounded(depends(many)) == ["list:claim", QUOTES_TAG]
