"""`newsfacts listen --api`: the receiver registers its own webhook endpoint, verifies deliveries with
the secret that registration returned, and deletes the endpoint when it exits — on its count, or
killed — so nothing is left behind failing and retrying for days."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from api.embedded import free_port
from api.settings import Settings
from tests.api.live_events import api_key
from tests.services import LiveServer

NEWSFACTS = str(Path(sys.executable).parent / "newsfacts")
pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def server(settings: Settings) -> Iterator[LiveServer]:
    """The app over real HTTP, accepting plain-http webhook endpoints on this machine (as in development)."""
    live = LiveServer(replace(settings, webhook_allowed_networks=("127.0.0.0/8",), webhook_require_https=False))
    live.start()
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture(scope="module")
def admin(database_url: str) -> str:
    return asyncio.run(api_key(database_url, "admin"))


def _endpoints(server: LiveServer, admin: str) -> list[str]:
    r = httpx.get(server.url + "/v1/webhook-endpoints", headers={"Authorization": f"Bearer {admin}"}, timeout=10)
    return [e["url"] for e in r.json()["data"]]


def test_a_killed_listener_deletes_the_endpoint_it_registered(server: LiveServer, admin: str, tmp_path: Path) -> None:
    port = free_port()
    # Files, not pipes: the listener left in the background holds what it inherited until it exits.
    out, err = (tmp_path / "out").open("w+"), (tmp_path / "err").open("w+")
    started = subprocess.run(
        [NEWSFACTS, "listen", "--port", str(port), "--count", "1", "--background", "--api", server.url,
         "--key", admin, "--events", "claim.created,claim.updated"],
        stdout=out, stderr=err, timeout=30, check=False,
    )  # fmt: skip
    said, logged = (tmp_path / "out").read_text(), (tmp_path / "err").read_text()
    found = re.search(r"in the background \(pid (\d+)", logged)
    assert started.returncode == 0 and found, logged
    pid = int(found.group(1))
    url = f"http://127.0.0.1:{port}/hook"
    try:
        assert re.search(r"registered webhook endpoint whe_\S+ for claim\.created, claim\.updated", said), said
        assert url in _endpoints(server, admin)  # registered before the command returned
    finally:
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    while url in _endpoints(server, admin):
        assert time.monotonic() < deadline, "the endpoint outlived its listener"
        time.sleep(0.1)
    out.close()
    err.close()


def test_a_refused_registration_says_why_and_listens_to_nothing(server: LiveServer) -> None:
    result = subprocess.run(
        [NEWSFACTS, "listen", "--port", str(free_port()), "--api", server.url, "--key", "nfk_wrong"],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert result.returncode != 0 and "the API refused to register" in result.stderr and "401" in result.stderr
