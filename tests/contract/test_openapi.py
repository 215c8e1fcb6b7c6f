"""The committed OpenAPI document and the app agree: every route the app serves is documented and
every documented operation exists, list operations offer exactly their FactType's filters and
sorts, and real responses validate against the documented schemas."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from starlette.routing import Mount, Route

from api.app import create_app
from api.rest.params import filter_params
from api.settings import Settings
from db.registry import fact_type
from db.search import RELEVANCE
from tests.services import LiveServer

OPENAPI = Path(__file__).resolve().parents[2] / "openapi" / "openapi.yaml"
METHODS = ("get", "post", "put", "patch", "delete")
# Served but not REST operations: the contract itself, its reader, GraphQL (whose contract is the SDL),
# and the HTML pages (the / index and the /explore fact explorer).
UNDOCUMENTED = {"/openapi.json", "/docs", "/graphql", "/", "/explore"}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(OPENAPI.read_text())
    return doc


def _app_operations(settings: Settings) -> set[tuple[str, str]]:
    ops = set()
    for route in create_app(settings).routes:
        if isinstance(route, Mount) or not isinstance(route, Route) or route.path in UNDOCUMENTED:
            continue
        for method in route.methods or ():
            if method != "HEAD":
                ops.add((method.lower(), route.path))
    return ops


def test_routes_and_document_agree(document: dict[str, Any], settings: Settings) -> None:
    documented = {(m, p) for p, item in document["paths"].items() for m in item if m in METHODS}
    served = _app_operations(settings)
    assert served - documented == set(), "routes the document lacks"
    assert documented - served == set(), "documented operations the app lacks"


def test_document_is_valid_openapi_31(document: dict[str, Any]) -> None:
    import schemathesis

    schema = schemathesis.openapi.from_dict(document)
    assert document["openapi"].startswith("3.1")
    assert len(list(schema.get_all_operations())) >= 18
    for path, item in document["paths"].items():
        for method, op in item.items():
            if method not in METHODS:
                continue
            assert op.get("operationId") and op.get("summary"), f"{method} {path}"
            if path.startswith("/v1/"):
                assert "429" in op["responses"], f"{method} {path} documents its rate limit"
            if path.startswith("/v1/") and "{id}" in path:
                assert "404" in op["responses"], f"{method} {path}"


@pytest.mark.parametrize("collection", ["actors", "articles", "claims", "deployments", "incidents"])
def test_list_parameters_match_the_fact_type(document: dict[str, Any], collection: str) -> None:
    t = fact_type(collection[:-1])
    params = _parameters(document, document["paths"][f"/v1/{collection}"]["get"])
    names = {p["name"] for p in params}
    assert names == {"limit", "cursor", "sort", "expand", "fields", "format", "asOf", *filter_params(t)}
    sort = next(p for p in params if p["name"] == "sort")
    orders = [o.name for o in t.orders]
    # Every stored order both ways, and relevance (ranking full-text matches: one way only).
    assert set(sort["schema"]["enum"]) == {*orders, *(f"-{o}" for o in orders), RELEVANCE}


def _parameters(document: dict[str, Any], op: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for p in op.get("parameters", []):
        if "$ref" in p:
            p = document["components"]["parameters"][p["$ref"].rsplit("/", 1)[1]]
        out.append(p)
    return out


def _validator(document: dict[str, Any], schema_name: str) -> jsonschema.Draft202012Validator:
    registry: Registry[Any] = Registry().with_resource(
        "urn:openapi", Resource.from_contents(document, default_specification=DRAFT202012)
    )
    return jsonschema.Draft202012Validator(
        {"$ref": f"urn:openapi#/components/schemas/{schema_name}"}, registry=registry
    )


CALLS = [
    ("/v1/claims?expand=speaker,references.article&limit=5", "ClaimList"),
    ("/v1/claims/clm_01K8B1E4EJJ4YDVT3E4602WPWC?expand=reportedBy", "Claim"),
    ("/v1/claims/clm_01K8B1E4EJJ4YDVT3E4602WPWC?format=jsonld", "ClaimJsonLd"),
    ("/v1/articles/art_01K8B1E3F9FPCM47JBPJSG0VT9?format=ninjs", "Ninjs"),
    ("/v1/articles?expand=outlet,authors", "ArticleList"),
    ("/v1/actors", "ActorList"),
    ("/v1/deployments/dep_01K8B1E5DS81PW7K51N7X88QBD", "Deployment"),
    ("/v1/incidents?expand=actors.actor", "IncidentList"),
    ("/v1/incidents/inc_01K8B1E7C9EGR26T72D8JGSNDX/revisions", "RevisionList"),
    ("/v1/quota", "Quota"),
    ("/v1/corrections?limit=5", "CorrectionList"),
    ("/v1/claims/facets?facet=status,speaker,subjects&first=2", "Facets"),
    ("/v1/incidents/facets?facet=actor&excludeOwnFilter=1&perpetrator=act_01K8B1E2G7G3PZQHJ24K52XFKC", "Facets"),
    ("/v1/claims/histogram?on=claimDate&interval=month&timeZone=Europe/Berlin", "Histogram"),
    ("/v1/incidents/aggregate?groupBy=incidentType", "Aggregate"),
    ("/v1/deployments/aggregate?sum=assets&groupBy=assetType", "Aggregate"),
    ("/v1/deployments?format=geojson&near=-75,16,500&sort=distance", "FeatureCollection"),
    ("/v1/incidents?bbox=-180,-90,180,90", "IncidentList"),
    ("/v1/claims?limit=0&nope=1", "Problem"),
    ("/v1/claims/clm_00000000000000000000000000", "Problem"),
]


@pytest.mark.parametrize(("path", "schema_name"), CALLS)
def test_responses_validate_against_their_schemas(
    document: dict[str, Any], server: LiveServer, path: str, schema_name: str
) -> None:
    r = httpx.get(server.url + path, timeout=10)
    errors = [e.message for e in _validator(document, schema_name).iter_errors(r.json())]
    assert errors == [], f"{path}: {errors[:3]}"


def test_the_schemas_reject_what_they_should(document: dict[str, Any]) -> None:
    claim = _validator(document, "Claim")
    assert not claim.is_valid({"id": "act_01K8B1E2G12Z4MP14DZVS18EHJ", "object": "claim"})
    assert not claim.is_valid({"id": "clm_01K8B1E4EHNTW9KQJ3B6R47ZZ7", "object": "claim", "status": "rumoured"})
    assert not _validator(document, "Problem").is_valid({"title": "x"})
