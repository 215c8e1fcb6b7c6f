"""The aggregate reads over real HTTP (api/rest/aggregates.py): facets with relation labels,
otherCount/missingCount and excludeOwnFilter, the seed's bounded sums, histograms, the map filters
and RFC 7946 GeoJSON, facets as of a time before a correction, the recall rules (a withdrawn claim
leaves every count, a withheld article's words match no ``q``), caching with invalidation, and a
400 naming the parameter for every kind of bad input."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import jsonschema
import pytest
from geojson_pydantic import Feature, FeatureCollection

from db.pool import connect
from tests.api.cached_server import cache_state, eventually
from tests.api.history import database_now
from tests.api.live_events import api_key, bearer
from tests.factories import quote_ref
from tests.services import LiveServer

pytestmark = pytest.mark.anyio

SEED_ARTICLE = "art_01K8B1E3F9FPCM47JBPJSG0VT9"
GEOJSON_SCHEMA = FeatureCollection.model_json_schema()
BODY = "Quillwort envoys met on Friday. The ministry denied the quillwort blockade at the port."


@pytest.fixture(scope="module")
def keys(database_url: str) -> dict[str, str]:
    return {scope: asyncio.run(api_key(database_url, scope)) for scope in ("read", "write")}


@pytest.fixture
async def client(server: LiveServer) -> Any:
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as c:
        yield c


async def _post(client: httpx.AsyncClient, path: str, body: dict[str, Any], key: str) -> dict[str, Any]:
    r = await client.post(path, json=body, headers=bearer(key))
    assert r.status_code == 201, r.text
    doc: dict[str, Any] = r.json()
    return doc


async def _get(client: httpx.AsyncClient, path: str, **params: Any) -> dict[str, Any]:
    r = await client.get(path, params=params)
    assert r.status_code == 200, r.text
    doc: dict[str, Any] = r.json()
    return doc


async def _rows(database_url: str, sql: str) -> list[Any]:
    conn = await connect(database_url)
    try:
        return list(await conn.fetch(sql))
    finally:
        await conn.close()


# ---- facets ----------------------------------------------------------------------------------


async def test_facets_count_what_the_list_returns(client: httpx.AsyncClient, database_url: str) -> None:
    doc = await _get(client, "/v1/claims/facets", facet="status,speaker", first=2, article=SEED_ARTICLE)
    assert doc["object"] == "facets" and set(doc["facets"]) == {"status", "speaker"}
    expected = await _rows(
        database_url,
        f"""SELECT s.speaker_id, a.name, count(*) AS n FROM claims_public() s LEFT JOIN actors a ON a.id = s.speaker_id
            WHERE s.article_ids @> ARRAY['{SEED_ARTICLE}'] GROUP BY 1, 2 ORDER BY 3 DESC, 1""",
    )
    named = [r for r in expected if r["speaker_id"] is not None]
    speaker = doc["facets"]["speaker"]
    assert speaker["buckets"] == [{"value": r["speaker_id"], "label": r["name"], "count": r["n"]} for r in named[:2]]
    assert speaker["otherCount"] == sum(r["n"] for r in named[2:])
    assert speaker["missingCount"] == sum(r["n"] for r in expected if r["speaker_id"] is None) > 0
    assert doc["facets"]["status"] == {
        "buckets": [{"value": "reported", "count": 14}],
        "otherCount": 0,
        "missingCount": 0,
    }
    listed = await _get(client, "/v1/claims", article=SEED_ARTICLE, limit=100, fields="id")
    assert len(listed["data"]) == sum(r["n"] for r in expected)


async def test_exclude_own_filter_counts_each_facet_without_its_filter(
    client: httpx.AsyncClient, keys: dict[str, str]
) -> None:
    article = await _post(
        client, "/v1/articles", {"uri": f"urn:test:{uuid.uuid4()}", "headline": "H", "body": BODY}, keys["write"]
    )
    ref = quote_ref(article, "Quillwort envoys met on Friday.")
    for status in ("reported", "reported", "disputed", "denied"):
        await _post(
            client,
            "/v1/claims",
            {"statement": "S", "quoteType": "assertion", "status": status, "references": [ref]},
            keys["write"],
        )
    narrowed = await _get(
        client, "/v1/claims/facets", facet="status,quoteType", article=article["id"], status="disputed"
    )
    assert narrowed["facets"]["status"]["buckets"] == [{"value": "disputed", "count": 1}]
    wide = await _get(
        client,
        "/v1/claims/facets",
        facet="status,quoteType",
        article=article["id"],
        status="disputed",
        excludeOwnFilter=1,
    )
    assert wide["facets"]["status"]["buckets"] == [
        {"value": "reported", "count": 2}, {"value": "denied", "count": 1}, {"value": "disputed", "count": 1},
    ]  # fmt: skip
    # Other facets keep every filter, their own excepted only.
    assert wide["facets"]["quoteType"]["buckets"] == [{"value": "assertion", "count": 1}]


async def test_facets_as_of_a_time_before_a_correction(
    client: httpx.AsyncClient, keys: dict[str, str], database_url: str
) -> None:
    article = await _post(
        client, "/v1/articles", {"uri": f"urn:test:{uuid.uuid4()}", "headline": "H", "body": BODY}, keys["write"]
    )
    ref = quote_ref(article, "Quillwort envoys met on Friday.")
    claims = [
        await _post(
            client, "/v1/claims", {"statement": "S", "quoteType": "assertion", "references": [ref]}, keys["write"]
        )
        for _ in range(2)
    ]
    before = await database_now(database_url)
    r = await client.post(
        f"/v1/claims/{claims[0]['id']}/corrections",
        json={"reason": "the ministry denied it", "changes": {"status": "denied"}},
        headers=bearer(keys["write"]),
    )
    assert r.status_code == 200, r.text
    now = await _get(client, "/v1/claims/facets", facet="status", article=article["id"])
    assert now["facets"]["status"]["buckets"] == [{"value": "denied", "count": 1}, {"value": "reported", "count": 1}]
    then = await _get(client, "/v1/claims/facets", facet="status", article=article["id"], asOf=before)
    assert then["facets"]["status"]["buckets"] == [{"value": "reported", "count": 2}]
    r = await client.get("/v1/claims/facets", params={"facet": "status", "article": article["id"], "asOf": before})
    assert "max-age=300" in r.headers["cache-control"]


async def test_a_withdrawn_claim_leaves_every_count_and_withheld_words_match_nothing(
    client: httpx.AsyncClient, keys: dict[str, str]
) -> None:
    word = "zorblax" + uuid.uuid4().hex[:8].translate(str.maketrans("0123456789", "ghijklmnop"))
    body = f"The ministry denied the {word} blockade at the port."
    article = await _post(
        client,
        "/v1/articles",
        {"uri": f"urn:test:{uuid.uuid4()}", "headline": f"The {word} talks", "body": body},
        keys["write"],
    )
    speaker = await _post(client, "/v1/actors", {"kind": "person", "name": "Speaker"}, keys["write"])
    await _post(
        client, "/v1/claims",
        {"statement": "Blockade denied", "quoteType": "assertion", "speaker": speaker["id"],
         "references": [quote_ref(article, f"denied the {word} blockade")]},
        keys["write"],
    )  # fmt: skip
    reads = [("/v1/claims/facets", {"facet": "status", "speaker": speaker["id"]})]
    reads.append(("/v1/claims/histogram", {"on": "createdAt", "speaker": speaker["id"]}))
    reads.append(("/v1/articles/facets", {"facet": "language", "q": word}))
    reads.append(("/v1/articles/histogram", {"on": "createdAt", "q": word}))

    def total(doc: dict[str, Any]) -> int:
        if doc["object"] == "facets":
            return sum(b["count"] for f in doc["facets"].values() for b in f["buckets"])
        return sum(b["count"] for b in doc["buckets"])

    assert [total(await _get(client, path, **params)) for path, params in reads] == [1, 1, 1, 1]
    r = await client.patch(
        f"/v1/articles/{article['id']}", json={"pubStatus": "withheld"}, headers=bearer(keys["write"])
    )
    assert r.status_code == 200, r.text
    for who in ({}, bearer(keys["read"])):
        found = []
        for path, params in reads:
            response = await client.get(path, params=params, headers=who)
            assert response.status_code == 200, response.text
            found.append(total(response.json()))
        assert found == [0, 0, 0, 0]
    writer = [(await client.get(p, params=q, headers=bearer(keys["write"]))).json() for p, q in reads]
    assert [total(d) for d in writer] == [1, 1, 1, 1]


async def test_whole_table_facets_follow_a_withholding_in_each_callers_view(
    client: httpx.AsyncClient, keys: dict[str, str]
) -> None:
    # No filter: read from the counts kept by triggers (0018), which must follow the recall rules.
    article = await _post(
        client, "/v1/articles", {"uri": f"urn:test:{uuid.uuid4()}", "headline": "Port", "body": BODY}, keys["write"]
    )
    await _post(
        client, "/v1/claims",
        {"statement": "Port closed", "quoteType": "assertion", "references": [quote_ref(article, "blockade at the port")]},
        keys["write"],
    )  # fmt: skip
    callers = {"anonymous": {}, "read": bearer(keys["read"]), "write": bearer(keys["write"])}

    async def totals() -> dict[str, int]:
        found = {}
        for name, headers in callers.items():
            r = await client.get("/v1/claims/facets", params={"facet": "quoteType"}, headers=headers)
            assert r.status_code == 200, r.text
            found[name] = sum(b["count"] for b in r.json()["facets"]["quoteType"]["buckets"])
        return found

    before = await totals()
    r = await client.patch(
        f"/v1/articles/{article['id']}", json={"pubStatus": "withheld"}, headers=bearer(keys["write"])
    )
    assert r.status_code == 200, r.text
    after = await totals()
    assert after == {"anonymous": before["anonymous"] - 1, "read": before["read"] - 1, "write": before["write"]}


async def test_whole_table_sums_follow_a_withholding_in_each_callers_view(
    client: httpx.AsyncClient, keys: dict[str, str]
) -> None:
    # No filter: read from the sums kept by triggers (0020), which must follow the recall rules.
    article = await _post(
        client, "/v1/articles", {"uri": f"urn:test:{uuid.uuid4()}", "headline": "Quay", "body": BODY}, keys["write"]
    )
    unit = f"u{uuid.uuid4().hex[:8]}"
    await _post(
        client, "/v1/incidents",
        {"incidentType": "protest", "fatalities": {"approximation": "atLeast", "lowerBound": 4, "unit": unit},
         "references": [quote_ref(article, "blockade at the port")]},
        keys["write"],
    )  # fmt: skip
    callers = {"anonymous": {}, "read": bearer(keys["read"]), "write": bearer(keys["write"])}

    async def sums() -> dict[str, tuple[int, list[Any]]]:
        found = {}
        for name, headers in callers.items():
            r = await client.get("/v1/incidents/aggregate", params={"sum": "fatalities"}, headers=headers)
            assert r.status_code == 200, r.text
            doc = r.json()
            found[name] = (doc["totalCount"], [u for u in doc["sums"]["fatalities"] if u["unit"] == unit])
        return found

    before = await sums()
    mine = [{"unit": unit, "count": 1, "low": 4, "best": 4, "high": None, "openUpper": 1, "unknown": 0,
             "approximate": False}]  # fmt: skip
    assert all(found == mine for _, found in before.values()), before
    r = await client.patch(
        f"/v1/articles/{article['id']}", json={"pubStatus": "withheld"}, headers=bearer(keys["write"])
    )
    assert r.status_code == 200, r.text
    after = await sums()
    assert after == {
        "anonymous": (before["anonymous"][0] - 1, []),
        "read": (before["read"][0] - 1, []),
        "write": before["write"],
    }


# ---- bounded sums and histograms -------------------------------------------------------------


async def test_the_seed_strikes_sum_to_at_least_65_killed_in_16_attacks(client: httpx.AsyncClient) -> None:
    doc = await _get(
        client, "/v1/incidents/aggregate", sum="fatalities,count", groupBy="incidentType", article=SEED_ARTICLE
    )
    assert doc["object"] == "aggregate" and doc["totalCount"] == 1
    assert doc["sums"]["fatalities"] == [
        {"unit": "people", "count": 1, "low": 65, "best": 65, "high": None, "openUpper": 1, "unknown": 0,
         "approximate": False}
    ]  # fmt: skip
    assert doc["sums"]["count"] == [
        {"unit": "attacks", "count": 1, "low": 16, "best": 16, "high": 16, "openUpper": 0, "unknown": 0,
         "approximate": False}
    ]  # fmt: skip
    assert [(g["key"], g["totalCount"], g["sums"]) for g in doc["groups"]] == [("strike", 1, doc["sums"])]


async def test_the_seed_deployment_sums_its_assets_by_type(client: httpx.AsyncClient) -> None:
    doc = await _get(client, "/v1/deployments/aggregate", groupBy="assetType", article=SEED_ARTICLE)
    groups = {g["key"]: g["sums"]["assets"] for g in doc["groups"]}
    assert groups["troops"] == [
        {"unit": "personnel", "count": 1, "low": 10000, "best": 10000, "high": 10000, "openUpper": 0,
         "unknown": 0, "approximate": True}
    ]  # fmt: skip
    assert groups["warship"][0]["best"] == 8
    assert groups["fighterJet"] == [
        {"unit": None, "count": 1, "low": 0, "best": 0, "high": None, "openUpper": 1, "unknown": 1,
         "approximate": False}
    ]  # fmt: skip
    whole = {s["unit"]: s for s in doc["sums"]["assets"]}
    assert whole["personnel"]["best"] == 10000 and whole[None]["unknown"] == 2


async def test_a_histogram_of_the_seed_claims_by_month_in_berlin(client: httpx.AsyncClient) -> None:
    doc = await _get(
        client, "/v1/claims/histogram", on="claimDate", interval="month", timeZone="Europe/Berlin", article=SEED_ARTICLE
    )
    assert (doc["object"], doc["on"], doc["interval"], doc["timeZone"]) == (
        "histogram",
        "claimDate",
        "month",
        "Europe/Berlin",
    )
    assert doc["buckets"] == [{"start": "2025-09-01T00:00:00+02:00", "end": "2025-10-01T00:00:00+02:00", "count": 1}]
    assert doc["missingCount"] == 13
    days = await _get(client, "/v1/claims/histogram", on="claimDate", interval="day", article=SEED_ARTICLE)
    assert (days["buckets"], days["imprecise"]) == ([], 1)  # the seed's claim is dated to the month


@pytest.mark.parametrize(
    ("zone", "start", "end", "bad"),
    [
        ("Pacific/Kiritimati", "9999-12-30T00:00:00Z", "9999-12-31T23:59:59Z", ["from", "to"]),
        ("America/Los_Angeles", "0001-01-01T00:00:00Z", "0001-01-05T00:00:00Z", ["from", "to"]),
        ("Etc/GMT+12", "0001-01-01T00:00:00Z", None, ["from"]),
        ("Asia/Tokyo", "2026-01-01T00:00:00Z", "9999-12-31T23:59:59Z", ["to"]),
    ],
)
async def test_histogram_bounds_outside_the_calendar_in_their_time_zone_are_refused(
    client: httpx.AsyncClient, zone: str, start: str, end: str | None, bad: list[str]
) -> None:
    params = {"on": "createdAt", "interval": "day", "timeZone": zone, "from": start, **({"to": end} if end else {})}
    for kind in ("claims", "articles"):
        r = await client.get(f"/v1/{kind}/histogram", params=params)
        assert r.status_code == 400, r.text
        assert [(e["parameter"], e["code"]) for e in r.json()["errors"]] == [(b, "OUT_OF_RANGE") for b in bad], r.text


# ---- maps ------------------------------------------------------------------------------------


async def _incident(client: httpx.AsyncClient, key: str, kind: str, geometry: Any) -> dict[str, Any]:
    return await _post(
        client, "/v1/incidents", {"incidentType": kind, "location": {"name": "somewhere", "geojson": geometry}}, key
    )


async def test_geojson_is_an_rfc_7946_feature_collection(client: httpx.AsyncClient, keys: dict[str, str]) -> None:
    kind = "maptest" + uuid.uuid4().hex[:6].translate(str.maketrans("0123456789", "ghijklmnop"))
    point = await _incident(client, keys["write"], kind, {"type": "Point", "coordinates": [-66.9, 10.5]})
    area = await _incident(
        client, keys["write"], kind,
        {"type": "Feature", "properties": {}, "geometry": {"type": "Polygon", "coordinates": [[[-70, 11], [-68, 11], [-68, 13], [-70, 11]]]}},
    )  # fmt: skip
    nowhere = await _post(client, "/v1/incidents", {"incidentType": kind}, keys["write"])
    for response in (
        await client.get("/v1/incidents", params={"format": "geojson", "incidentType": kind}),
        await client.get("/v1/incidents", params={"incidentType": kind}, headers={"Accept": "application/geo+json"}),
    ):
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/geo+json"
        doc = response.json()
        collection = FeatureCollection.model_validate(doc)  # RFC 7946's structure, positions, rings, bbox
        jsonschema.validate(doc, GEOJSON_SCHEMA)  # and the same models' JSON Schema
        assert collection.bbox is not None and list(collection.bbox) == [-70.0, 10.5, -66.9, 13.0]
        by_id = {f["id"]: f for f in doc["features"]}
        assert set(by_id) == {point["id"], area["id"], nowhere["id"]}
        assert by_id[point["id"]]["geometry"] == {"type": "Point", "coordinates": [-66.9, 10.5]}  # lon, lat
        assert by_id[area["id"]]["geometry"]["type"] == "Polygon" and by_id[nowhere["id"]]["geometry"] is None
        assert by_id[point["id"]]["properties"]["location"] == {"name": "somewhere"}
        assert by_id[point["id"]]["properties"]["incidentType"] == kind
        for feature in doc["features"]:
            for lon, lat in _positions(feature["geometry"]):
                assert -180 <= lon <= 180 and -90 <= lat <= 90
    one = await client.get(f"/v1/incidents/{point['id']}", params={"format": "geojson"})
    assert Feature.model_validate(one.json()).id == point["id"]


def _positions(geometry: Any) -> list[tuple[float, float]]:
    if geometry is None:
        return []
    out: list[tuple[float, float]] = []
    stack = [geometry["coordinates"]]
    while stack:
        node = stack.pop()
        if node and isinstance(node[0], int | float):
            out.append((node[0], node[1]))
        else:
            stack.extend(node)
    return out


async def test_bbox_and_near_over_rest(client: httpx.AsyncClient, keys: dict[str, str]) -> None:
    kind = "neartest" + uuid.uuid4().hex[:6].translate(str.maketrans("0123456789", "ghijklmnop"))
    east = await _incident(client, keys["write"], kind, {"type": "Point", "coordinates": [179.9, 0.0]})
    west = await _incident(client, keys["write"], kind, {"type": "Point", "coordinates": [-179.8, 0.0]})
    await _incident(client, keys["write"], kind, {"type": "Point", "coordinates": [100.0, 0.0]})
    across = await _get(client, "/v1/incidents", incidentType=kind, bbox="179,-1,-179,1", fields="id")
    assert {d["id"] for d in across["data"]} == {east["id"], west["id"]}
    near = await _get(client, "/v1/incidents", incidentType=kind, near="180,0,100", sort="distance")
    assert [d["id"] for d in near["data"]] == [east["id"], west["id"]]
    assert [round(d["distanceKm"]) for d in near["data"]] == [11, 22]
    facets = await _get(client, "/v1/incidents/facets", facet="incidentType", bbox="179,-1,-179,1")
    assert {"value": kind, "count": 2} in facets["facets"]["incidentType"]["buckets"]


# ---- caching ---------------------------------------------------------------------------------


async def test_aggregates_are_cached_and_invalidated_by_writes(
    cached_server: LiveServer,
    keys: dict[str, str],
) -> None:
    async with httpx.AsyncClient(base_url=cached_server.url, timeout=10) as c:
        article = await _post(
            c, "/v1/articles", {"uri": f"urn:test:{uuid.uuid4()}", "headline": "H", "body": BODY}, keys["write"]
        )
        params = {"facet": "status", "article": article["id"]}
        first = await c.get("/v1/claims/facets", params=params)
        again = await c.get("/v1/claims/facets", params=params)
        assert (cache_state(first), cache_state(again), first.content) == ("miss", "hit", again.content)
        assert (
            await c.get("/v1/claims/facets", params=params, headers={"If-None-Match": first.headers["etag"]})
        ).status_code == 304
        ref = quote_ref(article, "Quillwort envoys met on Friday.")
        await _post(c, "/v1/claims", {"statement": "S", "quoteType": "assertion", "references": [ref]}, keys["write"])

        async def counted() -> bool:
            doc = (await c.get("/v1/claims/facets", params=params)).json()
            return bool(doc["facets"]["status"]["buckets"] == [{"value": "reported", "count": 1}])

        await eventually(counted)


# ---- bad input -------------------------------------------------------------------------------

REFUSED = [
    ("/v1/claims/facets?facet=bogus", "facet", "UNKNOWN_FACET"),
    ("/v1/claims/facets", "facet", "REQUIRED"),
    ("/v1/claims/facets?facet=status&first=101", "first", "OUT_OF_RANGE"),
    ("/v1/claims/facets?facet=status&excludeOwnFilter=maybe", "excludeOwnFilter", "INVALID_VALUE"),
    ("/v1/claims/facets?facet=status&limit=5", "limit", "UNKNOWN_PARAMETER"),
    ("/v1/claims/histogram?on=occurredFrom", "on", "UNKNOWN_FIELD"),
    ("/v1/claims/histogram?interval=fortnight", "interval", "INVALID_ENUM"),
    ("/v1/claims/histogram?on=claimDate&interval=hour", "interval", "INVALID_INTERVAL"),
    ("/v1/claims/histogram?timeZone=Mars/Olympus", "timeZone", "UNKNOWN_TIME_ZONE"),
    ("/v1/claims/histogram?from=yesterday", "from", "INVALID_DATETIME"),
    ("/v1/claims/histogram?from=2025-02-01T00:00:00Z&to=2025-01-01T00:00:00Z", "to", "INVALID_RANGE"),
    (
        "/v1/claims/histogram?interval=day&from=2000-01-01T00:00:00Z&to=2025-01-01T00:00:00Z",
        "interval",
        "TOO_MANY_BUCKETS",
    ),
    ("/v1/incidents/aggregate?sum=deaths", "sum", "UNKNOWN_FIELD"),
    ("/v1/incidents/aggregate?groupBy=assetType", "groupBy", "UNKNOWN_FIELD"),
    ("/v1/incidents?bbox=-200,0,10,10", "bbox", "OUT_OF_RANGE"),
    ("/v1/incidents?bbox=0,10,10,0", "bbox", "OUT_OF_RANGE"),
    ("/v1/incidents?bbox=1,2,3", "bbox", "INVALID_VALUE"),
    ("/v1/deployments/facets?facet=status&near=0,0,0", "near", "OUT_OF_RANGE"),
    ("/v1/incidents?near=0,0,20001", "near", "OUT_OF_RANGE"),
    ("/v1/incidents?near=0,95,10", "near", "OUT_OF_RANGE"),
    ("/v1/incidents?sort=distance", "sort", "NEAR_REQUIRED"),
    ("/v1/claims?format=geojson", "format", "INVALID_ENUM"),
]


@pytest.mark.parametrize(("path", "parameter", "code"), REFUSED)
async def test_bad_input_is_a_400_naming_the_parameter(
    client: httpx.AsyncClient, path: str, parameter: str, code: str
) -> None:
    r = await client.get(path)
    assert r.status_code == 400, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["code"] == "BAD_USER_INPUT"
    assert [(e["parameter"], e["code"]) for e in body["errors"]] == [(parameter, code)], body
    if code == "TOO_MANY_BUCKETS":
        assert "coarser interval" in body["errors"][0]["detail"]


async def test_data_spanning_too_many_buckets_is_refused_naming_the_interval(
    client: httpx.AsyncClient, keys: dict[str, str]
) -> None:
    article = await _post(
        client, "/v1/articles", {"uri": f"urn:test:{uuid.uuid4()}", "headline": "H", "body": BODY}, keys["write"]
    )
    ref = quote_ref(article, "Quillwort envoys met on Friday.")
    for date in ("1990-01-01", "2025-01-01"):
        await _post(
            client,
            "/v1/claims",
            {"statement": "S", "quoteType": "assertion", "claimDate": date, "references": [ref]},
            keys["write"],
        )
    r = await client.get(
        "/v1/claims/histogram", params={"on": "claimDate", "interval": "day", "article": article["id"]}
    )
    assert r.status_code == 400, r.text
    (error,) = r.json()["errors"]
    assert (error["parameter"], error["code"]) == ("interval", "TOO_MANY_BUCKETS")
    assert "12785 buckets" in error["detail"] and "coarser interval" in error["detail"]
    months = await _get(client, "/v1/claims/histogram", on="claimDate", interval="year", article=article["id"])
    assert len(months["buckets"]) == 36 and sum(b["count"] for b in months["buckets"]) == 2


def test_an_aggregate_read_is_parsed_once_and_a_refusal_every_time() -> None:
    """A repeated query string reuses its parsed, checked read; a bad one is refused afresh each
    time, and is not kept (api/rest/aggregates.py ``_read``)."""
    from api.rest.aggregates import _read
    from db.errors import BadUserInput

    query = b"sum=fatalities&groupBy=incidentType&" + uuid.uuid4().hex.encode() + b"=x"
    with pytest.raises(BadUserInput):
        _read("incident", "sums", query)
    size = _read.cache_info().currsize
    with pytest.raises(BadUserInput):
        _read("incident", "sums", query)
    assert _read.cache_info().currsize == size
    good = b"groupBy=incidentType&sum=" + b"fatalities," * 2
    assert _read("incident", "sums", good) is _read("incident", "sums", good)
