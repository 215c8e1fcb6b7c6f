"""/metrics over real HTTP: Prometheus text with per-route-template request counts and latency,
GraphQL operations, cache lookups, pool and outbox figures."""

from __future__ import annotations

import asyncio
import re
import socket
import time
from urllib.parse import urlsplit

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.api.live_events import api_key
from tests.services import LiveServer

CLAIM = "clm_01K8B1E4EJJ4YDVT3E4602WPWC"


def samples(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, []).append((sample.labels, sample.value))
    return out


def value(found: dict[str, list[tuple[dict[str, str], float]]], name: str, **labels: str) -> float:
    return sum(v for got, v in found.get(name, []) if all(got.get(k) == want for k, want in labels.items()))


def test_metrics_count_requests_by_route_template_cache_result_and_operation(cached_server: LiveServer) -> None:
    with httpx.Client(base_url=cached_server.url, timeout=10) as client:
        before = samples(client.get("/metrics").text)
        for _ in range(3):
            assert client.get(f"/v1/claims/{CLAIM}").status_code == 200
        document = "query SeedClaim($id: ID!) { claim(id: $id) { statement } }"
        query = {"query": document, "variables": {"id": CLAIM}, "operationName": "SeedClaim"}
        for _ in range(2):
            assert client.post("/graphql", json=query).status_code == 200
        response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    after = samples(response.text)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    # Hits never reach the router: they are labelled with the path's template all the same.
    assert grew("newsfacts_http_requests_total", route="/v1/claims/{id}", method="GET", status="200") == 3
    assert grew("newsfacts_http_request_seconds_count", route="/v1/claims/{id}", method="GET") == 3
    assert grew("newsfacts_cache_lookups_total", surface="rest") == 3
    assert grew("newsfacts_cache_lookups_total", surface="rest", result="miss") <= 1
    assert grew("newsfacts_graphql_operation_seconds_count", operation="SeedClaim") == 2
    assert value(after, "newsfacts_db_pool_connections", state="total") >= 1
    for name in (
        "newsfacts_event_relay_lag_events",
        "newsfacts_webhook_queue_depth",
        "newsfacts_cache_invalidation_lag_events",
    ):
        assert name in after, name
    assert not re.search(r'route="/v1/claims/clm_', response.text), "raw ids must never become labels"


def test_latency_histograms_export_what_prometheus_clients_own_would() -> None:
    """LatencyHistogram counts in plain Python; its exposition must match prometheus_client's
    Histogram for the same observations (on bucket bounds, between them, past the last)."""
    from prometheus_client import CollectorRegistry, Histogram, generate_latest

    from api.metrics import _BUCKETS, LatencyHistogram

    ours_registry, theirs_registry = CollectorRegistry(), CollectorRegistry()
    ours = LatencyHistogram("t_seconds", "test", ["route"], registry=ours_registry)
    theirs = Histogram("t_seconds", "test", ["route"], buckets=_BUCKETS, registry=theirs_registry)
    observed = [0.0, 0.001, 0.0011, 0.0025, 0.3, 1.0, 9.99, 10.0, 10.5, 120.0]
    for i, seconds in enumerate(observed):
        for route in ("/a", "/b")[: 1 + i % 2]:
            ours.labels(route).observe(seconds)
            theirs.labels(route).observe(seconds)

    def lines(registry: CollectorRegistry) -> list[str]:
        text = generate_latest(registry).decode()
        return sorted(line for line in text.splitlines() if line.startswith("t_seconds") and "_created" not in line)

    assert lines(ours_registry) == lines(theirs_registry)
    assert any('le="+Inf"' in line and line.endswith(" 10.0") for line in lines(ours_registry))


def test_a_client_gone_mid_body_is_counted_as_an_incomplete_body_not_a_500(
    server: LiveServer, database_url: str
) -> None:
    """A client that closes its connection halfway through a body, on a REST write and on
    /graphql: nobody reads the answer, but the metrics (and the access log) say 400
    INCOMPLETE_BODY, not a server error (REST) or a body too large (GraphQL)."""
    secret = asyncio.run(api_key(database_url, "write"))
    with httpx.Client(base_url=server.url, timeout=10) as client:
        before = samples(client.get("/metrics").text)
        url = urlsplit(server.url)
        for path in ("/v1/actors", "/v1/actors", "/graphql", "/graphql"):
            with socket.create_connection((url.hostname, url.port), timeout=5) as s:
                s.sendall(
                    b"POST " + path.encode() + b" HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + secret.encode()
                    + b"\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"kind\":"
                )  # fmt: skip
                time.sleep(0.3)

        def counted(route: str, status: str) -> float:
            after = samples(client.get("/metrics").text)
            labels = {"route": route, "method": "POST", "status": status}
            return value(after, "newsfacts_http_requests_total", **labels) - value(
                before, "newsfacts_http_requests_total", **labels
            )

        deadline = time.monotonic() + 5
        while counted("/v1/actors", "400") + counted("/graphql", "400") < 4 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert [counted(route, status) for route in ("/v1/actors", "/graphql") for status in ("400", "413", "500")] == [
            2, 0, 0, 2, 0, 0
        ]  # fmt: skip
