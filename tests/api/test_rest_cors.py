"""CORS for browser clients: configured origins get preflights answered and the caching and
rate-limit headers exposed; other origins get no CORS grant."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import httpx
import pytest

from api.settings import Settings
from tests.services import LiveServer

ORIGIN = "https://newsroom.example"


@pytest.fixture(scope="module")
def cors_server(settings: Settings) -> Iterator[LiveServer]:
    live = LiveServer(replace(settings, cors_origins=(ORIGIN,))).start()
    try:
        yield live
    finally:
        live.stop()


def test_allowed_origin_gets_preflight_and_exposed_headers(cors_server: LiveServer) -> None:
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


def test_other_origins_get_no_grant(cors_server: LiveServer) -> None:
    r = httpx.get(cors_server.url + "/v1/claims", headers={"Origin": "https://elsewhere.example"}, timeout=10)
    assert r.status_code == 200 and "access-control-allow-origin" not in r.headers
