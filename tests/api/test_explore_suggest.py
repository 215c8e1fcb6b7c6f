"""The explorer's "Suggest facts" (api/static/explore/suggest.js) in Debian's Chromium: with a write
key, suggestions appear as dashed marks of their own beside the seed article's highlights; a
suggested quote and a suggested quantity are accepted, stored through the API as suggested, and
turn into ordinary highlights at once; a dismissed one goes away; and a claim can be edited in the
claim form before it is created. No request leaves the page's own host."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.browser import Tabs, run_in_thread
from tests.api.live_events import api_key
from tests.services import LiveServer

pytestmark = pytest.mark.timeout(90)

SEED = "art_01K8B1E3F9FPCM47JBPJSG0VT9"
# A seed article of our own, so the seed's facts (which already cover its quotes) do not hide them.
BODY = (
    "“We will not leave the harbour until the wages are paid,” said Rosa Lima, a dockworker. "
    "About 3,500 troops were sent to the port on Monday, officials said. "
    "“Nobody has talked to us,” a crane operator told the paper."
)


@pytest.fixture(scope="module")
def write_key(server: LiveServer, database_url: str) -> str:
    return run_in_thread(lambda: api_key(database_url, "write"))


def _rest(server: LiveServer, key: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
    return httpx.request(method, server.url + path, headers={"authorization": f"Bearer {key}"}, timeout=10, **kwargs)


def test_suggested_facts_are_accepted_edited_or_dismissed_and_accepted_ones_are_highlighted(
    server: LiveServer, write_key: str, tabs: Tabs
) -> None:
    created = _rest(
        server,
        write_key,
        "POST",
        "/v1/articles",
        json={"uri": "urn:test:explore-suggest", "headline": "Port", "body": BODY},
    )
    assert created.status_code == 201, created.text
    article = created.json()["id"]
    tab = tabs.open(server.url)
    page = tab.page
    page.goto(f"{server.url}/explore#/article/{article}")
    page.wait_for_selector('.live[data-live="on"]')
    assert page.locator("#suggest-facts").count() == 0, "no button without a write key"
    page.fill("#key-input", write_key)
    page.click("#key button[type=submit]")
    page.wait_for_selector('.live[data-live="on"]')
    page.click("#suggest-facts")
    page.wait_for_selector("mark.suggestion")
    assert page.locator("mark.fact").count() == 0
    tab.shot("suggest-marks")

    # A suggested quote: accepted as it is, then an ordinary claim highlight over the same words.
    quote = page.locator(".suggestion-item.ClaimSuggestion", has_text="We will not leave the harbour")
    quote.locator("button.accept").click()
    claim_mark = page.locator("mark.fact.claim")
    claim_mark.wait_for()
    assert claim_mark.inner_text() == "We will not leave the harbour until the wages are paid,"
    fact_id = claim_mark.get_attribute("data-fact-id")
    stored = _rest(server, write_key, "GET", f"/v1/claims/{fact_id}").json()
    assert stored["quoteType"] == "direct" and stored["speakerDescription"] == "Rosa Lima, dockworker"
    assert stored["references"][0]["quoteText"] == "We will not leave the harbour until the wages are paid,"
    assert page.locator("mark.suggestion", has_text="We will not leave the harbour").count() == 0

    # A suggested quantity: accepted as a deployment asset, highlighted as one.
    troops = page.locator(".suggestion-item.QuantitySuggestion", has_text="3,500")
    troops.locator("button.accept").click()
    asset_mark = page.locator("mark.fact.asset")
    asset_mark.wait_for()
    assert asset_mark.inner_text() == "About 3,500 troops"
    deployments = _rest(server, write_key, "GET", "/v1/deployments", params={"article": article}).json()["data"]
    (asset,) = deployments[0]["assets"]
    assert asset["assetType"] == "troops" and asset["quantity"]["amount"] == 3500
    assert asset["quantity"]["approximation"] == "approximately"

    # Dismissed: the actor suggestion for Rosa Lima goes, and nothing is written.
    actor = page.locator(".suggestion-item.ActorSuggestion", has_text="Rosa Lima")
    actor.locator("button.dismiss").click()
    actor.wait_for(state="detached")
    assert _rest(server, write_key, "GET", "/v1/actors", params={"q": "Rosa Lima"}).json()["data"] == []

    # Edited first: the claim form opens on the suggestion; the statement is changed before creating.
    crane = page.locator(".suggestion-item.ClaimSuggestion", has_text="Nobody has talked to us")
    crane.locator("button.edit").click()
    dialog = page.locator("dialog.claim-dialog")
    dialog.wait_for()
    assert page.input_value("#claim-speakerDescription") == "a crane operator"
    page.fill("#claim-statement", "Nobody has talked to the crane operators.")
    dialog.locator("button[type=submit]").click()
    dialog.wait_for(state="detached")
    edited = page.locator("mark.fact.claim", has_text="Nobody has talked to us")
    edited.wait_for()
    stored = _rest(server, write_key, "GET", f"/v1/claims/{edited.get_attribute('data-fact-id')}").json()
    assert stored["statement"] == "Nobody has talked to the crane operators."
    tab.shot("suggest-accepted")
    assert tab.blocked == [] and tab.errors == []
