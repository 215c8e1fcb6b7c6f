"""The fact explorer (/explore, api/static/explore/) in a real browser — Debian's Chromium driven by
Playwright — against a live server on a freshly seeded database of its own, so other modules'
writes to the seed facts cannot change what it sees. Every request to another host is blocked and
counted. Screenshots of each step go to tests/artifacts/explore/ (gitignored)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx
import pytest
from playwright.sync_api import Browser, Page, Route, expect

from api.settings import Settings
from db import keys
from db.migrate import migrate
from db.pool import connect
from db.seed import seed
from tests.api.explore_page import select_phrase, wait_until
from tests.services import LiveServer

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "explore"
FIXTURE = Path(__file__).resolve().parents[2] / "db" / "fixtures" / "atlantic-maduro-exile.json"
SEED = json.loads(FIXTURE.read_text())
ARTICLE = SEED["articles"][0]["id"]
BODY: str = SEED["articles"][0]["body"]
CANDY = "clm_01K8B1E4EJJ4YDVT3E4602WPWC"
TROOPS = "ast_01K8B1E6D3KWJDKT0TERVPW9KB"
TIMEOUT_MS = 5_000  # any single wait; the live update has its own 2 s budget
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}

pytestmark = pytest.mark.timeout(60)


def _seed_references() -> dict[str, tuple[str, str]]:
    """Every reference of the seed, as the page keys its spans: "<fact id>#<i>" → (kind, quoteText)."""
    refs: dict[str, tuple[str, str]] = {}

    def add(kind: str, fact: dict[str, Any]) -> None:
        for i, r in enumerate(fact.get("references", [])):
            assert r["article"] == ARTICLE
            refs[f"{fact['id']}#{i}"] = (kind, r["quoteText"])

    for claim in SEED["claims"]:
        add("claim", claim)
    for deployment in SEED["deployments"]:
        add("deployment", deployment)
        for asset in deployment["assets"]:
            add("asset", asset)
    for incident in SEED["incidents"]:
        add("incident", incident)
    return refs


@pytest.fixture(scope="module")
def explorer_server(postgres_server_url: str, settings: Settings) -> Iterator[tuple[LiveServer, str]]:
    """A live server on a database of its own, migrated and seeded; and a write key's secret."""
    name = f"nf_explore_{uuid.uuid4().hex[:10]}"
    base, _, query = postgres_server_url.partition("?")
    url = base.rsplit("/", 1)[0] + f"/{name}" + (f"?{query}" if query else "")

    async def setup() -> str:
        admin = await asyncpg.connect(postgres_server_url)
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()
        conn = await connect(url)
        try:
            await migrate(conn)
            report = await seed(conn)
            assert report is not None and not report.rejected
            _, secret = await keys.create(conn, name="explorer test", scope="write")
            return secret
        finally:
            await conn.close()

    async def teardown() -> None:
        admin = await asyncpg.connect(postgres_server_url)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()

    secret = asyncio.run(setup())
    live = LiveServer(dataclasses.replace(settings, database_url=url)).start()
    try:
        yield live, secret
    finally:
        live.stop()
        asyncio.run(teardown())


@pytest.fixture(scope="module")
def browser(chromium: Browser) -> Browser:
    """The module's Debian Chromium (tests/api/browser.py launches it for every browser test)."""
    return chromium


@dataclasses.dataclass
class Explorer:
    """A page on the explorer, with what it tried to fetch from elsewhere and what it threw."""

    page: Page
    base: str
    secret: str
    blocked: list[str]
    errors: list[str]

    def shot(self, name: str) -> None:
        """Keeps a screenshot; and no view may show a value the code failed to format."""
        assert not re.search(r"\b(null|undefined|NaN)\b|\[object Object\]", self.page.inner_text("body")), name
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)

    def open_article(self, article: str = ARTICLE, fact: str | None = None) -> None:
        self.page.goto(f"{self.base}/explore#/article/{article}" + (f"?fact={fact}" if fact else ""))
        self.page.wait_for_selector("#article-body mark.fact")
        self.page.wait_for_selector('.live[data-live="on"]')

    def rest(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"authorization": f"Bearer {self.secret}"}
        return httpx.request(method, self.base + path, headers=headers, timeout=5.0, **kwargs)


@pytest.fixture
def explorer(explorer_server: tuple[LiveServer, str], browser: Browser) -> Iterator[Explorer]:
    """A fresh browser context on the explorer server; no request may leave it, no script may throw.
    (The server comes first: Playwright's sync API runs an event loop, after which asyncio.run refuses.)"""
    server, secret = explorer_server
    origin = urlsplit(server.url).netloc
    context = browser.new_context(viewport=DESKTOP, timezone_id="UTC", locale="en-US")
    context.set_default_timeout(TIMEOUT_MS)
    blocked: list[str] = []

    def guard(route: Route) -> None:
        url = route.request.url
        if url.startswith(("data:", "blob:")) or urlsplit(url).netloc == origin:
            route.continue_()
        else:
            blocked.append(url)
            route.abort()

    context.route("**/*", guard)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    try:
        yield Explorer(page, server.url, secret, blocked, errors)
        assert blocked == [], "the page tried to reach another host"
        assert errors == [], "the page logged errors"
    finally:
        context.close()


def _spans(page: Page) -> list[dict[str, Any]]:
    """Each highlighted reference: its key, kind, fact id, joined text, and code-point start in the body."""
    spans: list[dict[str, Any]] = page.evaluate(
        """() => {
        const body = document.getElementById("article-body");
        const byRef = new Map();
        for (const mark of body.querySelectorAll("mark[data-ref]")) {
          const ref = mark.dataset.ref;
          if (!byRef.has(ref)) {
            const before = document.createRange();
            before.setStart(body, 0);
            before.setEndBefore(mark);
            byRef.set(ref, { ref, factId: mark.dataset.factId, classes: [...mark.classList], parts: [],
                             start: Array.from(before.toString()).length });
          }
          byRef.get(ref).parts.push({ part: Number(mark.dataset.part), text: mark.textContent });
        }
        return [...byRef.values()];
      }"""
    )
    return spans


def test_every_seed_reference_is_highlighted_with_exactly_its_words(explorer: Explorer) -> None:
    explorer.open_article()
    expected = _seed_references()
    spans = {s["ref"]: s for s in _spans(explorer.page)}
    assert set(spans) == set(expected), "every seed reference highlighted, and nothing else"
    cps = list(BODY)
    split = 0
    for ref, (kind, quote) in expected.items():
        span = spans[ref]
        fact_id = ref.split("#")[0]
        assert span["factId"] == fact_id
        assert kind in span["classes"]
        parts = sorted(span["parts"], key=lambda p: p["part"])
        assert [p["part"] for p in parts] == list(range(len(parts)))
        if len(parts) == 1:
            assert parts[0]["text"] == quote, ref  # one <mark>: its text is the quote
        else:
            split += 1  # overlapping without nesting: the parts, in order, make the quote
        assert "".join(p["text"] for p in parts) == quote, ref
        # And it sits where the reference says, counting code points.
        start = next(r["charStart"] for r in _references_of(fact_id) if r["quoteText"] == quote)
        assert span["start"] == start, ref
        assert "".join(cps[start : start + len(list(quote))]) == quote
    assert split <= 3, "only the seed's few crossing spans are split"
    explorer.shot("article-desktop")
    explorer.page.set_viewport_size(PHONE)
    explorer.shot("article-phone")


def _references_of(fact_id: str) -> list[dict[str, Any]]:
    for claim in SEED["claims"]:
        if claim["id"] == fact_id:
            return list(claim["references"])
    for d in SEED["deployments"]:
        if d["id"] == fact_id:
            return list(d["references"])
        for a in d["assets"]:
            if a["id"] == fact_id:
                return list(a["references"])
    for i in SEED["incidents"]:
        if i["id"] == fact_id:
            return list(i["references"])
    raise KeyError(fact_id)


def test_the_candy_quote_has_no_speaker_only_the_unnamed_source_description(explorer: Explorer) -> None:
    explorer.open_article()
    page = explorer.page
    mark = page.locator(f'mark[data-ref="{CANDY}#0"]')
    assert "enough candy in the dish" in mark.inner_text()
    mark.focus()  # by keyboard: a span is a tab stop, Enter opens its card
    page.keyboard.press("Enter")
    card = page.locator(f'.card[data-fact-id="{CANDY}"]')
    speaker = card.locator('[data-field="speaker"]')
    assert speaker.locator("a").count() == 0, "no named speaker"
    assert "a person who speaks to officials in both countries" in speaker.inner_text()
    assert "Unnamed source" in speaker.inner_text()
    assert card.locator('[data-field="quoteType"]').inner_text() == "direct"
    assert "The Atlantic" in card.locator('[data-field="reportedBy"]').inner_text()
    explorer.shot("candy-card")


def test_quantities_read_aloud_with_their_uncertainty(explorer: Explorer) -> None:
    explorer.open_article()
    page = explorer.page
    page.click(f'mark[data-fact-id="{TROOPS}"]')
    assert page.locator(f'.card[data-fact-id="{TROOPS}"] .quantity').inner_text() == "about 10,000 troops"
    explorer.shot("troops-card")
    page.click('mark[data-fact-id="ast_01K8B1E6D4N0H4NY37F0TWW351"]')
    assert page.locator(".card .quantity").inner_text() == "fighter jets — number not stated"
    page.click('.fact-item[data-fact-id="inc_01K8B1E7C9EGR26T72D8JGSNDX"]')
    assert page.locator(".card .quantity").inner_text() == "16 attacks · at least 65 killed"
    # The deployer links to the actor's own page, which lists the deployment.
    page.click('mark[data-fact-id="ast_01K8B1E6D25VQZHFYNYTNKDX8V"]')
    page.click('.card [data-field="deployer"] a')
    page.wait_for_selector("h1:text-is('Pentagon')")
    assert "Deployments (1)" in page.inner_text("main")
    explorer.shot("actor-pentagon")


def test_a_correction_appears_live_and_as_of_shows_the_text_before_it(explorer: Explorer) -> None:
    explorer.open_article(fact=CANDY)
    page = explorer.page
    old = next(c["statement"] for c in SEED["claims"] if c["id"] == CANDY)
    created = datetime.fromisoformat(explorer.rest("GET", f"/v1/claims/{CANDY}").json()["createdAt"])
    # A whole second after the seed and before the correction: the control is to the second.
    as_of = (created + timedelta(seconds=1)).replace(microsecond=0) + timedelta(seconds=1)
    wait_until(as_of + timedelta(milliseconds=200))
    new = f"Everything is on the table with Maduro, given pressure and incentives ({uuid.uuid4().hex[:6]})."
    started = time.monotonic()
    response = explorer.rest(
        "POST", f"/v1/claims/{CANDY}/corrections", json={"changes": {"statement": new}, "reason": "paraphrase fixed"}
    )
    assert response.status_code == 200, response.text
    item = page.locator(f'.fact-item[data-fact-id="{CANDY}"]')
    item.filter(has_text=new).wait_for(timeout=2_000)
    assert time.monotonic() - started < 2.0
    assert page.locator(f'.card[data-fact-id="{CANDY}"] .statement').inner_text() == new
    assert item.locator(".badge.corrected").count() == 1
    assert "Claim corrected" in page.inner_text("#notice")
    explorer.shot("live-correction")

    page.fill("#as-of", as_of.strftime("%Y-%m-%dT%H:%M:%S"))
    page.click(".as-of button[type=submit]")
    page.wait_for_selector(".as-of-banner:not([hidden])")
    item.filter(has_text=old).wait_for()
    assert page.locator(f'.card[data-fact-id="{CANDY}"] .statement').inner_text() == old
    assert item.locator(".badge.corrected").count() == 0, "not yet corrected then"
    explorer.shot("as-of-before-correction")

    page.click(".as-of button.secondary")  # Now
    item.filter(has_text=new).wait_for()
    page.click(f'.card[data-fact-id="{CANDY}"] .history button')
    revision = page.locator(".revision.corrected")
    assert "correction" in revision.inner_text() and "paraphrase fixed" in revision.inner_text()
    assert new in revision.locator("ins").inner_text()
    explorer.shot("history")


def _make_claim_from(explorer: Explorer, phrase: str, *, check_errors: bool) -> str:
    page = explorer.page
    page.fill("#key-input", explorer.secret)
    page.click("#key button[type=submit]")
    page.wait_for_selector('.live[data-live="on"]')
    page.wait_for_selector("#article-body mark.fact")
    select_phrase(page, phrase)
    page.click("#new-claim")
    dialog = page.locator("dialog.claim-dialog")
    dialog.wait_for()
    if check_errors:
        # The API's userErrors land beside the fields they name.
        page.fill("#claim-statement", "")
        page.fill("#claim-quote", "")
        dialog.locator("button[type=submit]").click()
        page.wait_for_selector('.field[data-path="statement"].has-error')
        assert page.inner_text('.field[data-path="statement"] .field-error')
        explorer.shot("claim-form-errors")
        page.fill("#claim-statement", f"Claim from a selection: {phrase}")
        dialog.locator("button[type=submit]").click()
        page.wait_for_selector('.field[data-path="quote"].has-error')
        assert "quote" in page.inner_text('.field[data-path="quote"] .field-error'), "a direct claim needs its quote"
        assert page.locator(".field.has-error").count() == 1, "the fixed field's error is gone"
        page.fill("#claim-quote", phrase)
    page.select_option("#claim-speaker", "__unnamed")
    page.fill("#claim-speakerDescription", "a reader of the explorer test")
    dialog.locator("button[type=submit]").click()
    dialog.wait_for(state="detached")
    card = page.locator(".card.claim")
    card.wait_for()
    fact_id = card.get_attribute("data-fact-id")
    assert fact_id and fact_id.startswith("clm_")
    return fact_id


def test_a_claim_made_from_a_selection_is_stored_with_its_offsets_and_highlighted(explorer: Explorer) -> None:
    explorer.open_article()
    phrase = "a transit hub for narcotics"
    fact_id = _make_claim_from(explorer, phrase, check_errors=True)
    stored = explorer.rest("GET", f"/v1/claims/{fact_id}").json()
    start = BODY.index(phrase)  # Python indexes code points, as the API counts
    assert stored["references"] == [
        {"article": ARTICLE, "charStart": start, "charEnd": start + len(phrase), "quoteText": phrase}
    ]
    assert stored["speaker"] is None and stored["speakerDescription"] == "a reader of the explorer test"
    mark = explorer.page.locator(f'mark[data-fact-id="{fact_id}"]')
    assert mark.count() == 1 and mark.inner_text() == phrase
    explorer.shot("claim-from-selection")


def test_selection_offsets_count_code_points_not_utf16_units(explorer: Explorer) -> None:
    # Astral characters (flags, emoji) are two UTF-16 units but one code point each.
    body = "🇻🇪 Caracas 🚢 — Venezuela said talks would resume in March, officials 🙂 said."
    response = explorer.rest(
        "POST",
        "/v1/articles",
        json={"uri": f"urn:test:explore:{uuid.uuid4().hex}", "headline": "Talks 🇻🇪", "body": body, "language": "en"},
    )
    assert response.status_code == 201, response.text
    article = response.json()["id"]
    at = body.index("officials")
    claim = explorer.rest(
        "POST",
        "/v1/claims",
        json={
            "statement": "Officials said something.",
            "quoteType": "assertion",
            "references": [{"article": article, "charStart": at, "charEnd": at + 9, "quoteText": "officials"}],
        },
    )
    assert claim.status_code == 201, claim.text
    explorer.open_article(article)
    assert explorer.page.locator("#article-body mark").inner_text() == "officials"
    phrase = "talks would resume"
    fact_id = _make_claim_from(explorer, phrase, check_errors=False)
    start = body.index(phrase)
    assert len(body[:start].encode("utf-16-le")) // 2 != start, "the test needs UTF-16 and code points to differ"
    ref = explorer.rest("GET", f"/v1/claims/{fact_id}").json()["references"][0]
    assert (ref["charStart"], ref["charEnd"], ref["quoteText"]) == (start, start + len(phrase), phrase)


def test_articles_are_searchable_and_filterable(explorer: Explorer) -> None:
    page = explorer.page
    page.goto(f"{explorer.base}/explore")
    page.fill("input[name=q]", "candy dish")
    page.click(".filters button[type=submit]")
    results = page.locator(".results li")
    # Waits out the list shown before the search (a bare wait for any item could see that list,
    # then count the emptied one while the search was still loading).
    expect(results).to_have_count(1)
    assert [m.lower() for m in results.locator("mark.hit").all_inner_texts()] == ["candy", "dish"]
    page.select_option("select[name=outlet]", "act_01K8B1E2G4CV8AYVXXYVX5Y92G")  # The Atlantic (relayed)
    page.fill("input[name=from]", "2025-10-01")
    page.click(".filters button[type=submit]")
    page.wait_for_function("() => location.hash.includes('outlet=')")
    expect(page.locator(".results li")).to_have_count(1)
    explorer.shot("search")
    page.fill("input[name=from]", "2025-11-01")  # after the article
    page.click(".filters button[type=submit]")
    page.wait_for_selector(".count:text-is('0 articles')")
    page.goto(f"{explorer.base}/")
    page.click("a[href='/explore']")
    page.wait_for_selector(".results li")


def test_facts_created_and_retracted_elsewhere_appear_and_are_struck_through_live(explorer: Explorer) -> None:
    explorer.open_article()
    page = explorer.page
    phrase = "the increased military presence"
    start = BODY.index(phrase)
    started = time.monotonic()
    created = explorer.rest(
        "POST",
        "/v1/claims",
        json={
            "statement": "The US military presence in the Caribbean has increased.",
            "quoteType": "assertion",
            "references": [
                {"article": ARTICLE, "charStart": start, "charEnd": start + len(phrase), "quoteText": phrase}
            ],
        },
    )
    assert created.status_code == 201, created.text
    fact_id = created.json()["id"]
    mark = page.locator(f'mark[data-fact-id="{fact_id}"]')
    mark.wait_for(timeout=2_000)
    assert time.monotonic() - started < 2.0
    assert mark.inner_text() == phrase
    assert "Claim added" in page.inner_text("#notice")
    started = time.monotonic()
    assert explorer.rest("DELETE", f"/v1/claims/{fact_id}").status_code == 200
    page.locator(f'mark.is-retracted[data-fact-id="{fact_id}"]').wait_for(timeout=2_000)
    assert time.monotonic() - started < 2.0
    assert page.locator(f'.fact-item.is-retracted[data-fact-id="{fact_id}"]').count() == 1
    assert "Claim retracted" in page.inner_text("#notice")
    explorer.shot("live-retraction")
