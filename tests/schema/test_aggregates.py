"""The analytics fields of the GraphQL connections — facets, histogram, aggregate, edges' distanceKm —
answered by the planner in one statement and by the resolvers alike (a second server runs on the
resolvers only), at the root and on nested connections, as of a time, with variables and aliases;
and refused with BAD_USER_INPUT naming the argument."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from api.settings import Settings
from tests.schema.gql import codes, gql
from tests.services import LiveServer

SEED_ARTICLE = "art_01K8B1E3F9FPCM47JBPJSG0VT9"
ATLANTIC = "act_01K8B1E2G4CV8AYVXXYVX5Y92G"


@pytest.fixture(scope="module")
def resolvers(settings: Settings) -> Iterator[LiveServer]:
    """A second server on the same database answering GraphQL on the resolvers alone."""
    live = LiveServer(dataclasses.replace(settings, graphql_planner=False)).start()
    try:
        yield live
    finally:
        live.stop()


def _planned(server: LiveServer) -> float:
    """How many GraphQL operations the planner has answered (0 before the first)."""
    text = httpx.get(server.url + "/metrics", timeout=10).text
    found = [
        line for line in text.splitlines() if line.startswith('newsfacts_graphql_operations_total{path="planned"}')
    ]
    return float(found[0].split()[-1]) if found else 0.0


QUERIES: list[tuple[str, dict[str, Any]]] = [
    (
        """query($article: ID!) { claims(filter: {article: $article}) { totalCount facets { __typename
             status { buckets { value count } otherCount missingCount }
             top: speaker(first: 2) { buckets { value { id name } count } otherCount missingCount }
             all: speaker(first: 100) { buckets { count value { name } } }
             subjects(first: 3) { buckets { value { id } count } otherCount } } } }""",
        {"article": SEED_ARTICLE},
    ),
    (
        """{ claims(filter: {status: REPORTED}) { facets(excludeOwnFilter: true) { status { buckets { value count } } } } }""",
        {},
    ),
    (
        """query($tz: String!) { claims { histogram(on: CLAIM_DATE, interval: MONTH, timeZone: $tz) {
             buckets { start end count } imprecise missingCount }
           byDay: histogram(on: CREATED_AT, interval: DAY, from: "2020-01-01T00:00:00Z", to: "2020-01-03T00:00:00Z") {
             buckets { start count } } } }""",
        {"tz": "Europe/Berlin"},
    ),
    (
        """{ incidents { aggregate(groupBy: INCIDENT_TYPE) { totalCount
             fatalities { count low best high openUpper unknown unit } count { low high unit }
             groups { key totalCount injuries { unknown } } }
           facets { actor { buckets { value { name } role count } } incidentType { buckets { value count } } } } }""",
        {},
    ),
    (
        """{ deployments(filter: {near: {lon: -75, lat: 16, radiusKm: 500}}, orderBy: {field: DISTANCE}) {
             edges { distanceKm cursor node { id } } aggregate(groupBy: ASSET_TYPE) { groups { key assets { best unit approximate } } }
             facets { assetType(first: 3) { buckets { value count } otherCount } deployer { buckets { value { name } } } } } }""",
        {},
    ),
    (
        """query($id: ID!) { actor(id: $id) { claimsAsSpeaker(first: 1) { totalCount
             facets { status { buckets { value count } } quoteType { buckets { value count } } }
             histogram(on: CREATED_AT, interval: YEAR) { buckets { count } } } } }""",
        {"id": ATLANTIC},
    ),
    (
        """query($at: DateTime) { claims(asOf: $at, filter: {article: "art_01K8B1E3F9FPCM47JBPJSG0VT9"}) {
             facets { status { buckets { value count } } } } }""",
        {"at": "2020-01-01T00:00:00Z"},
    ),
]


@pytest.mark.parametrize(("query", "variables"), QUERIES)
def test_the_planner_answers_analytics_as_the_resolvers_do(
    server: LiveServer, resolvers: LiveServer, query: str, variables: dict[str, Any]
) -> None:
    before = _planned(server)
    planned = gql(server.url, query, variables)
    assert _planned(server) == before + 1, "the planner answered it"
    resolved = gql(resolvers.url, query, variables)
    assert "errors" not in planned, planned
    assert planned["data"] == resolved["data"]


def test_the_seed_strikes_read_at_least_65_killed(server: LiveServer) -> None:
    data = gql(
        server.url,
        """{ incidents(filter: {article: "art_01K8B1E3F9FPCM47JBPJSG0VT9"}) {
             aggregate { fatalities { low best high openUpper unit } count { low high unit } } } }""",
    )["data"]
    aggregate = data["incidents"]["aggregate"]
    assert aggregate["fatalities"] == [{"low": 65, "best": 65, "high": None, "openUpper": 1, "unit": "people"}]
    assert aggregate["count"] == [{"low": 16, "high": 16, "unit": "attacks"}]


def test_the_seed_troops_sum_reads_approximately_10000(server: LiveServer) -> None:
    data = gql(
        server.url,
        """{ deployments(filter: {article: "art_01K8B1E3F9FPCM47JBPJSG0VT9"}) {
             aggregate(groupBy: ASSET_TYPE) { groups { key assets { best unit approximate } } } } }""",
    )["data"]
    groups = {g["key"]: g["assets"] for g in data["deployments"]["aggregate"]["groups"]}
    assert groups["troops"] == [{"best": 10000, "unit": "personnel", "approximate": True}]
    assert all(not s["approximate"] for s in groups["warship"])


def test_facets_as_of_a_time_before_the_seed_are_empty(server: LiveServer) -> None:
    data = gql(server.url, QUERIES[-1][0], QUERIES[-1][1])["data"]
    assert data["claims"]["facets"]["status"]["buckets"] == []
    now = gql(server.url, QUERIES[-1][0], {"at": None})["data"]
    assert now["claims"]["facets"]["status"]["buckets"] == [{"value": "REPORTED", "count": 14}]


REFUSED = [
    ("{ claims { facets { status(first: 101) { otherCount } } } }", "first", "OUT_OF_RANGE"),
    ("{ claims { facets { speaker(first: 0) { otherCount } } } }", "first", "OUT_OF_RANGE"),
    ("{ claims { histogram(interval: HOUR) { imprecise } } }", "interval", "INVALID_INTERVAL"),
    ('{ claims { histogram(timeZone: "Mars/Olympus") { imprecise } } }', "timeZone", "UNKNOWN_TIME_ZONE"),
    (
        '{ claims { histogram(on: CREATED_AT, interval: DAY, from: "2000-01-01T00:00:00Z", to: "2025-01-01T00:00:00Z") { imprecise } } }',
        "interval",
        "TOO_MANY_BUCKETS",
    ),
    # Bounds whose buckets would leave the calendar in their time zone (year 0 or 10000).
    (
        '{ claims { histogram(on: CREATED_AT, interval: DAY, timeZone: "Asia/Tokyo", from: "2026-01-01T00:00:00Z", to: "9999-12-31T23:59:59Z") { imprecise } } }',
        "to",
        "OUT_OF_RANGE",
    ),
    (
        '{ claims { histogram(on: CREATED_AT, interval: DAY, timeZone: "America/Los_Angeles", from: "0001-01-01T00:00:00Z", to: "2020-01-01T00:00:00Z") { imprecise } } }',
        "from",
        "OUT_OF_RANGE",
    ),
    ("{ incidents(filter: {bbox: [0, 0, 200, 10]}) { totalCount } }", "bbox", "OUT_OF_RANGE"),
    ("{ incidents(filter: {near: {lon: 0, lat: 0, radiusKm: 0}}) { totalCount } }", "near", "OUT_OF_RANGE"),
    ("{ incidents(filter: {near: {lon: 0, lat: 0, radiusKm: 30000}}) { totalCount } }", "near", "OUT_OF_RANGE"),
    ("{ incidents(orderBy: {field: DISTANCE}) { totalCount } }", "orderBy", "NEAR_REQUIRED"),
]


@pytest.mark.parametrize(("query", "argument", "code"), REFUSED)
def test_bad_arguments_are_bad_user_input_naming_them(
    server: LiveServer, resolvers: LiveServer, query: str, argument: str, code: str
) -> None:
    for live in (server, resolvers):
        result = gql(live.url, query)
        assert codes(result) == ["BAD_USER_INPUT"], result
        (error,) = result["errors"]
        assert [(e["path"][-1], e["code"]) for e in error["extensions"]["errors"]] == [(argument, code)], error
