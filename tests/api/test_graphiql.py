"""GraphiQL at GET /graphql, in a real browser with every other host blocked: it renders from the
app's own files (api/static/graphiql/), runs a query over HTTP and a subscription over
graphql-transport-ws that receives an event written meanwhile; and /docs renders."""

from __future__ import annotations

import dataclasses
import json
import time
import uuid
from collections.abc import Iterator
from urllib.parse import quote

import httpx
import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from api.settings import Settings
from db import keys
from db.pool import connect
from tests.api.browser import Tab, Tabs, run_in_thread
from tests.services import LiveServer

CANDY = "clm_01K8B1E4EJJ4YDVT3E4602WPWC"
pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def write_secret(database_url: str) -> str:
    """A write key's secret on the session database."""

    async def make() -> str:
        conn = await connect(database_url)
        try:
            return (await keys.create(conn, name="graphiql test", scope="write"))[1]
        finally:
            await conn.close()

    return run_in_thread(make)


def _response_text(tab: Tab) -> str:
    text: str = tab.page.evaluate(
        "() => document.querySelector('.graphiql-response .CodeMirror')?.CodeMirror.getValue() ?? ''"
    )
    return text


def _open(tab: Tab, base: str, query: str, headers: dict[str, str] | None = None) -> None:
    extra = f"&headers={quote(json.dumps(headers))}" if headers else ""
    tab.page.goto(f"{base}/graphql#query={quote(query)}{extra}")
    tab.page.wait_for_selector(".graphiql-execute-button")


def test_graphiql_page_loads_nothing_from_other_hosts(server: LiveServer) -> None:
    page = httpx.get(server.url + "/graphql", headers={"accept": "text/html"}, timeout=5).text
    assert "unpkg" not in page and "https://" not in page and "/static/graphiql/graphiql.min.js" in page
    for asset in ("graphiql.min.js", "graphiql.min.css", "react.production.min.js", "start.js"):
        assert httpx.get(f"{server.url}/static/graphiql/{asset}", timeout=5).status_code == 200


def test_graphiql_runs_a_query_offline(server: LiveServer, tabs: Tabs) -> None:
    tab = tabs.open(server.url)
    _open(tab, server.url, f'query Candy {{ claim(id: "{CANDY}") {{ statement reportedBy {{ name }} }} }}')
    tab.page.click(".graphiql-execute-button")
    tab.page.wait_for_function(
        "() => document.querySelector('.graphiql-response .CodeMirror')?.CodeMirror.getValue().includes('statement')"
    )
    result = json.loads(_response_text(tab))
    assert "everything is on the table" in result["data"]["claim"]["statement"]
    assert result["data"]["claim"]["reportedBy"]["name"] == "The Atlantic"
    tab.shot("graphiql-query")
    assert tab.blocked == [] and tab.errors == []


@pytest.fixture(scope="module")
def closed_server(settings: Settings) -> Iterator[LiveServer]:
    """Anonymous reads off: GraphiQL must send the key from its Headers tab, over HTTP and WebSocket."""
    live = LiveServer(dataclasses.replace(settings, anonymous_reads=False)).start()
    try:
        yield live
    finally:
        live.stop()


@pytest.mark.parametrize("anonymous_reads", [True, False])
def test_graphiql_subscription_receives_an_event(
    server: LiveServer, closed_server: LiveServer, tabs: Tabs, write_secret: str, anonymous_reads: bool
) -> None:
    server = server if anonymous_reads else closed_server
    headers = None if anonymous_reads else {"Authorization": f"Bearer {write_secret}"}
    tab = tabs.open(server.url)
    _open(tab, server.url, "subscription Live { events(types: [CLAIM_CREATED]) { sequence type objectId } }", headers)
    tab.page.click(".graphiql-execute-button")
    # The subscription is live once the server holds the socket open; give it a moment to subscribe.
    tab.page.wait_for_selector(".graphiql-execute-button svg")
    statement = f"GraphiQL subscription probe {uuid.uuid4().hex[:8]}"
    deadline = time.monotonic() + 10
    created: list[str] = []
    while time.monotonic() < deadline:
        # Write until one arrives: the first write may land before the operation is subscribed.
        r = httpx.post(
            server.url + "/v1/claims",
            json={"statement": statement, "quoteType": "assertion"},
            headers={"authorization": f"Bearer {write_secret}"},
            timeout=5,
        )
        assert r.status_code == 201, r.text
        created.append(r.json()["id"])
        try:
            tab.page.wait_for_function(
                "ids => { const t = document.querySelector('.graphiql-response .CodeMirror')?.CodeMirror.getValue() ?? '';"
                " return ids.some(id => t.includes(id)); }",
                arg=created,
                timeout=1_500,
            )
            break
        except PlaywrightTimeout:  # not yet: write again
            continue
    result = json.loads(_response_text(tab))
    assert result["data"]["events"]["type"] == "CLAIM_CREATED" and result["data"]["events"]["objectId"] in created
    tab.shot("graphiql-subscription" if anonymous_reads else "graphiql-subscription-with-key")
    assert tab.blocked == [] and tab.errors == []


def test_docs_render_offline(server: LiveServer, tabs: Tabs) -> None:
    tab = tabs.open(server.url)
    tab.page.goto(server.url + "/docs")
    tab.page.wait_for_function("() => document.body.innerText.includes('/v1/claims')")
    tab.shot("docs")
    assert tab.blocked == [] and tab.errors == []
