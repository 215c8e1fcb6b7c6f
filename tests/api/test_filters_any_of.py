"""Any-of filters (``<filter>In``, derived in db/facts.py for every filter a facet selects by) over
real HTTP: each matches the union of its values' single filters, REST (comma-separated) and GraphQL
(a list) return the same facts, a facet counted with excludeOwnFilter leaves its any-of filter out
too, and bad values are a 400 (REST) or a typed error (GraphQL) naming the filter."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from db.pool import connect
from db.registry import fact_type
from tests import corpus
from tests.services import LiveServer

pytestmark = pytest.mark.anyio

SEED_ARTICLE = "art_01K8B1E3F9FPCM47JBPJSG0VT9"


@pytest.fixture(scope="module")
def varied(database_url: str) -> None:
    """The seed plus tests/corpus.py's generated and hand-made facts: several values per facet."""

    async def build() -> None:
        conn = await connect(database_url)
        try:
            await corpus.build(conn)
        finally:
            await conn.close()

    asyncio.run(build())


@pytest.fixture
async def client(varied: None, server: LiveServer) -> Any:
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as c:
        yield c


async def _ids(client: httpx.AsyncClient, collection: str, **params: str) -> set[str]:
    r = await client.get(f"/v1/{collection}", params={**params, "limit": "100", "fields": "id"})
    assert r.status_code == 200, r.text
    doc = r.json()
    ids = {d["id"] for d in doc["data"]}
    while doc["hasMore"]:
        r = await client.get(
            f"/v1/{collection}", params={**params, "limit": "100", "fields": "id", "cursor": doc["nextCursor"]}
        )
        assert r.status_code == 200, r.text
        doc = r.json()
        ids |= {d["id"] for d in doc["data"]}
    return ids


async def _graphql(client: httpx.AsyncClient, query: str) -> dict[str, Any]:
    r = await client.post("/graphql", json={"query": query})
    assert r.status_code == 200, r.text
    doc: dict[str, Any] = r.json()
    return doc


async def _facet_values(client: httpx.AsyncClient, collection: str, facet: str, **params: str) -> list[str]:
    r = await client.get(f"/v1/{collection}/facets", params={"facet": facet, "first": "100", **params})
    assert r.status_code == 200, r.text
    return [b["value"] for b in r.json()["facets"][facet]["buckets"]]


# (collection, the filter, its facet, the GraphQL list argument's spelling of a value)
CASES = [
    ("claims", "status", "status", "enum"),
    ("claims", "speaker", "speaker", "id"),
    ("claims", "subject", "subjects", "id"),
    ("deployments", "assetType", "assetType", "enum"),
    ("incidents", "incidentType", "incidentType", "string"),
    ("incidents", "actor", "actor", "id"),
    # A condition of another shape (a medtop code, prefixed in SQL): its any-of form is the
    # condition once per value (db/facts.py's _any_of_sql).
    ("articles", "subject", "subjects", "string"),
]


@pytest.mark.parametrize(("collection", "name", "facet", "spelling"), CASES)
async def test_an_any_of_filter_is_the_union_of_its_values_in_rest_and_graphql(
    client: httpx.AsyncClient, collection: str, name: str, facet: str, spelling: str
) -> None:
    found = list(dict.fromkeys(await _facet_values(client, collection, facet)))
    values = found[:2]
    assert len(values) == 2, f"the corpus has two {facet} values of {collection}"
    union = set()
    for value in values:
        alone = await _ids(client, collection, **{name: value})
        assert alone, value
        union |= alone
    assert await _ids(client, collection, **{f"{name}In": ",".join(values)}) == union
    everything = await _ids(client, collection)
    assert union <= everything
    if len(found) > 2:
        assert union != everything, "the filter narrows: it is not the whole collection"

    listed = ", ".join(_enum(v) if spelling == "enum" else f'"{v}"' for v in values)
    doc = await _graphql(
        client, f"{{ {collection}(filter: {{{name}In: [{listed}]}}, first: 100) {{ totalCount nodes {{ id }} }} }}"
    )
    assert "errors" not in doc, doc
    assert doc["data"][collection]["totalCount"] == len(union)
    assert {n["id"] for n in doc["data"][collection]["nodes"]} == union or len(union) > 100


def _enum(value: str) -> str:
    """A camelCase enum value as GraphQL spells it (aircraftCarrier → AIRCRAFT_CARRIER)."""
    return "".join(f"_{c}" if c.isupper() else c.upper() for c in value)


async def test_exclude_own_filter_leaves_the_any_of_form_out_too(client: httpx.AsyncClient) -> None:
    statuses = await _facet_values(client, "claims", "status")
    chosen = statuses[:1]
    r = await client.get(
        "/v1/claims/facets",
        params={"facet": "status,speaker", "statusIn": ",".join(chosen), "excludeOwnFilter": "1", "first": "100"},
    )
    assert r.status_code == 200, r.text
    narrowed = r.json()["facets"]
    whole = (await client.get("/v1/claims/facets", params={"facet": "status", "first": "100"})).json()["facets"]
    # Its own facet counts as if unfiltered (the other values stay selectable) ...
    assert narrowed["status"] == whole["status"]
    # ... while the other facets count only the chosen statuses' claims.
    only = await _ids(client, "claims", statusIn=",".join(chosen))
    assert sum(b["count"] for b in narrowed["speaker"]["buckets"]) + narrowed["speaker"]["missingCount"] == len(only)
    doc = await _graphql(
        client,
        "{ claims(filter: {statusIn: [" + ", ".join(_enum(s) for s in chosen) + "]}) { totalCount"
        " facets(excludeOwnFilter: true) { status(first: 100) { buckets { value count } } } } }",
    )
    assert "errors" not in doc, doc
    assert doc["data"]["claims"]["totalCount"] == len(only)
    counted = {b["value"]: b["count"] for b in doc["data"]["claims"]["facets"]["status"]["buckets"]}
    assert counted == {_enum(b["value"]): b["count"] for b in whole["status"]["buckets"]}


@pytest.mark.parametrize(
    ("params", "code"),
    [({"statusIn": "reported,nope"}, "INVALID_ENUM"), ({"statusIn": ""}, "INVALID_VALUE"), ({"speakerIn": "x"}, None)],
)
async def test_a_bad_any_of_value_is_a_400_naming_the_filter(
    client: httpx.AsyncClient, params: dict[str, str], code: str | None
) -> None:
    r = await client.get("/v1/claims", params=params)
    assert r.status_code == 400, r.text
    errors = r.json()["errors"]
    assert errors and all(e["parameter"] == next(iter(params)) for e in errors), errors
    if code is not None:
        assert errors[0]["code"] == code


async def test_graphql_refuses_an_empty_any_of_list_with_a_typed_code(client: httpx.AsyncClient) -> None:
    doc = await _graphql(client, "{ claims(filter: {statusIn: []}) { totalCount } }")
    error = doc["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT", error
    assert [e["code"] for e in error["extensions"]["errors"]] == ["INVALID_VALUE"]


def test_every_facet_filter_has_its_any_of_form_and_only_those() -> None:
    for kind in ("actor", "article", "claim", "deployment", "incident"):
        t = fact_type(kind)
        selecting = {name for facet in t.analytics.facets for name in facet.filters}
        assert {f.name for f in t.filters if f.many} == {f"{name}In" for name in selecting}, kind
