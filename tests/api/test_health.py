"""Liveness and readiness over real HTTP."""

import httpx

from tests.services import LiveServer


def test_healthz_answers(server: LiveServer) -> None:
    response = httpx.get(server.url + "/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_reports_postgres_and_redis(server: LiveServer) -> None:
    response = httpx.get(server.url + "/readyz")
    assert response.status_code == 200
    assert response.json()["checks"] == {"postgres": "ok", "redis": "ok"}
