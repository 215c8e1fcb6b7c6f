"""Regressions of issue 12's fuzzing (Defects 2), over real HTTP: each input that used to be a 500 is
now a 400 or 422 problem naming the parameter or field — NUL characters, offsets beyond ±15:59,
lists and objects in enum fields, over-long DNS labels, huge numbers, malformed bodies."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from db import keys
from db.kinds import KINDS
from tests.malformed_json import OBJECT_CASES
from tests.services import LiveServer, run

pytestmark = pytest.mark.anyio


def _key(database_url: str, scope: str) -> dict[str, str]:
    import asyncpg

    async def make() -> str:
        conn = await asyncpg.connect(database_url)
        try:
            return (await keys.create(conn, name=f"input-{scope}", scope=scope))[1]
        finally:
            await conn.close()

    return {"Authorization": f"Bearer {run(make())}"}


@pytest.fixture(scope="module")
def admin(database_url: str) -> dict[str, str]:
    """Headers with an admin key (writes and webhook endpoints)."""
    return _key(database_url, "admin")


@pytest.fixture
def client(server: LiveServer) -> Iterator[httpx.Client]:
    """A client of the session's live server."""
    with httpx.Client(base_url=server.url, timeout=10) as c:
        yield c


def _problem(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = r.json()
    assert body["status"] == status and body["code"] and body["detail"]
    return body


def _named(body: dict[str, Any]) -> set[str]:
    """Every parameter or field pointer the problem names."""
    return {e.get("parameter") or e["pointer"] for e in body.get("errors", [])}


# --- NUL characters ------------------------------------------------------------------------


def test_nul_in_events_object_id_is_a_400_naming_it(client: httpx.Client) -> None:
    assert "objectId" in _named(_problem(client.get("/v1/events?objectId=%00"), 400))


def test_nul_in_webhook_deliveries_event_id_is_a_400_naming_it(client: httpx.Client, admin: dict[str, str]) -> None:
    assert "eventId" in _named(_problem(client.get("/v1/webhook-deliveries?eventId=%00", headers=admin), 400))


def test_nul_in_webhook_delivery_path_id_is_a_400_naming_it(client: httpx.Client, admin: dict[str, str]) -> None:
    body = _problem(client.get("/v1/webhook-deliveries/whd_%00", headers=admin), 400)
    assert body["errors"][0]["in"] == "path" and body["errors"][0]["parameter"] == "id"


def test_nul_in_a_fact_filter_and_path_id(client: httpx.Client) -> None:
    assert "country" in _named(_problem(client.get("/v1/actors?country=%00"), 400))
    _problem(client.get("/v1/claims/clm_%00"), 400)


def test_nul_in_webhook_description_or_url_is_a_422_naming_it(client: httpx.Client, admin: dict[str, str]) -> None:
    described = client.post(
        "/v1/webhook-endpoints", json={"url": "https://example.com/hook", "description": "a\x00b"}, headers=admin
    )
    assert _named(_problem(described, 422)) == {"/description"}
    located = client.post("/v1/webhook-endpoints", json={"url": "https://exa\x00mple.com/"}, headers=admin)
    body = _problem(located, 422)
    assert _named(body) == {"/url"} and body["errors"][0]["code"] == "INVALID_URL"


def test_nul_in_fact_body_text_is_a_422_naming_the_field(client: httpx.Client, admin: dict[str, str]) -> None:
    r = client.post("/v1/actors", json={"kind": "person", "name": "A\x00B"}, headers=admin)
    assert _named(_problem(r, 422)) == {"/name"}


# --- date-times PostgreSQL cannot represent ------------------------------------------------


@pytest.mark.parametrize(
    ("path", "parameter", "valid"),
    [
        ("/v1/actors", "updatedSince", "2020-01-01T00:00:00-15:59"),
        ("/v1/articles", "publishedTo", "2020-01-01T00:00:00+15:59"),
        ("/v1/deployments", "startedTo", "2020-01-01"),  # a date filter: a date-time is no date at all
    ],
)
def test_offset_beyond_15_59_in_a_date_time_filter_is_a_400_naming_it(
    client: httpx.Client, path: str, parameter: str, valid: str
) -> None:
    for offset in ("-16:00", "+23:59"):
        body = _problem(client.get(path, params={parameter: f"2020-01-01T00:00:00{offset}"}), 400)
        assert parameter in _named(body)
    # The largest offset PostgreSQL takes still works.
    assert client.get(path, params={parameter: valid}).status_code == 200


def test_offset_beyond_15_59_in_replay_since_is_a_422(client: httpx.Client, admin: dict[str, str]) -> None:
    r = client.post(
        "/v1/webhook-endpoints/whe_00000000000000000000000000/replay",
        json={"since": "2020-01-01T00:00:00+23:00"},
        headers=admin,
    )
    assert _named(_problem(r, 422)) == {"/since"}


# --- enum fields get the JSON type checked first -------------------------------------------


@pytest.mark.parametrize(
    ("path", "body", "pointer"),
    [
        ("/v1/claims", {"statement": "x", "quoteType": []}, "/quoteType"),
        ("/v1/claims", {"statement": "x", "claimDatePrecision": {}}, "/claimDatePrecision"),
        ("/v1/actors", {"kind": {}, "name": "x"}, "/kind"),
        ("/v1/actors", {"kind": ["person"], "name": "x"}, "/kind"),
    ],
)
def test_list_or_object_in_an_enum_field_is_a_422_naming_it(
    client: httpx.Client, admin: dict[str, str], path: str, body: dict[str, Any], pointer: str
) -> None:
    problem = _problem(client.post(path, json=body, headers=admin), 422)
    assert pointer in _named(problem)
    assert {e["code"] for e in problem["errors"] if e["pointer"] == pointer} == {"INVALID_ENUM"}


# --- webhook URLs the resolver would choke on ----------------------------------------------


def test_webhook_url_with_a_dns_label_over_63_characters_is_a_422(client: httpx.Client, admin: dict[str, str]) -> None:
    url = f"https://{'a' * 64}.example.com/hook"
    body = _problem(client.post("/v1/webhook-endpoints", json={"url": url}, headers=admin), 422)
    assert _named(body) == {"/url"} and body["errors"][0]["code"] == "INVALID_URL"
    long_name = "https://" + ".".join(["a" * 60] * 5) + "/"  # labels fine, 304 characters in all
    assert _named(_problem(client.post("/v1/webhook-endpoints", json={"url": long_name}, headers=admin), 422)) == {
        "/url"
    }


# --- huge numbers --------------------------------------------------------------------------


def test_huge_integers_in_query_parameters_are_400s_naming_them(client: httpx.Client) -> None:
    digits = "9" * 5000
    assert "limit" in _named(_problem(client.get(f"/v1/claims?limit={digits}"), 400))
    assert "after" in _named(_problem(client.get(f"/v1/events?after={digits}"), 400))
    assert "limit" in _named(_problem(client.get("/v1/claims?limit=²"), 400))


def test_huge_integer_in_a_body_is_a_400_number_too_large(client: httpx.Client, admin: dict[str, str]) -> None:
    raw = b'{"kind": "person", "name": "x", "extra": ' + b"9" * 5000 + b"}"
    r = client.post("/v1/actors", content=raw, headers={**admin, "content-type": "application/json"})
    assert _problem(r, 400)["code"] == "NUMBER_TOO_LARGE"
    replay = client.post(
        "/v1/webhook-endpoints/whe_00000000000000000000000000/replay",
        content=b'{"afterSequence": 99999999999999999999}',
        headers={**admin, "content-type": "application/json"},
    )
    assert _problem(replay, 400)["code"] == "NUMBER_TOO_LARGE"


# --- malformed bodies: each its own code, always a 400 -------------------------------------


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        *[c[1:] for c in OBJECT_CASES],
        (b"", "INVALID_JSON"),
        (b'{"a":' * 10_000 + b"1" + b"}" * 10_000, "NESTING_TOO_DEEP"),
    ],
    ids=[*[c[0] for c in OBJECT_CASES], "empty", "deep-10000"],
)
@pytest.mark.parametrize(
    "path",
    # A write, webhook endpoint admin (create, and a replay's body: read before the id is looked
    # up), and an API key's creation.
    ["/v1/actors", "/v1/webhook-endpoints", "/v1/webhook-endpoints/whe_00000000000000000000000000/replay", "/v1/keys"],
)
def test_malformed_bodies_are_400s_with_their_own_code(
    client: httpx.Client, admin: dict[str, str], path: str, raw: bytes, code: str
) -> None:
    r = client.post(path, content=raw, headers={**admin, "content-type": "application/json"})
    body = _problem(r, 400)
    assert body["code"] == code and body["errors"][0]["pointer"] == "/body"


# --- headers the document now states rules for (schemathesis found them) -------------------


@pytest.mark.parametrize("value", ["", "clm_01K8B1E4EJJ4YDVT3E4602WPWC.v1", '"a", b'])
def test_an_empty_or_unquoted_if_match_is_a_400_naming_the_header(
    client: httpx.Client, admin: dict[str, str], value: str
) -> None:
    r = client.patch(
        "/v1/claims/clm_01K8B1E4EJJ4YDVT3E4602WPWC", json={"status": "disputed"}, headers={**admin, "If-Match": value}
    )
    error = _problem(r, 400)["errors"][0]
    assert (error["in"], error["parameter"]) == ("header", "If-Match")


def test_a_stale_but_well_formed_if_match_is_still_a_412(client: httpx.Client, admin: dict[str, str]) -> None:
    r = client.patch(
        "/v1/claims/clm_01K8B1E4EJJ4YDVT3E4602WPWC",
        json={"status": "disputed"},
        headers={**admin, "If-Match": '"clm_01K8B1E4EJJ4YDVT3E4602WPWC.v999"'},
    )
    assert _problem(r, 412)["code"] == "VERSION_CONFLICT"


# --- times outside what a datetime can hold in UTC (issue 23) --------------------------------

SEED_IDS = {
    "actor": "act_01K8B1E2G12Z4MP14DZVS18EHJ", "article": "art_01K8B1E3F9FPCM47JBPJSG0VT9",
    "claim": "clm_01K8B1E4EJJ4YDVT3E4602WPWC", "deployment": "dep_01K8B1E5DS81PW7K51N7X88QBD",
    "incident": "inc_01K8B1E7C9EGR26T72D8JGSNDX",
}  # fmt: skip


@pytest.mark.parametrize("moment", ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00"])
@pytest.mark.parametrize("kind", [k.name for k in KINDS])
def test_an_as_of_outside_the_utc_range_is_a_400_naming_it_on_every_kind(
    client: httpx.Client, kind: str, moment: str
) -> None:
    """Issue 23: a valid ISO 8601 time whose UTC instant no datetime holds was a 500 "internal
    database error" (asyncpg binds the time in UTC), on every kind, item and list."""
    plural = next(k.plural for k in KINDS if k.name == kind)
    for path in (f"/v1/{plural}/{SEED_IDS[kind]}", f"/v1/{plural}"):
        body = _problem(client.get(path, params={"asOf": moment}), 400)
        assert body["errors"][0]["parameter"] == "asOf" and body["errors"][0]["code"] == "INVALID_DATETIME", body


def test_a_date_time_filter_or_write_field_outside_the_utc_range_is_refused_naming_it(
    client: httpx.Client, admin: dict[str, str]
) -> None:
    assert "updatedSince" in _named(_problem(client.get("/v1/claims?updatedSince=9999-12-31T23:59:59-14:00"), 400))
    replay = client.post(
        "/v1/webhook-endpoints/whe_00000000000000000000000000/replay",
        json={"since": "0001-01-01T00:00:00+14:00"},
        headers=admin,
    )
    assert "/since" in _named(_problem(replay, 422))


def test_graphql_as_of_outside_the_utc_range_is_refused_as_bad_input(server: LiveServer) -> None:
    for kind, fact_id in SEED_IDS.items():
        query = f'{{ {kind}(id: "{fact_id}", asOf: "9999-12-31T23:59:59-14:00") {{ id }} }}'
        r = httpx.post(server.url + "/graphql", json={"query": query}, timeout=10)
        assert r.status_code == 200 and r.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", r.text
        variables = {"t": "0001-01-01T00:00:00+14:00"}
        listing = f"query($t: DateTime) {{ {kind}s(first: 1, asOf: $t) {{ totalCount }} }}"
        strict = httpx.post(
            server.url + "/graphql",
            json={"query": listing, "variables": variables},
            headers={"accept": "application/graphql-response+json"},
            timeout=10,
        )
        assert strict.status_code == 400 and "$t" in strict.json()["errors"][0]["message"], strict.text
