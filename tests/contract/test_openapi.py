"""The committed OpenAPI document and the app agree: every route the app serves is documented and
every documented operation exists, list operations offer exactly their FactType's filters and
sorts, and real responses validate against the documented schemas."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import jsonschema
import orjson
import pytest
import yaml
from starlette.routing import Mount, Route

from api.app import create_app
from api.rest.params import filter_params
from api.settings import Settings
from db.kinds import KINDS
from db.registry import fact_type
from db.search import RELEVANCE
from tests.contract.representations import FACT_SCHEMAS, problems, representation, validator
from tests.services import LiveServer

OPENAPI = Path(__file__).resolve().parents[2] / "openapi" / "openapi.yaml"
METHODS = ("get", "post", "put", "patch", "delete")
# Served but not REST operations: the contract itself, its reader, GraphQL (whose contract is the SDL),
# and the HTML pages (the / index and the /explore fact explorer).
UNDOCUMENTED = {"/openapi.json", "/docs", "/graphql", "/", "/explore", "/explore/overview"}


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
    return validator(document, {"$ref": f"#/components/schemas/{schema_name}"})


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
    ("/v1/claims/clm_01K8B1E4EJJ4YDVT3E4602WPWC/revisions", "RevisionList"),
    ("/v1/events?limit=1000", "EventList"),
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


# (path template, request): answers in every representation, each checked against what the document
# declares for that request (tests/contract/representations.py).
REPRESENTED = [
    ("/v1/claims", "/v1/claims?fields=statement,status&limit=3"),
    ("/v1/claims", "/v1/claims?format=jsonld&limit=2"),
    ("/v1/claims", "/v1/claims?format=ndjson"),
    ("/v1/claims", "/v1/claims?format=ndjson&fields=statement"),
    ("/v1/claims/{id}", "/v1/claims/clm_01K8B1E4EJJ4YDVT3E4602WPWC?fields=quote"),
    ("/v1/articles", "/v1/articles?format=ninjs"),
    ("/v1/articles/{id}", "/v1/articles/art_01K8B1E3F9FPCM47JBPJSG0VT9?fields=headline,outlet&expand=outlet"),
    ("/v1/actors/{id}/claims", "/v1/actors/act_01K8B1E2G4CV8AYVXXYVX5Y92G/claims?format=jsonld"),
    ("/v1/deployments", "/v1/deployments?expand=deployer&format=json"),
    ("/v1/incidents", "/v1/incidents?format=ndjson"),
    ("/v1/events", "/v1/events?limit=1000&type=claim.created"),
]


@pytest.mark.parametrize(("template", "path"), REPRESENTED)
def test_every_representation_answers_as_declared(
    document: dict[str, Any], server: LiveServer, template: str, path: str
) -> None:
    r = httpx.get(server.url + path, timeout=10)
    assert r.status_code == 200, r.text
    found = representation(document, template, "get", 200, dict(httpx.URL(path).params))
    assert found is not None
    assert problems(document, found, r.headers["content-type"], r.content) == []


def test_a_sparse_fieldset_is_declared_as_such(document: dict[str, Any], server: LiveServer) -> None:
    # What fields= answers is not a full claim: the relaxed schema is what makes it valid.
    body = httpx.get(server.url + "/v1/claims?fields=statement", timeout=10).content
    assert not _validator(document, "ClaimList").is_valid(orjson.loads(body))
    sparse = representation(document, "/v1/claims", "get", 200, {"fields": "statement"})
    assert sparse is not None and sparse.sparse
    assert problems(document, sparse, "application/json", body) == []


def test_each_answer_declares_one_content_type(document: dict[str, Any]) -> None:
    # Generators (openapi-typescript + openapi-fetch, openapi-python-client) type a response's body
    # as the union of its content types: a second one there turns every read into a union with it.
    # Other representations belong under x-representations, each with the format= that selects it.
    crowded = []
    for path, item in document["paths"].items():
        for method, op in item.items():
            if method not in METHODS:
                continue
            for status, response in op["responses"].items():
                response = (
                    document["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
                    if "$ref" in response
                    else response
                )
                if len(response.get("content") or {}) > 1:
                    crowded.append(f"{method} {path} {status}")
                for media in (response.get("x-representations") or {}).values():
                    assert media.get("format"), f"{method} {path} {status}: which format= selects it?"
    assert crowded == []


def _objects(schema: dict[str, Any], where: str) -> list[tuple[str, dict[str, Any]]]:
    """Every object schema with properties inside ``schema`` (not through $refs)."""
    found = [(where, schema)] if "properties" in schema else []
    for key, value in schema.items():
        children = value.values() if key == "properties" else value if isinstance(value, list) else [value]
        names = value.keys() if key == "properties" else range(len(value)) if isinstance(value, list) else [key]
        for name, child in zip(names, children, strict=True):
            if isinstance(child, dict):
                found += _objects(child, f"{where}.{name}")
    return found


# Keys a document carries on some requests only, so optional: a list read with near= adds distanceKm.
CONDITIONAL = {"distanceKm"}


@pytest.mark.parametrize("name", [*FACT_SCHEMAS, "Quantity", "Reference", "Revision", "Event"])
def test_documents_require_every_key_they_always_carry(document: dict[str, Any], name: str) -> None:
    # The documents are built whole (every key, null or [] when empty): a generated client should
    # not make its reader test for absence (sparse fieldsets are declared apart: x-sparse-fieldset).
    loose = [
        f"{where}: {sorted(set(schema['properties']) - set(schema.get('required', [])) - CONDITIONAL)}"
        for where, schema in _objects(document["components"]["schemas"][name], name)
        if set(schema["properties"]) - set(schema.get("required", [])) - CONDITIONAL
    ]
    assert loose == []


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.name)
def test_the_fact_union_names_each_kind_by_its_object(document: dict[str, Any], kind: Any) -> None:
    fact = document["components"]["schemas"]["Fact"]
    assert fact["discriminator"]["mapping"][kind.name] == f"#/components/schemas/{kind.title}"
    assert {"$ref": f"#/components/schemas/{kind.title}"} in fact["oneOf"]
    assert document["components"]["schemas"][kind.title]["properties"]["object"]["const"] == kind.name
