"""The fact explorer (api/static/explore/) on recalled content, in Debian's Chromium under Playwright:
a withheld and a canceled article, a withdrawn and a partly withdrawn claim, and facts with every
optional field null, read by an anonymous reader, a read key and a write key. What each sees is
asserted as a user would see it: the stub's notice, the withdrawn badges, the plain notes where a
passage cannot be shown; and no page error, console error or request to another host. Data is
made through the REST API on the module's own database; screenshots go to tests/artifacts/explore/."""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.api.browser import Tabs, run_in_thread
from tests.api.explore_page import select_phrase, wait_until
from tests.api.live_events import api_key, bearer
from tests.factories import quote_ref
from tests.services import LiveServer

pytestmark = pytest.mark.timeout(60)

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "explore"

USABLE_BODY = (
    "Harbour officials in Portvale said on Tuesday that the ferry service would resume next week. "
    "A convoy of troops reached the depot, and a strike hit the fuel store overnight."
)
WITHHELD_BODY = (
    "Portvale's mayor promised that the ferries would run again on Friday, officials told reporters at the quay."
)
WITHHELD_HEADLINE = "Mayor promises ferries by Friday"
# Words of the withheld article that no reader without a write key may be shown.
WITHHELD_WORDS = (WITHHELD_HEADLINE, "ferries would run again", "officials told reporters", "Quay gossip")
PRINCIPALS = ("anonymous", "read", "write")


@dataclasses.dataclass(frozen=True)
class Corpus:
    """What the module made, by role."""

    keys: dict[str, str]
    usable: dict[str, Any]
    withheld: dict[str, Any]
    canceled: dict[str, Any]
    retracted: dict[str, Any]
    watched: dict[str, Any]  # withheld while a reader has it open (test_live_recall_...)
    watched_claim: dict[str, Any]
    withdrawn_claim: dict[str, Any]
    withdrawn_deployment: dict[str, Any]
    withdrawn_incident: dict[str, Any]
    partly_claim: dict[str, Any]
    bare_claim: dict[str, Any]
    bare_deployment: dict[str, Any]
    bare_incident: dict[str, Any]
    bare_actor: dict[str, Any]
    settled_at: datetime  # a whole second after the last write


def _post(client: httpx.Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    r = client.post(path, json=body)
    assert r.status_code == 201, r.text
    doc: dict[str, Any] = r.json()
    return doc


def _recall(client: httpx.Client, article: dict[str, Any], status: str) -> dict[str, Any]:
    r = client.patch(f"/v1/articles/{article['id']}", json={"pubStatus": status})
    assert r.status_code == 200, r.text
    doc: dict[str, Any] = r.json()
    return doc


@pytest.fixture(scope="module")
def corpus(server: LiveServer, database_url: str) -> Corpus:
    """The recalled and bare content, made over REST with a write key; then the recalls."""

    async def make_keys() -> dict[str, str]:
        return {scope: await api_key(database_url, scope) for scope in ("read", "write")}

    # In a thread of its own: the module's Playwright may already hold an event loop on this one.
    keys = run_in_thread(make_keys)
    with httpx.Client(base_url=server.url, headers=bearer(keys["write"]), timeout=10) as c:
        outlet = _post(c, "/v1/actors", {"kind": "mediaOutlet", "name": "Portvale Gazette"})
        reporter = _post(c, "/v1/actors", {"kind": "person", "name": "Ada Quill", "aliases": ["A. Quill"]})
        # An actor with no roles, aliases, description or country: the withdrawn claim's speaker.
        bare_actor = _post(c, "/v1/actors", {"kind": "organization", "name": "Portvale Harbour Board"})
        usable = _post(c, "/v1/articles", {"uri": "urn:test:explore-recall:usable", "headline": "Ferries to resume", "body": USABLE_BODY})  # fmt: skip
        withheld = _post(
            c, "/v1/articles",
            {"uri": "urn:test:explore-recall:withheld", "headline": WITHHELD_HEADLINE, "body": WITHHELD_BODY,
             "summary": "Quay gossip about the ferries.", "url": "https://gazette.example/ferries",
             "publishedAt": "2025-10-02T08:00:00Z", "outlet": outlet["id"], "authors": [reporter["id"]],
             "subjects": ["medtop:11000000"]},
        )  # fmt: skip
        canceled = _post(c, "/v1/articles", {"uri": "urn:test:explore-recall:canceled", "headline": "Quay closure report", "body": "The quay closed."})  # fmt: skip
        retracted = _post(c, "/v1/articles", {"uri": "urn:test:explore-recall:retracted", "headline": "Quay reopens", "body": "The quay reopened."})  # fmt: skip
        watched = _post(c, "/v1/articles", {"uri": "urn:test:explore-recall:watched", "headline": "Storm closes the quay", "body": "Storm warnings closed the quay on Sunday, the coastguard said."})  # fmt: skip
        watched_claim = _post(
            c, "/v1/claims",
            {"statement": "A storm closed the quay.", "quoteType": "assertion",
             "references": [quote_ref(watched, "Storm warnings closed the quay")]},
        )  # fmt: skip
        withdrawn_claim = _post(
            c, "/v1/claims",
            {"statement": "The ferries will run on Friday.", "quoteType": "indirect", "speaker": bare_actor["id"],
             "references": [quote_ref(withheld, "the ferries would run again on Friday")]},
        )  # fmt: skip
        withdrawn_deployment = _post(
            c, "/v1/deployments", {"status": "announced", "assets": [], "references": [quote_ref(withheld, "mayor")]}
        )
        withdrawn_incident = _post(
            c, "/v1/incidents", {"incidentType": "protest", "references": [quote_ref(withheld, "at the quay")]}
        )
        partly_claim = _post(
            c, "/v1/claims",
            {"statement": "Officials expect the ferries back.", "quoteType": "assertion",
             "references": [quote_ref(withheld, "officials told reporters"),
                            quote_ref(usable, "Harbour officials in Portvale said")]},
        )  # fmt: skip
        # Every optional field left out: null or empty in every answer.
        bare_claim = _post(
            c, "/v1/claims",
            {"statement": "The ferry service will resume.", "quoteType": "assertion",
             "references": [quote_ref(usable, "the ferry service would resume next week")]},
        )  # fmt: skip
        bare_deployment = _post(
            c, "/v1/deployments",
            {"references": [quote_ref(usable, "A convoy of troops reached the depot")],
             "assets": [{"assetType": "troops", "references": [quote_ref(usable, "troops")]}]},
        )  # fmt: skip
        bare_incident = _post(
            c,
            "/v1/incidents",
            {"incidentType": "strike", "references": [quote_ref(usable, "a strike hit the fuel store")]},
        )
        last = _recall(c, withheld, "withheld")
        _recall(c, canceled, "canceled")
        assert c.delete(f"/v1/articles/{retracted['id']}").status_code == 200
    assert withdrawn_claim["sourcing"] == "supported"  # the recall changes it
    with httpx.Client(base_url=server.url, timeout=10) as anonymous:
        assert anonymous.get(f"/v1/claims/{withdrawn_claim['id']}").status_code == 404
        assert anonymous.get(f"/v1/articles/{withheld['id']}").json()["body"] is None
    updated = datetime.fromisoformat(last["updatedAt"])
    settled = datetime.fromtimestamp(math.ceil(updated.timestamp()) + 1, UTC)
    return Corpus(
        keys, usable, withheld, canceled, retracted, watched, watched_claim, withdrawn_claim, withdrawn_deployment,
        withdrawn_incident, partly_claim, bare_claim, bare_deployment, bare_incident, bare_actor, settled,
    )  # fmt: skip


@dataclasses.dataclass
class Reader:
    """One principal's tab on the explorer."""

    page: Page
    base: str
    principal: str
    key: str | None

    def open(self, view: str, ready: str) -> None:
        """Opens ``#<view>`` and waits for ``ready``; with a key, enters it as a reader would (the
        page keeps it in memory only), which shows the view again under that key."""
        self.page.goto(f"{self.base}/explore#{view}")
        self.settle(ready)
        if self.key:
            self.page.fill("#key-input", self.key)
            self.page.click("#key button[type=submit]")  # routes again at once: main is redrawn
            self.settle(ready)

    def go(self, view: str, ready: str) -> None:
        """Follows an in-page link to ``#<view>`` (the key stays in use); ``ready`` must name
        something only the new view has."""
        self.page.evaluate("(view) => { location.hash = view; }", view)
        self.settle(ready)

    def open_article(self, article: dict[str, Any], fact: str | None = None) -> None:
        self.open(f"/article/{article['id']}" + (f"?fact={fact}" if fact else ""), ".article-head h1")
        self.page.wait_for_selector('.live[data-live="on"]')  # and the re-read on connecting is done

    def settle(self, ready: str) -> None:
        """Waits for ``ready`` in the shown view, or for the view's error, which fails the test at once."""
        self.page.wait_for_selector(f"main:not([aria-busy]) :is({ready}), main .error")
        self.page.wait_for_selector("main:not([aria-busy])")
        assert self.page.locator("main .error").count() == 0, self.page.inner_text("main")

    def text(self, selector: str = "main") -> str:
        return self.page.inner_text(selector)

    def card(self, fact_id: str) -> Any:
        """Opens the fact's card from the list of facts (its passage may not be shown)."""
        self.page.click(f'.fact-item[data-fact-id="{fact_id}"]')
        card = self.page.locator(f'.card[data-fact-id="{fact_id}"]')
        card.wait_for()
        return card

    def shot(self, name: str, *, full_page: bool = True) -> None:
        """Keeps a screenshot; and no view may show a value the code failed to format."""
        assert not re.search(r"\b(null|undefined|NaN)\b|\[object Object\]", self.page.inner_text("body")), name
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=full_page)


@pytest.fixture
def reader(request: pytest.FixtureRequest, corpus: Corpus, server: LiveServer, tabs: Tabs) -> Iterator[Reader]:
    """A fresh tab for the principal the test is parametrised with (anonymous by default); no
    request may leave it for another host, and nothing in it may throw or log an error."""
    principal = getattr(request, "param", "anonymous")
    tab = tabs.open(server.url)
    yield Reader(tab.page, server.url, principal, corpus.keys.get(principal))
    assert tab.blocked == [], "the page tried to reach another host"
    assert tab.errors == [], "the page threw or logged errors"


def _fact_ids(page: Page) -> set[str]:
    return set(page.eval_on_selector_all(".fact-item", "items => items.map((i) => i.dataset.factId)"))


def _assert_no_withheld_words(text: str) -> None:
    for words in WITHHELD_WORDS:
        assert words not in text, f"the withheld article's words are on the page: {words!r}"


def test_reproduction_2_an_anonymous_reader_gets_the_list_and_a_stub_once_an_article_is_withheld(
    reader: Reader, corpus: Corpus
) -> None:
    reader.open("/", ".results li")
    page = reader.page
    assert "Could not load" not in reader.text()
    shown = page.locator(".results li").count()
    assert page.locator(".count").inner_text() == f"{shown} articles"
    usable = page.locator(f'.results li[data-article-id="{corpus.usable["id"]}"]')
    assert usable.locator("h2").inner_text() == "Ferries to resume"
    assert "Harbour officials in Portvale" in usable.locator(".snippet").inner_text()
    stub = page.locator(f'.results li.stub[data-article-id="{corpus.withheld["id"]}"]')
    assert stub.locator("h2").inner_text() == "Withheld article"
    assert "withheld it: its headline and text are not shown" in stub.inner_text()
    canceled = page.locator(f'.results li.stub[data-article-id="{corpus.canceled["id"]}"]')
    assert canceled.locator("h2").inner_text() == "Canceled article"
    _assert_no_withheld_words(reader.text())
    reader.shot("recall-list-anonymous")

    stub.locator("h2 a").click()
    reader.settle(".recall-notice")
    assert page.locator(".article-head h1").inner_text() == "Withheld article"
    assert "This article is withheld." in page.locator(".recall-notice").inner_text()


@pytest.mark.parametrize("reader", ["anonymous", "read"], indirect=True)
def test_a_stub_says_the_article_is_withheld_and_lists_only_facts_other_articles_support(
    reader: Reader, corpus: Corpus
) -> None:
    reader.open_article(corpus.withheld)
    page = reader.page
    assert page.locator(".article-head h1").inner_text() == "Withheld article"
    notice = page.locator(".recall-notice").inner_text()
    assert "This article is withheld." in notice and "until further notice" in notice
    assert "headline, text, authors, subjects and links are not shown" in notice
    assert "Portvale Gazette" in page.locator(".article-head .meta").inner_text(), "the stub keeps its outlet"
    assert "cannot be highlighted" in page.locator(".no-text").inner_text()
    assert page.locator("#article-body mark").count() == 0
    # The withdrawn claim, deployment and incident are absent; the partly withdrawn claim stays.
    assert _fact_ids(page) == {corpus.partly_claim["id"]}
    item = page.locator(f'.fact-item[data-fact-id="{corpus.partly_claim["id"]}"]')
    assert item.locator(".badge.sourcing").inner_text() == "partly withdrawn"
    card = reader.card(corpus.partly_claim["id"])
    assert card.locator(".statement").inner_text() == "Officials expect the ferries back."
    assert "cannot be highlighted" in card.locator(".no-passage").inner_text()
    assert card.locator(".card-refs").count() == 0, "no passage of the withheld text is quoted"
    elsewhere = card.locator(".cited-elsewhere a")
    assert elsewhere.all_inner_texts() == ["Ferries to resume"]
    _assert_no_withheld_words(reader.text())
    reader.shot(f"stub-article-{reader.principal}")
    if reader.principal == "anonymous":
        page.set_viewport_size({"width": 390, "height": 844})  # a phone: the card is a sheet
        reader.shot("stub-article-phone", full_page=False)  # as the phone shows it: the sheet at the bottom
        page.set_viewport_size({"width": 1280, "height": 800})

    # As of a time after the recall: still the stub (a recall takes the words down from every time).
    page.fill("#as-of", corpus.settled_at.strftime("%Y-%m-%dT%H:%M:%S"))
    wait_until(corpus.settled_at)
    page.click(".as-of button[type=submit]")
    page.wait_for_selector(".as-of-banner:not([hidden])")
    assert "cannot be highlighted" in page.locator(".no-text").inner_text()
    _assert_no_withheld_words(reader.text())

    # The partly withdrawn claim's link leads to the usable article, opened on the claim.
    page.click(".as-of button.secondary")  # Now
    reader.card(corpus.partly_claim["id"]).locator(".cited-elsewhere a").click()
    page.wait_for_selector(f'mark.is-selected[data-fact-id="{corpus.partly_claim["id"]}"]')
    assert page.locator(".article-head h1").inner_text() == "Ferries to resume"


@pytest.mark.parametrize("reader", ["anonymous", "read"], indirect=True)
def test_a_fact_the_reader_may_not_see_is_named_plainly(reader: Reader, corpus: Corpus) -> None:
    reader.open_article(corpus.withheld, fact=corpus.withdrawn_claim["id"])
    slot = reader.text(".card-slot")
    assert "This fact is not shown" in slot and "not available to you" in slot
    assert corpus.withdrawn_claim["statement"] not in reader.text()
    # Its speaker's page lists none of it.
    reader.go(f"/actor/{corpus.bare_actor['id']}", ".actor-page h1")
    assert "Claims made (0)" in reader.text()
    assert corpus.withdrawn_claim["statement"] not in reader.text()


@pytest.mark.parametrize("reader", ["write"], indirect=True)
def test_a_write_key_sees_the_withheld_article_in_full_and_what_is_withdrawn(reader: Reader, corpus: Corpus) -> None:
    reader.open_article(corpus.withheld)
    page = reader.page
    assert page.locator(".article-head h1").inner_text() == WITHHELD_HEADLINE
    assert page.locator(".article-head .meta .badge.withheld").inner_text() == "withheld"
    assert "You see it in full because your key can write" in page.locator(".recall-notice").inner_text()
    assert page.locator("#article-body").inner_text() == WITHHELD_BODY
    withdrawn = [corpus.withdrawn_claim["id"], corpus.withdrawn_deployment["id"], corpus.withdrawn_incident["id"]]
    assert _fact_ids(page) == {*withdrawn, corpus.partly_claim["id"]}
    for fact_id in withdrawn:
        item = page.locator(f'.fact-item[data-fact-id="{fact_id}"]')
        assert item.locator(".badge.sourcing.withdrawn").inner_text() == "withdrawn", fact_id
        assert page.locator(f'mark.is-withdrawn[data-fact-id="{fact_id}"]').count() >= 1, fact_id
    item = page.locator(f'.fact-item[data-fact-id="{corpus.partly_claim["id"]}"]')
    assert item.locator(".badge.sourcing").inner_text() == "partly withdrawn"

    page.click(f'mark[data-fact-id="{corpus.withdrawn_claim["id"]}"]')
    card = page.locator(f'.card[data-fact-id="{corpus.withdrawn_claim["id"]}"]')
    assert card.locator(".badge.sourcing.withdrawn").count() == 1
    assert "anonymous readers do not see it" in card.locator(".sourcing-note").inner_text()
    assert card.locator(".card-refs").inner_text() == "“the ferries would run again on Friday”"
    assert "Portvale Harbour Board" in card.locator('[data-field="speaker"]').inner_text()
    reader.shot("withheld-article-write")
    card = reader.card(corpus.withdrawn_deployment["id"])
    assert card.locator(".badge.sourcing.withdrawn").count() == 1
    assert "None listed." in card.inner_text(), "a deployment with no assets says so"
    card = reader.card(corpus.withdrawn_incident["id"])
    assert card.locator(".statement").inner_text() == "protest"
    card = reader.card(corpus.partly_claim["id"])
    assert card.locator(".cited-elsewhere").inner_text() == "Ferries to resume"

    # The API refuses a new reference into a withheld article: the selection bar says so first.
    select_phrase(page, "promised that")
    bar = page.locator(".selection-bar")
    expect(bar).to_contain_text("New claims cannot cite a withheld article.")
    assert page.locator("#new-claim").count() == 0

    # The speaker's page lists the withdrawn claim, marked.
    reader.go(f"/actor/{corpus.bare_actor['id']}", ".actor-page h1")
    assert "Claims made (1)" in reader.text()
    line = page.locator(".actor-section li", has_text=corpus.withdrawn_claim["statement"])
    assert line.locator(".badge.sourcing.withdrawn").inner_text() == "withdrawn"


@pytest.mark.parametrize("reader", PRINCIPALS, indirect=True)
def test_facts_with_every_optional_field_null_read_plainly(reader: Reader, corpus: Corpus) -> None:
    reader.open_article(corpus.usable)
    page = reader.page
    expected = {
        corpus.bare_claim["id"],
        corpus.bare_deployment["id"],
        corpus.bare_incident["id"],
        corpus.partly_claim["id"],
    }
    asset = corpus.bare_deployment["assets"][0]["id"]
    assert _fact_ids(page) == {*expected, asset}
    for fact_id in (*expected, asset):
        assert page.locator(f'#article-body mark[data-fact-id="{fact_id}"]').count() >= 1, fact_id

    card = reader.card(corpus.bare_claim["id"])
    assert card.locator(".statement").inner_text() == "The ferry service will resume."
    assert card.locator(".quote").count() == 0
    assert card.locator('[data-field="speaker"]').inner_text() == "—", "no speaker given is not an unnamed source"
    assert card.locator('[data-field="reportedBy"]').inner_text() == "—"
    assert card.locator('[data-field="subjects"]').inner_text() == "—"
    assert card.locator(".badge.sourcing").count() == 0, "all its sources stand"
    assert "Claimed on" not in card.inner_text()
    reader.shot(f"null-facts-{reader.principal}")

    card = reader.card(corpus.bare_deployment["id"])
    assert card.locator('[data-field="status"]').inner_text() == "announced"
    assert page.locator(f'.fact-item[data-fact-id="{corpus.bare_deployment["id"]}"] .summary').inner_text() == (
        "Deployment (announced)"
    )
    for absent in ("Deployed by", "Region", "Stated purpose", "From", "Until"):
        assert absent not in card.locator(".card-facts").inner_text(), absent
    assert card.locator(".assets").inner_text() == "troops — number not stated"
    if reader.principal == "anonymous":
        reader.shot("null-facts-deployment-card")

    card = reader.card(asset)
    assert card.locator(".quantity").inner_text() == "troops — number not stated"
    assert "Name" not in card.locator(".card-facts").first.inner_text()
    if reader.principal == "anonymous":
        reader.shot("null-facts-asset-card")

    card = reader.card(corpus.bare_incident["id"])
    assert card.locator(".statement").inner_text() == "strike"
    assert card.locator(".quantity").count() == 0
    assert card.locator(".card-facts dt").all_inner_texts() == ["Type"]
    if reader.principal == "anonymous":
        reader.shot("null-facts-incident-card")

    card = reader.card(corpus.partly_claim["id"])
    assert card.locator(".badge.sourcing").inner_text() == "partly withdrawn"
    assert card.locator(".card-refs").inner_text() == "“Harbour officials in Portvale said”"
    if reader.principal == "write":
        assert card.locator(".cited-elsewhere li").inner_text() == f"{WITHHELD_HEADLINE} withheld"
    else:
        # The API gives them no reference into the withheld article (its quote is its words): the
        # card names no other article, and its badge says that some source is gone.
        assert card.locator(".cited-elsewhere").count() == 0
        _assert_no_withheld_words(reader.text())


@pytest.mark.parametrize("reader", PRINCIPALS, indirect=True)
def test_an_actor_with_no_roles_aliases_or_description_reads_plainly(reader: Reader, corpus: Corpus) -> None:
    reader.open(f"/actor/{corpus.bare_actor['id']}", ".actor-page h1")
    page = reader.page
    assert page.locator(".actor-page h1").inner_text() == "Portvale Harbour Board"
    assert page.locator(".actor-page .meta").inner_text() == "organization"
    assert "Roles" not in reader.text()
    sections = page.locator(".actor-section h2").all_inner_texts()
    made = 1 if reader.principal == "write" else 0
    assert sections == [f"Claims made ({made})", "Claims about them (0)", "Deployments (0)", "Incidents (0)"]
    assert page.locator(".actor-section p.muted", has_text="None.").count() == 4 - made
    reader.shot(f"bare-actor-{reader.principal}")


def test_a_retracted_article_says_so_above_its_text(reader: Reader, corpus: Corpus) -> None:
    reader.open_article(corpus.retracted)
    page = reader.page
    assert page.locator(".article-head h1").inner_text() == "Quay reopens"
    assert page.locator(".article-head .meta .badge.retracted").inner_text() == "retracted"
    assert "This article was retracted on " in page.locator(".recall-notice").inner_text()
    assert page.locator("#article-body").inner_text() == "The quay reopened."


def test_a_reader_watching_an_article_sees_it_withheld_and_released_live(reader: Reader, corpus: Corpus) -> None:
    reader.open_article(corpus.watched)
    page = reader.page
    assert _fact_ids(page) == {corpus.watched_claim["id"]}
    with httpx.Client(base_url=reader.base, headers=bearer(corpus.keys["write"]), timeout=10) as write:
        _recall(write, corpus.watched, "withheld")
        page.wait_for_selector(".article-head h1.stub-title")
        assert page.locator(".article-head h1").inner_text() == "Withheld article"
        expect(page.locator(".fact-item")).to_have_count(0)
        assert "No facts you can see cite this article." in reader.text(".fact-list")
        assert "Storm warnings" not in reader.text()
        # The article's event and its claim's sourcing_changed are handled concurrently: either is last.
        expect(page.locator("#notice")).to_contain_text(re.compile(r"Article withheld\.|Claim withdrawn: "))
        _recall(write, corpus.watched, "usable")
        page.wait_for_selector(".article-head h1:not(.stub-title)")
        assert page.locator(".article-head h1").inner_text() == "Storm closes the quay"
        expect(page.locator(".fact-item")).to_have_count(1)
        assert page.locator(".recall-notice").count() == 0
