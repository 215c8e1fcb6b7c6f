"""References by quote over REST: a reference giving only quoteText gets its offsets (code points)
from the article body; a repeated quote is refused until ``occurrence`` picks one; an absent one is
refused with the closest passage; the article may be named by its uri."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest

from tests.api.live_events import api_key, bearer
from tests.services import LiveServer

pytestmark = pytest.mark.anyio

# Astral characters (🇻🇪 is two code points, each outside the BMP: four UTF-16 units) before the
# quotes, so code-point, UTF-16 and byte offsets all differ.
BODY = (
    "🇻🇪 Caracas — The minister said talks would resume in March. "
    "Later he added: talks would resume in March, or sooner. \U0001d49c final word: no comment."
)


@pytest.fixture(scope="module")
def write_key(database_url: str) -> str:
    return asyncio.run(api_key(database_url, "write"))


async def _article(client: httpx.AsyncClient, key: str) -> dict[str, Any]:
    uri = f"urn:test:quotes:{uuid.uuid4()}"
    r = await client.post("/v1/articles", json={"uri": uri, "headline": "Talks", "body": BODY}, headers=bearer(key))
    assert r.status_code == 201, r.text
    return dict(r.json())


async def _claim(client: httpx.AsyncClient, key: str, reference: dict[str, Any]) -> httpx.Response:
    return await client.post(
        "/v1/claims",
        json={"statement": "Talks resume in March", "quoteType": "indirect", "references": [reference]},
        headers=bearer(key),
    )


async def test_a_unique_quote_gets_its_code_point_offsets(server: LiveServer, write_key: str) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        article = await _article(client, write_key)
        r = await _claim(client, write_key, {"article": article["id"], "quoteText": "no comment"})
        assert r.status_code == 201, r.text
        (ref,) = r.json()["references"]
        start = BODY.index("no comment")
        assert ref == {"article": article["id"], "charStart": start, "charEnd": start + 10, "quoteText": "no comment"}
        # Code points, not UTF-16 units: the flag and U+1D49C count one each per code point.
        assert start != len(BODY[:start].encode("utf-16-le")) // 2
        listed = await client.get("/v1/claims", params={"article": article["id"]})
        assert [c["id"] for c in listed.json()["data"]] == [r.json()["id"]], "article_ids derived from the found ref"


async def test_a_repeated_quote_is_refused_then_accepted_with_occurrence(server: LiveServer, write_key: str) -> None:
    quote = "talks would resume in March"
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        article = await _article(client, write_key)
        refused = await _claim(client, write_key, {"article": article["id"], "quoteText": quote})
        assert refused.status_code == 422, refused.text
        (error,) = refused.json()["errors"]
        assert error["pointer"] == "/references/0/quoteText" and error["code"] == "AMBIGUOUS_QUOTE"
        assert "occurs 2 times" in error["detail"] and "/references/0/quoteText" in refused.json()["detail"]

        second = await _claim(client, write_key, {"article": article["id"], "quoteText": quote, "occurrence": 2})
        assert second.status_code == 201, second.text
        (ref,) = second.json()["references"]
        start = BODY.index(quote, BODY.index(quote) + 1)
        assert (ref["charStart"], ref["charEnd"]) == (start, start + len(quote)) and "occurrence" not in ref

        beyond = await _claim(client, write_key, {"article": article["id"], "quoteText": quote, "occurrence": 3})
        assert beyond.status_code == 422
        assert [e["pointer"] for e in beyond.json()["errors"]] == ["/references/0/occurrence"]


async def test_an_absent_quote_is_refused_with_the_closest_passage(server: LiveServer, write_key: str) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        article = await _article(client, write_key)
        r = await _claim(client, write_key, {"article": article["id"], "quoteText": "talks would restart in March"})
        assert r.status_code == 422, r.text
        (error,) = r.json()["errors"]
        assert error["code"] == "QUOTE_NOT_FOUND" and error["pointer"] == "/references/0/quoteText"
        assert "'talks would resume in March'" in error["detail"], error["detail"]


async def test_the_article_may_be_named_by_uri(server: LiveServer, write_key: str) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        article = await _article(client, write_key)
        r = await _claim(client, write_key, {"article": article["uri"], "quoteText": "no comment"})
        assert r.status_code == 201, r.text
        assert r.json()["references"][0]["article"] == article["id"]
        unknown = await _claim(client, write_key, {"article": "urn:test:nowhere", "quoteText": "no comment"})
        assert unknown.status_code == 422
        assert [(e["pointer"], e["code"]) for e in unknown.json()["errors"]] == [
            ("/references/0/article", "REF_NOT_FOUND")
        ]


async def test_offsets_and_occurrence_do_not_mix(server: LiveServer, write_key: str) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        article = await _article(client, write_key)
        start = BODY.index("no comment")
        ref = {"article": article["id"], "quoteText": "no comment", "charStart": start}
        half = await _claim(client, write_key, ref)
        assert [e["pointer"] for e in half.json()["errors"]] == ["/references/0/charEnd"]
        both = await _claim(client, write_key, {**ref, "charEnd": start + 10, "occurrence": 1})
        assert [e["pointer"] for e in both.json()["errors"]] == ["/references/0/occurrence"]


async def test_an_article_body_that_would_break_a_cited_quote_is_refused(server: LiveServer, write_key: str) -> None:
    """Every fact stays traceable to the words it cites: a new body that no longer holds a quote at
    its span is refused, naming the facts to correct first; one that keeps every quote goes in."""
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        article = await _article(client, write_key)
        r = await _claim(client, write_key, {"article": article["id"], "quoteText": "no comment"})
        assert r.status_code == 201, r.text
        claim = r.json()
        url = f"/v1/articles/{article['id']}"
        for body in ("A different body altogether.", None, BODY.replace("no comment", "no answer")):
            refused = await client.patch(url, json={"body": body}, headers=bearer(write_key))
            assert refused.status_code == 422, refused.text
            (error,) = refused.json()["errors"]
            assert (error["pointer"], error["code"]) == ("/body", "QUOTE_MISMATCH")
            assert claim["id"] in error["detail"]
        kept = await client.patch(url, json={"body": BODY + " (Updated.)"}, headers=bearer(write_key))
        assert kept.status_code == 200, kept.text
        # The claim is as editable as before.
        edited = await client.patch(
            f"/v1/claims/{claim['id']}", json={"statement": "No comment."}, headers=bearer(write_key)
        )
        assert edited.status_code == 200, edited.text
