"""The event stream from a browser page on another localhost origin, in real Chromium: CORS lets it
in, frames are named by type so ``addEventListener('claim.created', …)`` fires — anonymously, and,
with anonymous reads off, through a stream token that the page's own server minted with its key
(the key never reaches the page or a URL). Stream tokens are also checked without a browser:
expired, forged, revoked-key and misused tokens are refused."""

from __future__ import annotations

import dataclasses
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from api import stream_tokens
from api.embedded import free_port
from api.settings import Settings
from db import keys
from db.pool import connect
from tests.api.browser import Tabs, run_in_thread
from tests.services import LiveServer

pytestmark = pytest.mark.timeout(60)

PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>partner page</title></head><body>
<p id="status">connecting</p><ul id="events"></ul>
<script>
(async () => {
  const api = %(api)r;
  let url = api + "/v1/events/stream?type=claim.created";
  if (%(use_token)s) {
    // The page's own server mints the token with its API key; the page never sees the key.
    const { token } = await (await fetch("/stream-token")).json();
    url += "&token=" + encodeURIComponent(token);
  }
  const source = new EventSource(url);
  source.addEventListener("open", () => { document.getElementById("status").textContent = "open"; });
  source.addEventListener("claim.created", (e) => {
    const event = JSON.parse(e.data);
    const li = document.createElement("li");
    li.textContent = event.type + " " + event.objectId;
    document.getElementById("events").append(li);
  });
})();
</script></body></html>"""


@dataclasses.dataclass
class PartnerSite:
    """A partner's web server on its own localhost origin: the page, and a /stream-token route that
    calls the API with the partner's key (server-side, as docs/events/sse.md says to)."""

    api: str
    key: str
    use_token: bool
    port: int = 0
    httpd: ThreadingHTTPServer | None = None

    @property
    def origin(self) -> str:
        return f"http://localhost:{self.port}"  # localhost vs the API's 127.0.0.1: another origin

    def start(self) -> PartnerSite:
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/stream-token":
                    r = httpx.post(
                        site.api + "/v1/events/tokens", headers={"authorization": f"Bearer {site.key}"}, timeout=5
                    )
                    body, kind = r.content, "application/json"
                else:
                    html = PAGE % {"api": site.api, "use_token": "true" if site.use_token else "false"}
                    body, kind = html.encode(), "text/html; charset=utf-8"
                self.send_response(200)
                self.send_header("content-type", kind)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.port = free_port()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()


@pytest.fixture(scope="module")
def key_secrets(database_url: str) -> dict[str, str]:
    """A read key and a write key on the session database."""

    async def make() -> dict[str, str]:
        conn = await connect(database_url)
        try:
            return {s: (await keys.create(conn, name=f"browser events {s}", scope=s))[1] for s in ("read", "write")}
        finally:
            await conn.close()

    return run_in_thread(make)


@pytest.fixture(scope="module")
def open_api(settings: Settings) -> Iterator[LiveServer]:
    """Anonymous reads on, localhost origins allowed (the development default)."""
    live = LiveServer(dataclasses.replace(settings, cors_local_origins=True)).start()
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture(scope="module")
def closed_api(settings: Settings) -> Iterator[LiveServer]:
    """Anonymous reads off: a page needs a stream token."""
    live = LiveServer(dataclasses.replace(settings, cors_local_origins=True, anonymous_reads=False)).start()
    try:
        yield live
    finally:
        live.stop()


def _write_claim(api: str, secret: str) -> str:
    r = httpx.post(
        api + "/v1/claims",
        json={"statement": f"Browser event probe {uuid.uuid4().hex[:8]}", "quoteType": "assertion"},
        headers={"authorization": f"Bearer {secret}"},
        timeout=5,
    )
    assert r.status_code == 201, r.text
    claim_id: str = r.json()["id"]
    return claim_id


def _page_receives_a_claim(tabs: Tabs, api: LiveServer, site: PartnerSite, write_key: str, shot: str) -> None:
    tab = tabs.open(site.origin, api.url)
    tab.page.goto(site.origin + "/")
    tab.page.wait_for_function("() => document.getElementById('status').textContent === 'open'")
    claim_id = _write_claim(api.url, write_key)
    tab.page.wait_for_function("id => document.getElementById('events').textContent.includes(id)", arg=claim_id)
    assert f"claim.created {claim_id}" in tab.page.inner_text("#events")
    tab.shot(shot)
    assert tab.blocked == [] and tab.errors == []


def test_a_page_on_another_local_origin_gets_events_anonymously(
    open_api: LiveServer, tabs: Tabs, key_secrets: dict[str, str]
) -> None:
    site = PartnerSite(open_api.url, key_secrets["read"], use_token=False).start()
    try:
        _page_receives_a_claim(tabs, open_api, site, key_secrets["write"], "sse-anonymous")
    finally:
        site.stop()


def test_a_page_gets_events_with_a_stream_token_when_anonymous_reads_are_off(
    closed_api: LiveServer, tabs: Tabs, key_secrets: dict[str, str]
) -> None:
    anonymous = httpx.get(closed_api.url + "/v1/events/stream", timeout=5)
    assert anonymous.status_code == 401
    site = PartnerSite(closed_api.url, key_secrets["read"], use_token=True).start()
    try:
        _page_receives_a_claim(tabs, closed_api, site, key_secrets["write"], "sse-token")
    finally:
        site.stop()


def _stream_status(api: LiveServer, token: str) -> int:
    with httpx.stream("GET", api.url + "/v1/events/stream", params={"token": token}, timeout=5) as r:
        return r.status_code


def test_stream_tokens_are_refused_when_expired_forged_revoked_or_used_elsewhere(
    closed_api: LiveServer, database_url: str
) -> None:
    async def make() -> tuple[str, str, bytes]:
        conn = await connect(database_url)
        try:
            key, secret = await keys.create(conn, name="token checks", scope="read")
            found = await keys.live_hash(conn, key.id)
            assert found is not None
            return key.id, secret, found[1]
        finally:
            await conn.close()

    key_id, secret, key_hash = run_in_thread(make)
    minted = httpx.post(closed_api.url + "/v1/events/tokens", headers={"authorization": f"Bearer {secret}"}, timeout=5)
    assert minted.status_code == 201 and minted.json()["streamUrl"].endswith(minted.json()["token"])
    token = minted.json()["token"]
    assert secret not in token and _stream_status(closed_api, token) == 200
    expired = stream_tokens.mint(key_id, key_hash, int(time.time()) - 1)
    forged = stream_tokens.mint(key_id, b"not the key's hash", int(time.time()) + 60)
    assert _stream_status(closed_api, expired) == 401 and _stream_status(closed_api, forged) == 401
    assert _stream_status(closed_api, "nfst_nonsense") == 401
    # Only the stream accepts it: not as a Bearer key, not elsewhere.
    assert (
        httpx.get(closed_api.url + "/v1/claims", headers={"authorization": f"Bearer {token}"}, timeout=5).status_code
        == 401
    )
    assert httpx.post(closed_api.url + "/v1/events/tokens", timeout=5).status_code == 401

    async def revoke() -> None:
        conn = await connect(database_url)
        try:
            await keys.revoke(conn, key_id)
        finally:
            await conn.close()

    run_in_thread(revoke)
    assert _stream_status(closed_api, token) == 401


def test_a_stream_token_reads_as_a_read_key_whatever_key_minted_it(
    closed_api: LiveServer, key_secrets: dict[str, str]
) -> None:
    """A token travels in a URL (history, proxies, logs elsewhere): it reads under the recall rules,
    as a read-scope key does, even when a write key minted it. The key itself still reads all."""
    write = {"authorization": f"Bearer {key_secrets['write']}"}
    marker = f"Wexmoor{uuid.uuid4().hex[:8]}"
    created = httpx.post(
        closed_api.url + "/v1/articles",
        json={"uri": f"urn:test:{uuid.uuid4().hex}", "headline": marker, "body": f"{marker} envoys met at the port."},
        headers=write,
        timeout=5,
    )
    assert created.status_code == 201, created.text
    article = created.json()["id"]
    withheld = httpx.patch(
        closed_api.url + f"/v1/articles/{article}", json={"pubStatus": "withheld"}, headers=write, timeout=5
    )
    assert withheld.status_code == 200, withheld.text
    token = httpx.post(closed_api.url + "/v1/events/tokens", headers=write, timeout=5).json()["token"]

    def stream(**auth: str) -> str:
        params = {"after": "0", "objectId": article, "limit": "2", **auth}
        headers = write if not auth else {}
        with httpx.stream("GET", closed_api.url + "/v1/events/stream", params=params, headers=headers, timeout=10) as r:
            assert r.status_code == 200
            return r.read().decode()

    by_token, by_key = stream(token=token), stream()
    assert by_token.count("\nid: ") == by_key.count("\nid: ") == 2, (by_token, by_key)
    assert marker not in by_token and '"headline":null' in by_token
    assert marker in by_key
