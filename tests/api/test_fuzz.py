"""Property-based fuzzing over real HTTP (issue 12): random bytes, random JSON and mutated valid
bodies sent to every POST and PATCH route of the REST API. Whatever arrives, the answer is never a
5xx, and every refusal is a problem+json with a code from the catalogue.

``make test`` runs a few examples per route (derandomised, so it never flakes); ``make fuzz`` runs
many, with fresh randomness (NEWSFACTS_FUZZ_EXAMPLES, NEWSFACTS_FUZZ_RANDOM)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.rest import webhook_endpoints, writes
from api.settings import Settings
from schema.errors import CODES
from tests.api.test_rest_input import _key
from tests.api.webhook_receiver import webhook_settings
from tests.services import LiveServer

EXAMPLES = int(os.environ.get("NEWSFACTS_FUZZ_EXAMPLES", "20"))
RANDOM = os.environ.get("NEWSFACTS_FUZZ_RANDOM", "") == "1"
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=not RANDOM,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# A valid body per route family, which the mutations start from.
VALID: dict[str, dict[str, Any]] = {
    "/v1/actors": {"kind": "person", "name": "Fuzz Person", "country": "VE"},
    "/v1/articles": {"uri": "urn:fuzz:1", "headline": "Fuzz", "body": "Some text here.", "language": "en"},
    "/v1/claims": {"statement": "Fuzz said so", "quoteType": "assertion", "status": "reported"},
    "/v1/deployments": {"deployer": "act_01K8B1E2G6G33T8G953V0KSCB5", "status": "announced"},
    "/v1/incidents": {"incidentType": "strike", "description": "Fuzz"},
    "corrections": {"changes": {"description": "corrected"}, "reason": "fuzz"},
    "/v1/webhook-endpoints": {"url": "http://127.0.0.1:9/fuzz", "enabledEvents": ["claim.created"]},
    "rotate-secret": {"graceSeconds": 60},
    "replay": {"afterSequence": 0},
}
SEED_IDS = {
    "actors": "act_01K8B1E2G12Z4MP14DZVS18EHJ",
    "articles": "art_01K8B1E3F9FPCM47JBPJSG0VT9",
    "claims": "clm_01K8B1E4EJJ4YDVT3E4602WPWC",
    "deployments": "dep_01K8B1E5DS81PW7K51N7X88QBD",
    "incidents": "inc_01K8B1E7C9EGR26T72D8JGSNDX",
}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)


@st.composite
def mutated(draw: st.DrawFn, base: dict[str, Any]) -> bytes:
    """``base`` with fields replaced by any JSON, removed, or added; sometimes cut short."""
    body = dict(base)
    for _ in range(draw(st.integers(0, 3))):
        action = draw(st.sampled_from(("replace", "remove", "add")))
        if action == "replace" and body:
            body[draw(st.sampled_from(sorted(body)))] = draw(json_values)
        elif action == "remove" and body:
            body.pop(draw(st.sampled_from(sorted(body))))
        else:
            body[draw(st.text(max_size=12))] = draw(json_values)
    # The stdlib encoder: it writes huge integers and NaN too (orjson refuses both), as clients may.
    raw = json.dumps(body).encode()
    if draw(st.booleans()) and draw(st.booleans()):
        raw = raw[: draw(st.integers(0, len(raw)))]
    return raw


# (method, path template) of every POST and PATCH route that takes a body.
TEMPLATES = [
    (method, path)
    for path, method, _ in [*writes.operations(), *webhook_endpoints.operations()]
    if method in ("POST", "PATCH") and not path.startswith("/v1/webhook-deliveries")  # retry takes no body
]


def _concrete(method: str, template: str, endpoint_id: str) -> tuple[str, str, dict[str, Any]]:
    """(method, path with a real id, a valid body to mutate) of one route."""
    collection = template.split("/")[2]
    last = template.rsplit("/", 1)[-1]
    base = VALID.get(last) or VALID.get(f"/v1/{collection}") or {}
    return method, template.replace("{id}", SEED_IDS.get(collection, endpoint_id)), base


@pytest.fixture(scope="module")
def fuzz_server(settings: Settings) -> Iterator[LiveServer]:
    """A server whose webhook policy lets endpoints point at this machine (nothing delivers)."""
    live = LiveServer(webhook_settings(settings)).start()
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture(scope="module")
def fuzz_client(fuzz_server: LiveServer, database_url: str) -> Iterator[httpx.Client]:
    """An admin client of the fuzz server."""
    with httpx.Client(base_url=fuzz_server.url, headers=_key(database_url, "admin"), timeout=30) as c:
        yield c


@pytest.fixture(scope="module")
def routes(fuzz_client: httpx.Client) -> list[tuple[str, str, dict[str, Any]]]:
    """Every POST/PATCH route, with a webhook endpoint of this module's own in its paths."""
    created = fuzz_client.post("/v1/webhook-endpoints", json=VALID["/v1/webhook-endpoints"])
    assert created.status_code == 201, created.text
    return [_concrete(method, template, created.json()["id"]) for method, template in TEMPLATES]


def _check(client: httpx.Client, method: str, path: str, raw: bytes, content_type: str) -> None:
    r = client.request(method, path, content=raw, headers={"content-type": content_type})
    assert r.status_code < 500, (method, path, raw[:200], r.status_code, r.text[:300])
    if r.status_code >= 400:
        assert r.headers["content-type"] == "application/problem+json", (path, r.text[:200])
        body = r.json()
        assert body["code"] in CODES and body["status"] == r.status_code, body


def test_random_bytes_to_every_write_route(fuzz_client: httpx.Client, routes: list[tuple[str, str, Any]]) -> None:
    @FUZZ
    @given(raw=st.binary(max_size=512), index=st.integers(0, len(routes) - 1))
    def run(raw: bytes, index: int) -> None:
        method, path, _ = routes[index]
        _check(fuzz_client, method, path, raw, "application/json")

    run()


def test_random_json_to_every_write_route(fuzz_client: httpx.Client, routes: list[tuple[str, str, Any]]) -> None:
    @FUZZ
    @given(value=json_values, index=st.integers(0, len(routes) - 1))
    def run(value: Any, index: int) -> None:
        method, path, _ = routes[index]
        _check(fuzz_client, method, path, json.dumps(value).encode(), "application/json")

    run()


def test_every_write_route_is_fuzzed() -> None:
    assert len(TEMPLATES) == 20, TEMPLATES  # 5 kinds x (create, update, correct), 5 webhook operations


@pytest.mark.parametrize("route", range(len(TEMPLATES)), ids=[f"{m} {p}" for m, p in TEMPLATES])
def test_mutated_valid_bodies_to_each_write_route(
    fuzz_client: httpx.Client, routes: list[tuple[str, str, Any]], route: int
) -> None:
    method, path, base = routes[route]
    content_type = "application/merge-patch+json" if method == "PATCH" else "application/json"

    @FUZZ
    @given(raw=mutated(base))
    def run(raw: bytes) -> None:
        _check(fuzz_client, method, path, raw, content_type)

    run()
