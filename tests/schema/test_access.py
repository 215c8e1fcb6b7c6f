"""Who may query and what production hides: anonymous reads switchable, API keys, GraphiQL and
introspection by config, and persisted queries (Apollo APQ through Redis, and allow-list mode)."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator

import httpx
import pytest
import redis.asyncio as aioredis

from api.settings import Settings
from db import keys
from db.pool import connect
from schema import persisted
from tests.schema.gql import codes, gql
from tests.services import LiveServer

QUERY = '{ claim(id: "clm_01K8B1E4EJJ4YDVT3E4602WPWC") { id } }'


@pytest.fixture(scope="module")
def production(settings: Settings) -> Iterator[LiveServer]:
    live = LiveServer(dataclasses.replace(settings, environment="production", anonymous_reads=False)).start()
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture(scope="module")
def allow_list(settings: Settings) -> Iterator[LiveServer]:
    live = LiveServer(dataclasses.replace(settings, graphql_persisted_only=True)).start()
    try:
        yield live
    finally:
        live.stop()


def _read_key(database_url: str) -> str:
    async def create() -> str:
        conn = await connect(database_url)
        try:
            _, secret = await keys.create(conn, name="graphql-test", scope="read")
            return secret
        finally:
            await conn.close()

    return asyncio.run(create())


def test_graphiql_and_introspection_on_outside_production(server: LiveServer) -> None:
    page = httpx.get(server.url + "/graphql", headers={"accept": "text/html"})
    assert page.status_code == 200 and "graphiql" in page.text.lower()
    r = gql(server.url, "{ __schema { queryType { name } } }")
    assert r["data"]["__schema"]["queryType"]["name"] == "Query"


def test_production_needs_a_key_and_hides_graphiql_and_introspection(production: LiveServer, database_url: str) -> None:
    anonymous = httpx.post(production.url + "/graphql", json={"query": QUERY})
    assert anonymous.status_code == 401
    assert anonymous.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    bad_key = httpx.post(production.url + "/graphql", json={"query": QUERY}, headers={"authorization": "Bearer nope"})
    assert bad_key.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"

    auth = {"authorization": f"Bearer {_read_key(database_url)}"}
    ok = httpx.post(production.url + "/graphql", json={"query": QUERY}, headers=auth).json()
    assert ok["data"]["claim"]["id"] == "clm_01K8B1E4EJJ4YDVT3E4602WPWC"
    introspect = httpx.post(
        production.url + "/graphql", json={"query": "{ __schema { types { name } } }"}, headers=auth
    )
    assert codes(introspect.json()) and "introspection" in introspect.text.lower()
    page = httpx.get(production.url + "/graphql", headers={"accept": "text/html", **auth})
    assert page.status_code == 404 and page.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    garbage = httpx.post(production.url + "/graphql", json={"query": "{ claim(id: 1"}, headers=auth).json()
    assert set(garbage["errors"][0]) <= {"message", "locations", "path", "extensions"}
    assert "Traceback" not in str(garbage)


def test_automatic_persisted_queries_round_trip_through_redis(server: LiveServer, redis_url: str) -> None:
    query = QUERY + " # apq " + str(id(object()))  # a document this test alone has sent
    digest = persisted.document_hash(query)
    ext = {"persistedQuery": {"version": 1, "sha256Hash": digest}}
    miss = gql(server.url, None, extensions=ext)
    assert codes(miss) == ["PERSISTED_QUERY_NOT_FOUND"]
    stored = gql(server.url, query, extensions=ext)
    assert stored["data"]["claim"]["id"]

    async def in_redis() -> bytes | None:
        client = aioredis.Redis.from_url(redis_url)
        try:
            value: bytes | None = await client.get(persisted.APQ_PREFIX + digest)
            return value
        finally:
            await client.aclose()

    assert asyncio.run(in_redis()) == query.encode()
    hit = gql(server.url, None, extensions=ext)
    assert hit["data"] == stored["data"]
    wrong = gql(server.url, "{ __typename }", expect_status=400, extensions=ext)
    assert codes(wrong) == ["BAD_USER_INPUT"]
    malformed = gql(
        server.url, None, expect_status=400, extensions={"persistedQuery": {"version": 1, "sha256Hash": "xyz"}}
    )
    assert codes(malformed) == ["BAD_USER_INPUT"]


def test_allow_list_mode_runs_only_registered_documents(allow_list: LiveServer, redis_url: str) -> None:
    query = QUERY + " # allow " + str(id(object()))
    refused = gql(allow_list.url, query)
    assert codes(refused) == ["PERSISTED_QUERY_NOT_ALLOWED"]

    async def register() -> str:
        client = aioredis.Redis.from_url(redis_url)
        try:
            return await persisted.register(client, query)
        finally:
            await client.aclose()

    digest = asyncio.run(register())
    ext = {"persistedQuery": {"version": 1, "sha256Hash": digest}}
    assert gql(allow_list.url, None, extensions=ext)["data"]["claim"]["id"]
    assert gql(allow_list.url, query)["data"]["claim"]["id"]
    other = "{ __typename }"
    ext_other = {"persistedQuery": {"version": 1, "sha256Hash": persisted.document_hash(other)}}
    assert codes(gql(allow_list.url, other, extensions=ext_other)) == ["PERSISTED_QUERY_NOT_ALLOWED"]


def test_rate_limit_answers_graphql_shaped_rate_limited(settings: Settings) -> None:
    live = LiveServer(dataclasses.replace(settings, rate_limit_anonymous=2)).start()
    try:
        responses = [httpx.post(live.url + "/graphql", json={"query": "{ __typename }"}) for _ in range(4)]
    finally:
        live.stop()
    limited = [r for r in responses if r.status_code == 429]
    assert limited, [r.status_code for r in responses]
    for r in limited:
        assert r.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
        assert int(r.headers["retry-after"]) >= 0
    assert all(r.status_code in (200, 429) for r in responses)
