"""A reader's validators follow what the recall rules show it. A recall changes what read-scope and
anonymous callers see of facts that get no new version: an ``asOf`` read (shown with the cited
articles as they are now), a retracted fact, one already partly withdrawn, a fact's revisions and
the corrections feed. A cache that kept the earlier answer revalidates with its ETag: it must get
the new answer, never a 304 that vouches for words the recall hid. Write keys read everything, and
their item tag stays the fact's own ``"<id>.v<version>"``, which writes check If-Match against."""

from __future__ import annotations

import asyncio
from urllib.parse import quote

import httpx
import pytest

from tests.api.history import database_now
from tests.api.live_events import api_key, bearer, post
from tests.factories import quote_ref
from tests.services import LiveServer

pytestmark = pytest.mark.anyio

SECRET = "Quillmore envoys signed the harbor accord at dawn."
OPEN = "The harbor accord was reported by several outlets."


@pytest.fixture(scope="module")
def keys(database_url: str) -> dict[str, str]:
    return {scope: asyncio.run(api_key(database_url, scope)) for scope in ("read", "write")}


async def test_a_recall_changes_the_tags_readers_revalidate_with(
    server: LiveServer, database_url: str, keys: dict[str, str]
) -> None:
    write, read = keys["write"], bearer(keys["read"])
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        articles = [("secret", "Quillmore", SECRET), ("open", "Accord", OPEN), ("third", "Third", OPEN)]
        secret, other, third = [
            await post(client, "/v1/articles", {"uri": f"urn:test:etag-{u}", "headline": h, "body": b}, write)
            for u, h, b in articles
        ]
        refs = [quote_ref(secret, "Quillmore envoys"), quote_ref(other, "harbor accord")]
        retracted = await post(
            client, "/v1/claims", {"statement": "Envoys signed", "quoteType": "assertion", "references": refs}, write
        )
        partly = await post(
            client, "/v1/claims",
            {"statement": "Signed at dawn", "quoteType": "assertion",
             "references": [*refs, quote_ref(third, "several outlets")]},
            write,
        )  # fmt: skip
        corrected = await post(
            client,
            "/v1/claims",
            {"statement": "Accord reported", "quoteType": "assertion", "references": [refs[1]]},
            write,
        )
        r = await client.post(
            f"/v1/claims/{corrected['id']}/corrections",
            json={"changes": {"references": refs}, "reason": "the envoys' own words added"},
            headers=bearer(write),
        )
        assert r.status_code == 200, r.text
        assert (await client.delete(f"/v1/claims/{retracted['id']}", headers=bearer(write))).status_code == 200
        r = await client.patch(f"/v1/articles/{third['id']}", json={"pubStatus": "withheld"}, headers=bearer(write))
        assert r.status_code == 200, r.text
        before = quote(await database_now(database_url))

        paths = [
            f"/v1/articles/{secret['id']}?asOf={before}",  # its version 1, as of before its recall
            f"/v1/claims/{partly['id']}?asOf={before}",
            f"/v1/claims/{retracted['id']}",  # a retracted fact gets no new version on a recall
            f"/v1/claims/{partly['id']}",  # partly withdrawn already: a second recall keeps its version
            f"/v1/claims/{corrected['id']}/revisions",
            "/v1/corrections?kind=claim&limit=50",
        ]
        seen: dict[tuple[str, str], httpx.Response] = {}
        for who, headers in (("anonymous", {}), ("read", read)):
            for path in paths:
                r = await client.get(path, headers=headers)
                assert r.status_code == 200, (who, path, r.text)
                assert "Quillmore envoys" in r.text, (who, path)  # the words a recall will hide
                seen[who, path] = r

        r = await client.patch(f"/v1/articles/{secret['id']}", json={"pubStatus": "withheld"}, headers=bearer(write))
        assert r.status_code == 200, r.text

        for (who, path), earlier in seen.items():
            headers = {**(read if who == "read" else {}), "If-None-Match": earlier.headers["etag"]}
            r = await client.get(path, headers=headers)
            assert r.status_code == 200, (who, path, r.status_code)  # not a 304 for the hidden words
            assert "Quillmore envoys" not in r.text, (who, path)
            assert r.headers["etag"] != earlier.headers["etag"], (who, path)
            # The new answer's own tag still validates it.
            again = await client.get(path, headers={**headers, "If-None-Match": r.headers["etag"]})
            assert again.status_code == 304, (who, path)

        # A writer still sees the words, and its item tag is still the fact's version.
        r = await client.get(f"/v1/claims/{retracted['id']}", headers=bearer(write))
        assert "Quillmore envoys" in r.text
        assert r.headers["etag"] == f'"{retracted["id"]}.v{r.json()["version"]}"'
