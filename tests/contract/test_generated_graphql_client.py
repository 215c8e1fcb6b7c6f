"""A frontend's view of the GraphQL contract: ariadne-codegen generates a typed client from
schema/schema.graphql and the operations in tests/contract/graphql/, and that client — over real
HTTP — creates a claim citing an article by quote alone, updates it (one field cleared with null,
another left absent), queries it back and finds it by search."""

from __future__ import annotations

import asyncio
import importlib
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import httpx
import pytest

from tests.api.live_events import api_key, bearer
from tests.services import LiveServer

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[2]
# ariadne-codegen lives in its own virtualenv (pyproject: graphql-codegen; `make install` makes it).
GENERATOR = Path(sys.executable).parent.parent / "codegen" / "bin" / "ariadne-codegen"
PACKAGE = "newsfacts_graphql_client"
BODY = "The ministry said the talks in Oslo would resume on Monday, a spokesman told reporters."


@pytest.fixture(scope="module")
def client_package(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """The client generated into a temp dir (never committed), imported."""
    assert GENERATOR.exists(), f"{GENERATOR} is missing: run make install"
    root = tmp_path_factory.mktemp("graphql-client")
    (root / "pyproject.toml").write_text(
        "[tool.ariadne-codegen]\n"
        f'schema_path = "{ROOT / "schema" / "schema.graphql"}"\n'
        f'queries_path = "{ROOT / "tests" / "contract" / "graphql" / "operations.graphql"}"\n'
        f'target_package_name = "{PACKAGE}"\n'
        f'target_package_path = "{root}"\n'
        'client_name = "NewsfactsClient"\n'
    )
    result = subprocess.run([str(GENERATOR)], cwd=root, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    sys.path.insert(0, str(root))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(root))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
            del sys.modules[name]


@pytest.fixture(scope="module")
def write_key(database_url: str) -> str:
    return asyncio.run(api_key(database_url, "write"))


async def test_the_generated_client_creates_updates_and_queries_a_claim(
    client_package: ModuleType, server: LiveServer, write_key: str
) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        r = await http.post(
            "/v1/articles",
            json={"uri": f"urn:test:graphql-client:{uuid.uuid4()}", "headline": "Talks", "body": BODY},
            headers=bearer(write_key),
        )
        assert r.status_code == 201, r.text
        article = r.json()

    types = importlib.import_module(f"{PACKAGE}.input_types")
    enums = importlib.import_module(f"{PACKAGE}.enums")
    headers = {**bearer(write_key), "content-type": "application/json"}
    async with httpx.AsyncClient(headers=headers, timeout=10) as http:
        client = client_package.NewsfactsClient(url=server.url + "/graphql", http_client=http)
        created = await client.create_claim(
            input=types.CreateClaimInput(
                statement="Talks in Oslo resume on Monday",
                quote_type=enums.QuoteType.INDIRECT,
                speaker_description="a ministry spokesman",
                claim_date="2025-10-06",
                references=[types.ReferenceInput(article=article["uri"], quote_text="would resume on Monday")],
            )
        )
        payload = created.create_claim
        assert payload.user_errors == [], payload.user_errors
        claim = payload.claim
        assert claim is not None and claim.quote_type == enums.QuoteType.INDIRECT
        (reference,) = claim.references
        start = BODY.index("would resume on Monday")
        assert (reference.char_start, reference.char_end) == (start, start + 22)
        assert reference.article is not None and reference.article.id == article["id"]

        # speakerDescription is set to null (cleared); claimDate is not sent at all (kept).
        updated = await client.update_claim(id=claim.id, patch=types.ClaimPatch(speaker_description=None))
        assert updated.update_claim.user_errors == []
        after = updated.update_claim.claim
        assert after is not None and after.version == 2
        assert after.speaker_description is None and after.claim_date == "2025-10-06"

        listed = await client.claims_citing_article(article=article["id"])
        assert listed.claims.total_count == 1
        (node,) = listed.claims.nodes
        assert (node.id, node.version, node.speaker_description, node.claim_date) == (claim.id, 2, None, "2025-10-06")
        assert node.quote_type == enums.QuoteType.INDIRECT

        # Search through the typed client: the union's members, ranks and snippet parts.
        found = await client.search(query="Oslo Monday", types=[enums.SearchType.CLAIM], first=1)
        assert found.search.total_count == 1 and not found.search.page_info.has_next_page
        (edge,) = found.search.edges
        assert edge.node.typename__ == "Claim" and edge.node.id == claim.id and edge.rank > 0
        assert [p.text for p in edge.snippet if p.match] == ["Oslo", "Monday"]
        assert "".join(p.text for p in edge.snippet) == "Talks in Oslo resume on Monday"
        later = await client.search(query="Oslo Monday", first=1, after=edge.cursor, types=[enums.SearchType.CLAIM])
        assert later.search.edges == []

        refused = await client.create_claim(
            input=types.CreateClaimInput(
                statement="x",
                quote_type=enums.QuoteType.INDIRECT,
                references=[types.ReferenceInput(article=article["id"], quote_text="would restart on Monday")],
            )
        )
        (error,) = refused.create_claim.user_errors
        assert (error.path, error.code) == (["input", "references", "0", "quoteText"], "QUOTE_NOT_FOUND")
        assert "would resume on Monday" in error.message
