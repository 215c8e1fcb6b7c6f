"""A partner's view of the REST contract: openapi-python-client generates a client from the served
/openapi.json without a single warning, and that client — over real HTTP — creates an article, a
claim citing it by quote alone, a deployment with assets and approximate quantities and an incident
with an open-bounded count, then lists and reads them back as typed models."""

from __future__ import annotations

import asyncio
import importlib
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from tests.api.live_events import api_key
from tests.services import LiveServer

GENERATOR = str(Path(sys.executable).parent / "openapi-python-client")
PACKAGE = "newsfacts_rest_client"
BODY = "Officials said around 10,000 troops and three warships had arrived. At least 65 people were killed."


@pytest.fixture(scope="module")
def client_package(server: LiveServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """The client generated from the served document into a temp dir (never committed), imported."""
    root = tmp_path_factory.mktemp("rest-client")
    document = root / "openapi.json"
    document.write_bytes(httpx.get(server.url + "/openapi.json", timeout=10).content)
    config = root / "config.yaml"
    config.write_text("post_hooks: []\n")  # no formatter run: the generated code is only imported
    args = ["--path", str(document), "--output-path", str(root / PACKAGE), "--meta", "none", "--config", str(config)]
    result = subprocess.run(
        [GENERATOR, "generate", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=root,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "warning" not in output.lower(), output
    sys.path.insert(0, str(root))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(root))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
            del sys.modules[name]


def _module(name: str) -> Any:
    return importlib.import_module(f"{PACKAGE}.{name}")


def test_the_generated_client_writes_and_reads_typed_facts(
    client_package: ModuleType, server: LiveServer, database_url: str
) -> None:
    m = _module("models")
    api = {name: _module(f"api.{name}") for name in ("articles", "claims", "deployments", "incidents")}
    client = client_package.AuthenticatedClient(
        base_url=server.url, token=asyncio.run(api_key(database_url, "write")), timeout=httpx.Timeout(10)
    )
    with client:
        article = importlib.import_module(f"{api['articles'].__name__}.create_article").sync(
            client=client,
            body=m.ArticleCreate(uri=f"urn:test:rest-client:{uuid.uuid4()}", headline="Arrivals", body=BODY),
        )
        assert isinstance(article, m.Article), article

        claim = importlib.import_module(f"{api['claims'].__name__}.create_claim").sync(
            client=client,
            body=m.ClaimCreate(
                statement="Around 10,000 troops arrived",
                quote_type=m.QuoteType.INDIRECT,
                references=[m.ReferenceInput(article=article.uri, quote_text="around 10,000 troops")],
            ),
        )
        assert isinstance(claim, m.Claim), claim
        (reference,) = claim.references
        assert (reference.char_start, reference.char_end) == (BODY.index("around"), BODY.index("around") + 20)

        quantity = m.QuantityInput(
            amount=10000.0, approximation=m.Approximation("approximately"), original_text="around 10,000"
        )
        deployment = importlib.import_module(f"{api['deployments'].__name__}.create_deployment").sync(
            client=client,
            body=m.DeploymentCreate(
                status=m.DeploymentStatus("active"),
                region=m.PlaceInput(name="Caribbean"),
                assets=[
                    m.AssetInput(asset_type=m.AssetType("troops"), quantity=quantity),
                    m.AssetInput(
                        asset_type=m.AssetType("warship"),
                        quantity=m.QuantityInput(amount=3.0, approximation=m.Approximation("exact")),
                        references=[m.ReferenceInput(article=article.id, quote_text="three warships")],
                    ),
                ],
            ),
        )
        assert isinstance(deployment, m.Deployment), deployment

        incident = importlib.import_module(f"{api['incidents'].__name__}.create_incident").sync(
            client=client,
            body=m.IncidentCreate(
                incident_type="strike",
                count=m.QuantityInput(lower_bound=65.0, approximation=m.Approximation("atLeast"), unit="people"),
                references=[m.ReferenceInput(article=article.id, quote_text="At least 65 people were killed")],
            ),
        )
        assert isinstance(incident, m.Incident), incident

        # Read back: lists and items parse into typed models, nothing to None.
        claims = importlib.import_module(f"{api['claims'].__name__}.list_claims").sync(
            client=client, article=article.id
        )
        assert isinstance(claims, m.ClaimList) and [c.id for c in claims.data] == [claim.id]
        deployments = importlib.import_module(f"{api['deployments'].__name__}.list_deployments").sync(
            client=client, article=article.id
        )
        assert isinstance(deployments, m.DeploymentList) and [d.id for d in deployments.data] == [deployment.id]
        got = importlib.import_module(f"{api['deployments'].__name__}.get_deployment").sync(
            client=client, id=deployment.id
        )
        assert isinstance(got, m.Deployment)
        troops = got.assets[0]
        assert troops.asset_type == m.DeploymentAssetsItemAssetType("troops")
        assert troops.quantity.amount == 10000 and troops.quantity.approximation.value == "approximately"
        incidents = importlib.import_module(f"{api['incidents'].__name__}.list_incidents").sync(
            client=client, article=article.id
        )
        assert isinstance(incidents, m.IncidentList) and [i.id for i in incidents.data] == [incident.id]
        got_incident = importlib.import_module(f"{api['incidents'].__name__}.get_incident").sync(
            client=client, id=incident.id
        )
        assert isinstance(got_incident, m.Incident)
        count = got_incident.count
        assert count.lower_bound == 65 and count.upper_bound is None and count.approximation.value == "atLeast"
        got_claim = importlib.import_module(f"{api['claims'].__name__}.get_claim").sync(client=client, id=claim.id)
        assert isinstance(got_claim, m.Claim) and got_claim.quote_type == m.ClaimQuoteType("indirect")
        got_article = importlib.import_module(f"{api['articles'].__name__}.get_article").sync(
            client=client, id=article.id
        )
        assert isinstance(got_article, m.Article) and got_article.body == BODY
