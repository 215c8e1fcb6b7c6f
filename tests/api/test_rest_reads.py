"""Every REST read operation on the seed data, over real HTTP: lists, items, expand, fields,
formats (ninjs, JSON-LD, NDJSON), revisions, asOf, sub-collections, quota, /openapi.json and /docs."""

from __future__ import annotations

import re

import httpx
import orjson
import pytest

from tests.services import LiveServer

CLAIM = "clm_01K8B1E4EJJ4YDVT3E4602WPWC"
ARTICLE = "art_01K8B1E3F9FPCM47JBPJSG0VT9"
ATLANTIC = "act_01K8B1E2G4CV8AYVXXYVX5Y92G"
MADURO = "act_01K8B1E2G12Z4MP14DZVS18EHJ"
DEPLOYMENT = "dep_01K8B1E5DS81PW7K51N7X88QBD"
INCIDENT = "inc_01K8B1E7C9EGR26T72D8JGSNDX"
COLLECTIONS = ("actors", "articles", "claims", "deployments", "incidents")


@pytest.fixture
def client(server: LiveServer) -> httpx.Client:
    with httpx.Client(base_url=server.url, timeout=10) as c:
        yield c  # type: ignore[misc]


@pytest.mark.parametrize("collection", COLLECTIONS)
def test_each_collection_lists_its_seed_facts(client: httpx.Client, collection: str) -> None:
    r = client.get(f"/v1/{collection}", params={"limit": 100})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["object"] == "list" and isinstance(body["hasMore"], bool)
    assert body["data"], f"the seed has {collection}"
    kind = collection[:-1]
    assert {d["object"] for d in body["data"]} == {kind}
    ids = [d["id"] for d in body["data"]]
    assert ids == sorted(ids), "default order is createdAt (id order)"
    first = body["data"][0]
    one = client.get(f"/v1/{collection}/{first['id']}")
    assert one.status_code == 200 and one.json() == first
    own = f'"{first["id"]}.v{first["version"]}'
    if kind in ("claim", "deployment", "incident"):  # an anonymous tag follows the recall rules' bytes
        assert re.fullmatch(re.escape(own) + r'\.[0-9a-f]{12}"', one.headers["etag"]), one.headers["etag"]
    else:
        assert one.headers["etag"] == own + '"'
    assert one.headers["last-modified"].endswith("GMT")
    revisions = client.get(f"/v1/{collection}/{first['id']}/revisions").json()
    assert revisions["data"][0]["version"] == 1 and revisions["data"][-1]["snapshot"] == first


def test_the_candy_claim_as_seeded(client: httpx.Client) -> None:
    claim = client.get(f"/v1/claims/{CLAIM}").json()
    assert claim["speaker"] is None
    assert claim["speakerDescription"] == "a person who speaks to officials in both countries"
    assert claim["reportedBy"] == ATLANTIC
    assert "candy in the dish" in claim["quote"]


def test_expand_embeds_related_facts_including_nested_paths(client: httpx.Client) -> None:
    claim = client.get(f"/v1/claims/{CLAIM}", params={"expand": "reportedBy,references.article"}).json()
    assert claim["reportedBy"]["id"] == ATLANTIC and claim["reportedBy"]["name"] == "The Atlantic"
    assert all(ref["article"]["id"] == ARTICLE for ref in claim["references"])
    assert claim["subjects"] == [MADURO], "what was not expanded stays an id"
    page = client.get("/v1/claims", params={"expand": "speaker", "limit": 50}).json()
    speakers = [c["speaker"] for c in page["data"] if c["speaker"] is not None]
    assert speakers and all(isinstance(s, dict) and s["object"] == "actor" for s in speakers)
    incident = client.get(f"/v1/incidents/{INCIDENT}", params={"expand": "actors.actor"}).json()
    assert all(isinstance(a["actor"], dict) for a in incident["actors"])


def test_fields_trims_but_keeps_id_and_object(client: httpx.Client) -> None:
    claim = client.get(f"/v1/claims/{CLAIM}", params={"fields": "statement,status"}).json()
    assert set(claim) == {"id", "object", "statement", "status"}
    page = client.get("/v1/actors", params={"fields": "name"}).json()
    assert all(set(a) == {"id", "object", "name"} for a in page["data"])


def test_fields_select_from_the_json_document_only(client: httpx.Client) -> None:
    # JSON-LD and ninjs have keys of their own vocabularies: trimming them by field name left {}.
    for path, field, fmt in ((f"/v1/claims/{CLAIM}", "statement", "jsonld"), ("/v1/articles", "headline", "ninjs")):
        r = client.get(path, params={"fields": field, "format": fmt})
        assert r.status_code == 400, r.text
        (error,) = r.json()["errors"]
        assert (error["parameter"], error["code"]) == ("fields", "INVALID_FIELD") and fmt in error["detail"]


def test_filters_match_the_graphql_ones(client: httpx.Client) -> None:
    by_outlet = client.get("/v1/claims", params={"reportedBy": ATLANTIC, "limit": 100}).json()["data"]
    assert by_outlet and all(c["reportedBy"] == ATLANTIC for c in by_outlet)
    about = client.get("/v1/claims", params={"subject": MADURO, "limit": 100}).json()["data"]
    assert about and all(MADURO in c["subjects"] for c in about)
    found = client.get("/v1/claims", params={"q": "candy dish"}).json()["data"]
    assert [c["id"] for c in found] == [CLAIM]
    deployments = client.get("/v1/deployments", params={"assetType": "troops", "limit": 100}).json()["data"]
    assert DEPLOYMENT in [d["id"] for d in deployments]
    articles = client.get("/v1/articles", params={"subject": "medtop:11000000"}).json()["data"]
    assert all("medtop:11000000" in a["subjects"] for a in articles)


def test_sort_descending(client: httpx.Client) -> None:
    # Other tests add claims to the same database: the seed article's claims are a stable set.
    seed = {"article": ARTICLE, "limit": 100}
    up = [c["id"] for c in client.get("/v1/claims", params=seed).json()["data"]]
    down = [c["id"] for c in client.get("/v1/claims", params={**seed, "sort": "-createdAt"}).json()["data"]]
    assert len(up) > 5 and down == list(reversed(up))
    dated = client.get("/v1/claims", params={"sort": "-updatedAt", "limit": 100}).json()["data"]
    stamps = [c["updatedAt"] for c in dated]
    assert stamps == sorted(stamps, reverse=True)


def test_sub_collections(client: httpx.Client) -> None:
    cited = client.get(f"/v1/articles/{ARTICLE}/claims", params={"limit": 100}).json()["data"]
    assert cited and all(any(r["article"] == ARTICLE for r in c["references"]) for c in cited)
    speaker = cited[0]["speaker"] or next(c["speaker"] for c in cited if c["speaker"])
    said = client.get(f"/v1/actors/{speaker}/claims").json()["data"]
    assert said and all(c["speaker"] == speaker for c in said)
    missing = client.get("/v1/articles/art_00000000000000000000000000/claims")
    assert missing.status_code == 404


def test_as_of_reads_history(client: httpx.Client) -> None:
    claim = client.get(f"/v1/claims/{CLAIM}").json()
    now = client.get(f"/v1/claims/{CLAIM}", params={"asOf": claim["updatedAt"]})
    assert now.status_code == 200 and now.json()["version"] == claim["version"]
    before = client.get(f"/v1/claims/{CLAIM}", params={"asOf": "2001-01-01T00:00:00Z"})
    assert before.status_code == 404 and "did not exist yet" in before.json()["detail"]


def test_ninjs_for_articles(client: httpx.Client) -> None:
    by_accept = client.get(f"/v1/articles/{ARTICLE}", headers={"Accept": "application/ninjs+json"})
    by_param = client.get(f"/v1/articles/{ARTICLE}", params={"format": "ninjs"})
    assert by_accept.headers["content-type"] == "application/ninjs+json"
    item = by_accept.json()
    assert item == by_param.json()
    article = client.get(f"/v1/articles/{ARTICLE}").json()
    assert item["uri"] == article["uri"] and item["headlines"][0]["value"] == article["headline"]
    assert item["bodies"][0]["value"] == article["body"]
    assert item["infosources"][0]["name"] == "The Atlantic"
    assert item["altids"] == [{"role": "newsfacts", "value": ARTICLE}]
    assert by_accept.headers["etag"] != client.get(f"/v1/articles/{ARTICLE}").headers["etag"]


def test_json_ld_for_claims(client: httpx.Client) -> None:
    r = client.get(f"/v1/claims/{CLAIM}", headers={"Accept": "application/ld+json"})
    assert r.headers["content-type"] == "application/ld+json"
    doc = r.json()
    assert doc["@context"] == "https://schema.org" and doc["@type"] == "Claim"
    assert doc["author"] == {"@type": "Person", "description": "a person who speaks to officials in both countries"}
    assert doc["publisher"]["name"] == "The Atlantic"
    assert doc["appearance"][0]["hasPart"]["text"].startswith("If there is enough pressure")


def test_ndjson_lists_every_fact(client: httpx.Client) -> None:
    paged = client.get("/v1/claims", params={"limit": 100, "article": ARTICLE}).json()["data"]
    r = client.get("/v1/claims", params={"article": ARTICLE}, headers={"Accept": "application/x-ndjson"})
    assert r.headers["content-type"].startswith("application/x-ndjson")
    assert "content-encoding" not in r.headers
    lines = [orjson.loads(line) for line in r.text.splitlines()]
    assert lines == paged
    trimmed = client.get("/v1/claims", params={"format": "ndjson", "fields": "statement", "status": "reported"})
    assert all(set(orjson.loads(x)) == {"id", "object", "statement"} for x in trimmed.text.splitlines())


def test_quota_reports_the_window(client: httpx.Client) -> None:
    r = client.get("/v1/quota")
    body = r.json()
    assert body["object"] == "quota" and body["subject"] == "clientAddress"
    assert body["limit"] >= body["remaining"] >= 0 and body["windowSeconds"] >= 1
    assert r.headers["ratelimit-policy"].startswith('"per-address";q=')


def test_request_id_is_echoed_or_made_up(client: httpx.Client) -> None:
    assert client.get("/v1/actors", headers={"X-Request-Id": "abc-123"}).headers["x-request-id"] == "abc-123"
    made = client.get("/v1/actors", headers={"X-Request-Id": "bad id\twith spaces"}).headers["x-request-id"]
    assert made != "bad id\twith spaces" and len(made) == 32


def test_large_bodies_are_gzipped(client: httpx.Client) -> None:
    r = client.get("/v1/claims", params={"limit": 100}, headers={"Accept-Encoding": "gzip"})
    assert r.headers["content-encoding"] == "gzip" and r.json()["data"]


def test_contract_and_reference_are_served(client: httpx.Client) -> None:
    spec = client.get("/openapi.json").json()
    assert spec["openapi"].startswith("3.1") and "/v1/claims" in spec["paths"]
    docs = client.get("/docs")
    assert docs.status_code == 200 and "/static/reference.js" in docs.text and "//cdn" not in docs.text
    script = client.get("/static/reference.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
