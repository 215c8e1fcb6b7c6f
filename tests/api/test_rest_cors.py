"""CORS for browser clients: configured origins get preflights answered and the caching and
rate-limit headers exposed; other origins get no CORS grant."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.services import ServerProcess, server_process

ORIGIN = "https://newsroom.example"


@pytest.fixture(scope="module")
def cors_server(database_url: str, redis_url: str) -> Iterator[ServerProcess]:
    with server_process({"DATABASE_URL": database_url, "REDIS_URL": redis_url, "CORS_ORIGINS": ORIGIN}) as proc:
        yield proc


def test_allowed_origin_gets_preflight_and_exposed_headers(cors_server: ServerProcess) -> None:
    with httpx.Client(base_url=cors_server.url, timeout=10) as client:
        pre = client.options(
            "/v1/claims",
            headers={
                "Origin": ORIGIN,
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "Authorization, If-None-Match",
            },
        )
        assert pre.status_code == 200 and pre.headers["access-control-allow-origin"] == ORIGIN
        assert "if-none-match" in pre.headers["access-control-allow-headers"].lower()
        r = client.get("/v1/claims", headers={"Origin": ORIGIN})
        assert r.headers["access-control-allow-origin"] == ORIGIN
        exposed = r.headers["access-control-expose-headers"].lower()
        assert all(h in exposed for h in ("etag", "link", "ratelimit", "x-request-id"))


def test_other_origins_get_no_grant(cors_server: ServerProcess) -> None:
    r = httpx.get(cors_server.url + "/v1/claims", headers={"Origin": "https://elsewhere.example"}, timeout=10)
    assert r.status_code == 200 and "access-control-allow-origin" not in r.headers


@pytest.fixture(scope="module")
def dev_server(database_url: str, redis_url: str) -> Iterator[ServerProcess]:
    """A server with the development defaults and no CORS_ORIGINS."""
    with server_process({"DATABASE_URL": database_url, "REDIS_URL": redis_url, "ENVIRONMENT": "development"}) as proc:
        yield proc


@pytest.mark.parametrize("origin", ["http://localhost:5173", "http://127.0.0.1:3000", "http://[::1]:8080"])
def test_development_allows_local_origins_by_default(dev_server: ServerProcess, origin: str) -> None:
    r = httpx.get(dev_server.url + "/v1/claims", headers={"Origin": origin}, timeout=10)
    assert r.headers.get("access-control-allow-origin") == origin


@pytest.mark.parametrize("origin", ["https://newsroom.example", "http://localhost.example.com", "http://10.0.0.1"])
def test_development_grants_no_other_origin(dev_server: ServerProcess, origin: str) -> None:
    r = httpx.get(dev_server.url + "/v1/claims", headers={"Origin": origin}, timeout=10)
    assert "access-control-allow-origin" not in r.headers
