"""The README's write examples are copy-pasteable: every REST body and GraphQL mutation in its
"Writing" section runs, in order, against a live server seeded as `make run` seeds it."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import httpx
import orjson
import pytest

from tests.api.live_events import api_key, bearer
from tests.services import LiveServer

README = Path(__file__).resolve().parents[2] / "README.md"


def _writing_section() -> str:
    text = README.read_text()
    start = text.index("### Writing")
    return text[start : text.index("\n### ", start + 1)]


REST = re.findall(r"`POST (/v1/\w+)`\n```json\n(.*?)```", _writing_section(), re.S)
GRAPHQL = re.findall(r"```graphql\n(.*?)```", _writing_section(), re.S)


@pytest.fixture(scope="module")
def write_key(database_url: str) -> str:
    return asyncio.run(api_key(database_url, "write"))


def test_the_readme_shows_a_body_per_kind_in_both_apis() -> None:
    assert [path for path, _ in REST] == [
        "/v1/actors",
        "/v1/articles",
        "/v1/claims",
        "/v1/deployments",
        "/v1/incidents",
    ]
    names = [re.match(r"mutation (\w+)", op).group(1) for op in GRAPHQL]  # type: ignore[union-attr]
    assert names == ["Actor", "Article", "Claim", "Deployment", "Incident", "Patch"]
    for _, body in REST:
        for reference in re.findall(r'\{"article": [^}]*\}', body):
            assert "charStart" not in reference, "the examples use quote-only references"


def test_the_readme_write_examples_run(server: LiveServer, write_key: str) -> None:
    with httpx.Client(base_url=server.url, timeout=10, headers=bearer(write_key)) as client:
        for path, body in REST:
            r = client.post(path, content=body, headers={"content-type": "application/json"})
            assert r.status_code == 201, (path, r.text)
        claim_id = None
        for operation in GRAPHQL:
            variables = {"id": claim_id} if "$id" in operation else {}
            r = client.post("/graphql", json={"query": operation, "variables": variables})
            result = r.json()
            assert r.status_code == 200 and "errors" not in result, (operation, result)
            (payload,) = result["data"].values()
            assert payload["userErrors"] == [], (operation, payload)
            if "claim" in payload and claim_id is None:
                claim_id = payload["claim"]["id"]
        assert claim_id is not None
        claim = client.get(f"/v1/claims/{claim_id}").json()
        assert claim["status"] == "disputed" and claim["version"] == 2
        assert (
            orjson.loads(REST[2][1])["references"][0]["quoteText"]
            in client.get("/v1/articles", params={"q": "cartels"}).json()["data"][0]["body"]
        )
