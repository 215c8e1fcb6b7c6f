"""The explorer's overview (/explore/overview, issue 28) in Debian's Chromium under Playwright, every
other host blocked, over the seed plus a small varied corpus of its own (facts in the Baltic and the
Red Sea, other statuses, speakers, asset and incident types, a claim dated only to the month): its
facet counts are the API's, a facet narrows the timeline and the map, a box drawn around the
Caribbean keeps the seed's deployment only, the seed's strikes total "at least 65 killed (16
attacks)", a fact created through REST raises a count within 2 s, and the as-of control shows the
counts before a correction; once an article is withheld, an anonymous reader's overview still works and shows
none of its facts or words. Screenshots at desktop and phone widths go to tests/artifacts/overview/."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from playwright.sync_api import Page, expect

from db.pool import connect
from tests.api.browser import Tab, Tabs
from tests.api.explore_page import wait_until
from tests.api.live_events import api_key, bearer
from tests.factories import make_actor, make_article, quote_ref
from tests.services import LiveServer

pytestmark = pytest.mark.timeout(90)

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "overview"
SEED_DEPLOYMENT = "dep_01K8B1E5DS81PW7K51N7X88QBD"
SEED_INCIDENT = "inc_01K8B1E7C9EGR26T72D8JGSNDX"
SEED_ARTICLE = "art_01K8B1E3F9FPCM47JBPJSG0VT9"
DESKTOP = {"width": 1280, "height": 1000}
PHONE = {"width": 390, "height": 844}
CARIBBEAN = (-90.0, 5.0, -55.0, 30.0)  # west, south, east, north
BODY = (
    "The Baltic Fleet sent three warships to the Gulf of Riga on Wednesday. Rebels seized a tanker near Gotland. "
    "In the Red Sea, drones circled a convoy; an attack killed about four sailors. "
    "“We deny any part in it,” the rebel spokesman said. Analysts dispute the fleet's account."
)


@pytest.fixture(scope="module")
def corpus(database_url: str) -> dict[str, Any]:
    """Facts far from the Caribbean, and claims of other statuses and speakers, beside the seed."""

    async def build() -> dict[str, Any]:
        conn = await connect(database_url)
        try:
            from db import writes

            async def create(kind: str, record: dict[str, Any]) -> dict[str, Any]:
                return await writes.create(conn, kind, record, changed_by="overview test")

            fleet = await make_actor(conn, kind="government", name="Baltic Fleet")
            rebels = await make_actor(conn, kind="organization", name="Rebel Front")
            article = await make_article(
                conn, headline="Warships in the Baltic", body=BODY, publishedAt="2025-10-08T09:00:00Z"
            )
            ref = lambda text: [quote_ref(article, text)]  # noqa: E731
            baltic = await create("deployment", {
                "deployer": fleet["id"], "status": "active", "startedOn": "2025-10-08",
                "region": {"name": "Gulf of Riga", "geojson": {"type": "Point", "coordinates": [23.5, 57.5]}},
                "assets": [{"assetType": "warship", "quantity": {"amount": 3, "approximation": "exact", "unit": "warships"},
                            "references": ref("three warships")}],
                "references": ref("sent three warships to the Gulf of Riga"),
            })  # fmt: skip
            red_sea = await create("deployment", {
                "deployer": rebels["id"], "startedOn": "2025-11-02",
                "region": {"name": "Red Sea", "geojson": {"type": "Point", "coordinates": [38.5, 19.5]}},
                "assets": [{"assetType": "drone", "quantity": {"approximation": "unspecified"}, "references": ref("drones")}],
                "references": ref("drones circled a convoy"),
            })  # fmt: skip
            seizure = await create("incident", {
                "incidentType": "seizure", "occurredFrom": "2025-10-07",
                "location": {"name": "Near Gotland", "geojson": {"type": "Point", "coordinates": [18.5, 57.4]}},
                "actors": [{"actor": rebels["id"], "role": "perpetrator"}],
                "count": {"amount": 1, "approximation": "exact", "unit": "seizures"},
                "references": ref("Rebels seized a tanker near Gotland"),
            })  # fmt: skip
            attack = await create("incident", {
                "incidentType": "attack", "occurredFrom": "2025-11-03",
                "location": {"name": "Red Sea", "geojson": {"type": "Point", "coordinates": [39.0, 18.8]}},
                "fatalities": {"amount": 4, "approximation": "approximately", "unit": "people"},
                "references": ref("an attack killed about four sailors"),
            })  # fmt: skip
            denial = await create("claim", {
                "statement": "The rebels deny any part in the seizure.", "quote": "We deny any part in it",
                "quoteType": "direct", "speaker": rebels["id"], "status": "denied", "claimDate": "2025-10-08",
                "subjects": [fleet["id"]], "references": ref("We deny any part in it"),
            })  # fmt: skip
            dispute = await create("claim", {
                "statement": "Analysts dispute the fleet's account.", "quoteType": "assertion", "status": "disputed",
                "claimDate": "2025-10-01", "claimDatePrecision": "month", "subjects": [fleet["id"]],
                "references": ref("Analysts dispute the fleet's account"),
            })  # fmt: skip
            return {
                "article": article, "fleet": fleet, "rebels": rebels, "baltic": baltic, "red_sea": red_sea,
                "seizure": seizure, "attack": attack, "denial": denial, "dispute": dispute,
            }  # fmt: skip
        finally:
            await conn.close()

    return asyncio.run(build())


@pytest.fixture(scope="module")
def write_key(database_url: str) -> str:
    return asyncio.run(api_key(database_url, "write"))


@pytest.fixture(scope="module")
def live(corpus: dict[str, Any], write_key: str, server: LiveServer) -> LiveServer:
    """The server over the seed and the corpus. Tests ask for it before the browser: the database
    fixtures run asyncio.run, which Playwright's sync API (an event loop on this thread) refuses."""
    return server


@pytest.fixture
def api(live: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live.url, timeout=10) as client:
        yield client


def _open(
    live: LiveServer,
    tabs: Tabs,
    query: str = "",
    viewport: dict[str, int] = DESKTOP,
) -> Tab:
    tab = tabs.open(live.url)
    tab.page.set_viewport_size(viewport)
    tab.page.goto(f"{live.url}/explore/overview{query}")
    _loaded(tab.page)
    return tab


def _loaded(page: Page, after: int = 0) -> None:
    """Waits until the page has drawn a load later than ``after`` and is not loading another."""
    page.wait_for_function(
        "(after) => { const m = document.getElementById('main');"
        " return Number(m.dataset.loaded || 0) > after && !m.hasAttribute('aria-busy'); }",
        arg=after,
    )


def _load_number(page: Page) -> int:
    return int(page.evaluate("Number(document.getElementById('main').dataset.loaded || 0)"))


def _page_facets(page: Page, kind: str) -> dict[str, dict[str, int]]:
    result: dict[str, dict[str, int]] = page.evaluate(
        """(kind) => {
          const out = {};
          for (const fs of document.querySelectorAll(`fieldset.facet[data-facet^="${kind}."]`)) {
            const name = fs.dataset.facet.split(".")[1];
            out[name] = {};
            for (const b of fs.querySelectorAll(".bucket")) out[name][b.dataset.value] = Number(b.dataset.count);
          }
          return out;
        }""",
        kind,
    )
    return result


def _api_facets(api: httpx.Client, plural: str, names: list[str], **params: str) -> dict[str, dict[str, int]]:
    r = api.get(f"/v1/{plural}/facets", params={"facet": ",".join(names), "excludeOwnFilter": "1", **params})
    assert r.status_code == 200, r.text
    return {
        name: {b["value"]: b["count"] for b in facet["buckets"] if b["count"]}
        for name, facet in r.json()["facets"].items()
    }


def _mapped(page: Page) -> set[str]:
    return set(page.eval_on_selector_all("#mapped li", "(items) => items.map((li) => li.dataset.id)"))


def _series_total(page: Page, series: str) -> int:
    return int(
        page.eval_on_selector_all(
            f'.counts td[data-series="{series}"]', "(cells) => cells.reduce((n, c) => n + Number(c.textContent), 0)"
        )
    )


def _clean(tab: Tab) -> None:
    assert not tab.blocked, f"requests to other hosts: {tab.blocked}"
    assert not tab.errors, f"page errors: {tab.errors}"


CLAIM_FACETS = ["status", "quoteType", "speaker", "subjects", "sourcing"]


def test_facet_counts_on_the_page_are_the_apis(
    live: LiveServer,
    tabs: Tabs,
    api: httpx.Client,
) -> None:
    tab = _open(live, tabs)
    page = _page_facets(tab.page, "claim")
    expected = _api_facets(api, "claims", CLAIM_FACETS)
    assert {k: v for k, v in page.items() if v} == {k: v for k, v in expected.items() if v}
    assert page["status"]["denied"] == 1 and page["status"]["disputed"] == 1
    # Choose two statuses (multi-select): the other facets count only those claims, the status
    # facet still counts every status (excludeOwnFilter), and the URL holds the choice.
    before = _load_number(tab.page)
    tab.page.get_by_label("denied").check()
    _loaded(tab.page, before)
    before = _load_number(tab.page)
    tab.page.get_by_label("disputed").check()
    _loaded(tab.page, before)
    query = parse_qs(urlsplit(tab.page.url).query)
    assert sorted(query["claim.status"][0].split(",")) == ["denied", "disputed"]
    page = _page_facets(tab.page, "claim")
    expected = _api_facets(api, "claims", CLAIM_FACETS, statusIn="denied,disputed")
    assert {k: v for k, v in page.items() if v} == {k: v for k, v in expected.items() if v}
    assert sum(page["quoteType"].values()) == 2
    assert page["status"] == _api_facets(api, "claims", ["status"])["status"]
    for kind, plural, names in (
        ("deployment", "deployments", ["assetType", "deployer"]),
        ("incident", "incidents", ["incidentType"]),
    ):
        got = {k: v for k, v in _page_facets(tab.page, kind).items() if v}
        assert got == {k: v for k, v in _api_facets(api, plural, names).items() if v}, kind
    # A shared view: the same URL in a fresh tab shows the same choice, checked.
    again = _open(live, tabs, "?" + urlsplit(tab.page.url).query)
    expect(again.page.get_by_label("denied")).to_be_checked()
    assert _page_facets(again.page, "claim") == page
    _clean(tab)
    _clean(again)


def test_a_facet_narrows_the_timeline_and_the_map(
    live: LiveServer,
    tabs: Tabs,
    corpus: dict[str, Any],
) -> None:
    tab = _open(live, tabs)
    assert _series_total(tab.page, "incidents") == 3  # by month, the seed's strikes (known to the month) too
    expect(tab.page.locator('#imprecise [data-imprecise="incidents"]')).to_have_count(0)  # month buckets
    assert {SEED_DEPLOYMENT, corpus["baltic"]["id"], corpus["seizure"]["id"], corpus["attack"]["id"]} <= _mapped(
        tab.page
    )
    before = _load_number(tab.page)
    tab.page.get_by_label("seizure").check()
    _loaded(tab.page, before)
    assert _series_total(tab.page, "incidents") == 1
    mapped = _mapped(tab.page)
    assert corpus["seizure"]["id"] in mapped and corpus["attack"]["id"] not in mapped
    assert SEED_DEPLOYMENT in mapped  # an incident type does not narrow deployments
    # By day, the seed's strikes (dated to the month) are said in words, not put on a day.
    before = _load_number(tab.page)
    tab.page.get_by_label("seizure").uncheck()
    _loaded(tab.page, before)
    before = _load_number(tab.page)
    tab.page.get_by_label("day", exact=True).check()
    _loaded(tab.page, before)
    expect(tab.page.locator('#imprecise [data-imprecise="incidents"]')).to_have_text(
        "1 more incident known only to the month"
    )
    expect(tab.page.locator('#imprecise [data-imprecise="claims"]')).to_contain_text("known only to the month")
    _clean(tab)


def test_brushing_a_month_of_the_timeline_narrows_the_other_panels(
    live: LiveServer,
    tabs: Tabs,
    corpus: dict[str, Any],
    api: httpx.Client,
) -> None:
    tab = _open(live, tabs)
    box = tab.page.evaluate(
        """() => {
          const g = [...document.querySelectorAll("svg.chart g.bucket")]
            .find((b) => b.querySelector("title").textContent.startsWith("Oct 2025"));
          const r = g.getBoundingClientRect();
          return [r.left + r.width / 2, r.top + r.height / 2, r.width];
        }"""
    )
    x, y, width = box
    before = _load_number(tab.page)
    tab.page.mouse.move(x - width / 4, y)
    tab.page.mouse.down()
    tab.page.mouse.move(x + width / 4, y, steps=3)
    tab.page.mouse.up()
    _loaded(tab.page, before)
    query = parse_qs(urlsplit(tab.page.url).query)
    assert (query["from"], query["to"]) == (["2025-10-01"], ["2025-10-31"])
    expected = _api_facets(api, "claims", CLAIM_FACETS, claimDateFrom="2025-10-01", claimDateTo="2025-10-31")
    assert {k: v for k, v in _page_facets(tab.page, "claim").items() if v} == {k: v for k, v in expected.items() if v}
    mapped = _mapped(tab.page)
    assert corpus["baltic"]["id"] in mapped and corpus["seizure"]["id"] in mapped
    assert not mapped & {corpus["red_sea"]["id"], corpus["attack"]["id"]}, "November's facts are left out"
    assert _series_total(tab.page, "incidents") == 3, "the timeline itself still shows every date"
    _clean(tab)


def _caribbean_drag(page: Page) -> None:
    """Drags across the Caribbean on the map at its first zoom, as a reader's mouse would."""
    page.locator("svg.map").scroll_into_view_if_needed()
    corners = page.evaluate(
        """(box) => {
          const svg = document.querySelector("svg.map");
          // The map's first view (overview-map.js): the whole sphere fitted, centred on 0°, 15°N.
          const fitted = d3.geoNaturalEarth1().fitExtent([[4, 4], [956, 496]], { type: "Sphere" });
          const p = d3.geoNaturalEarth1().scale(fitted.scale()).center([0, 15]).translate([480, 250]);
          const r = svg.getBoundingClientRect();
          const at = ([lon, lat]) => { const [x, y] = p([lon, lat]); return [r.left + x * r.width / 960, r.top + y * r.height / 500]; };
          return [at([box[0], box[3]]), at([box[2], box[1]])];
        }""",
        list(CARIBBEAN),
    )
    (x0, y0), (x1, y1) = corners
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move((x0 + x1) / 2, (y0 + y1) / 2, steps=4)
    page.mouse.move(x1, y1, steps=4)
    page.mouse.up()


def test_a_box_drawn_around_the_caribbean_keeps_the_seed_deployment_only(
    live: LiveServer,
    tabs: Tabs,
    corpus: dict[str, Any],
    api: httpx.Client,
) -> None:
    tab = _open(live, tabs)
    before = _load_number(tab.page)
    _caribbean_drag(tab.page)
    _loaded(tab.page, before)
    bbox = [float(v) for v in parse_qs(urlsplit(tab.page.url).query)["bbox"][0].split(",")]
    assert bbox[0] == pytest.approx(CARIBBEAN[0], abs=0.5) and bbox[3] == pytest.approx(CARIBBEAN[3], abs=0.5)
    mapped = _mapped(tab.page)
    assert SEED_DEPLOYMENT in mapped
    assert not mapped & {corpus[k]["id"] for k in ("baltic", "red_sea", "seizure", "attack")}
    # The other panels are narrowed too: the deployments' facets and totals count the one left.
    assert (
        _page_facets(tab.page, "deployment")["assetType"]
        == _api_facets(api, "deployments", ["assetType"], bbox=",".join(map(str, bbox)))["assetType"]
    )
    expect(tab.page.locator('[data-total="deployments"] strong')).to_have_text("1 deployment")
    expect(tab.page.locator('[data-total="incidents"] strong')).to_have_text("0 incidents")
    _clean(tab)


def test_the_totals_read_as_the_cards_read_quantities(live: LiveServer, tabs: Tabs) -> None:
    tab = _open(live, tabs, "?incident.incidentType=strike")
    expect(tab.page.locator('[data-total="incidents"]')).to_have_text("1 incident: at least 65 killed (16 attacks)")
    deployments = tab.page.locator('[data-total="deployments"]')
    expect(deployments).to_contain_text("≈ 10,000 personnel")
    expect(deployments).to_contain_text(
        re.compile(r"plus (drones and fighter jets|fighter jets and drones) of unstated number")
    )
    _clean(tab)


def test_a_fact_created_through_rest_raises_a_count_within_two_seconds(
    live: LiveServer,
    tabs: Tabs,
    corpus: dict[str, Any],
    write_key: str,
    api: httpx.Client,
) -> None:
    tab = _open(live, tabs)
    expect(tab.page.locator(".live")).to_have_attribute("data-live", "on")
    count = tab.page.locator('[data-facet="claim.status"] [data-value="corroborated"]')
    before = count.get_attribute("data-count") if count.count() else "0"
    r = api.post(
        "/v1/claims",
        json={
            "statement": "The fleet's account is corroborated.",
            "quoteType": "assertion",
            "status": "corroborated",
            "references": [quote_ref(corpus["article"], "Analysts dispute the fleet's account")],
        },
        headers=bearer(write_key),
    )
    assert r.status_code == 201, r.text
    expect(count).to_have_attribute("data-count", str(int(before or 0) + 1), timeout=2_000)
    _clean(tab)


def test_the_as_of_control_shows_the_counts_before_a_correction(
    live: LiveServer,
    tabs: Tabs,
    corpus: dict[str, Any],
    write_key: str,
    api: httpx.Client,
) -> None:
    # The As of control is to the second: the moment before the correction is a whole second.
    moment = (datetime.now(UTC) + timedelta(seconds=1)).replace(microsecond=0)
    wait_until(moment + timedelta(milliseconds=200))
    earlier = _api_facets(api, "claims", ["status"], asOf=moment.isoformat())["status"]
    r = api.post(
        f"/v1/claims/{corpus['denial']['id']}/corrections",
        json={"changes": {"status": "retracted"}, "reason": "the rebels withdrew the denial"},
        headers=bearer(write_key),
    )
    assert r.status_code == 200, r.text
    tab = _open(live, tabs)
    now = _page_facets(tab.page, "claim")["status"]
    assert now.get("denied", 0) == earlier["denied"] - 1 and now["retracted"] == earlier.get("retracted", 0) + 1
    before = _load_number(tab.page)
    tab.page.get_by_label("As of (UTC)").fill(moment.strftime("%Y-%m-%dT%H:%M:%S"))
    tab.page.get_by_role("button", name="Show").click()
    _loaded(tab.page, before)
    assert _page_facets(tab.page, "claim")["status"] == earlier
    expect(tab.page.locator(".as-of-banner")).to_be_visible()
    assert "asOf=" in tab.page.url
    _clean(tab)


def test_a_point_opens_its_fact_and_from_it_the_article_with_the_span_highlighted(
    live: LiveServer,
    tabs: Tabs,
) -> None:
    tab = _open(live, tabs, "?bbox=-90,5,-55,30")
    tab.page.locator(f'svg.map .mark[data-id="{SEED_DEPLOYMENT}"]').click()
    card = tab.page.locator("#overview-card")
    expect(card).to_contain_text("Caribbean")
    link = card.locator("a.open-article")
    expect(link).to_have_attribute("href", f"/explore#/article/{SEED_ARTICLE}?fact={SEED_DEPLOYMENT}")
    link.click()
    expect(tab.page.locator("mark.fact.is-selected").first).to_be_visible()
    _clean(tab)


def test_nearby_points_cluster_at_low_zoom_and_part_when_zoomed_in(
    live: LiveServer, tabs: Tabs, corpus: dict[str, Any]
) -> None:
    tab = _open(live, tabs)
    baltic, seizure = corpus["baltic"]["id"], corpus["seizure"]["id"]
    marks = tab.page.locator("svg.map .mark")
    expect(marks.locator("xpath=self::*[@data-id]")).to_have_count(1)  # only the Caribbean stands alone
    assert tab.page.locator(f'svg.map .mark[data-id="{baltic}"]').count() == 0
    # Clusters come in the order of their first fact: the Baltic deployment before the Red Sea one.
    tab.page.locator("svg.map .mark.cluster").first.click()
    expect(tab.page.locator(f'svg.map .mark[data-id="{baltic}"]')).to_have_count(1)
    expect(tab.page.locator(f'svg.map .mark[data-id="{seizure}"]')).to_have_count(1)
    _clean(tab)


def test_keyboard_alone_chooses_a_facet_and_the_map_lists_its_facts(live: LiveServer, tabs: Tabs) -> None:
    tab = _open(live, tabs)
    box = tab.page.get_by_label("seizure")
    box.focus()
    before = _load_number(tab.page)
    tab.page.keyboard.press("Space")
    _loaded(tab.page, before)
    assert "incident.incidentType=seizure" in tab.page.url
    tab.page.locator("summary", has_text="List of the mapped facts").focus()
    tab.page.keyboard.press("Enter")
    expect(tab.page.locator("#mapped")).to_be_visible()
    _clean(tab)


def test_screenshots_at_desktop_and_phone_widths(live: LiveServer, tabs: Tabs) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    desktop = _open(live, tabs, "?interval=month")
    time.sleep(0.3)  # the outlines arrive after the counts
    desktop.page.wait_for_selector("svg.map path.countries")
    desktop.page.screenshot(path=str(ARTIFACTS / "overview-desktop.png"), full_page=True)
    phone = _open(live, tabs, viewport=PHONE)
    phone.page.wait_for_selector("svg.map path.countries")
    phone.page.screenshot(path=str(ARTIFACTS / "overview-phone.png"), full_page=True)
    for name in ("totals", "timeline", "map"):
        section = phone.page.locator(f"#{name}-h").locator("xpath=..")
        section.screenshot(path=str(ARTIFACTS / f"overview-phone-{name}.png"))
    # At phone width the panels stack: the filters above the totals, both as wide as the page.
    filters = phone.page.locator(".facets-panel").bounding_box()
    totals = phone.page.locator("#totals").bounding_box()
    assert filters and totals and totals["y"] > filters["y"] + filters["height"] - 1
    width = phone.page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], "nothing overflows sideways"
    _clean(desktop)
    _clean(phone)


def test_a_withheld_article_leaves_the_overview_whole_and_none_of_its_words_shown(
    live: LiveServer,
    tabs: Tabs,
    corpus: dict[str, Any],
    write_key: str,
    api: httpx.Client,
) -> None:
    # Last in the module: it recalls the corpus's article for good.
    baltic, article = corpus["baltic"]["id"], corpus["article"]["id"]
    before = _open(live, tabs).page
    assert baltic in _mapped(before)
    assert "Gulf of Riga" in before.content()  # the deployment's region, in the list of mapped facts
    r = api.patch(f"/v1/articles/{article}", json={"pubStatus": "withheld"}, headers=bearer(write_key))
    assert r.status_code == 200, r.text
    tab = _open(live, tabs)
    # The facts drawn only from it leave every panel for an anonymous reader, who still gets the
    # rest: the counts stay the API's, and no word of the body reaches the page.
    assert baltic not in _mapped(tab.page)
    assert SEED_DEPLOYMENT in _mapped(tab.page)
    page = _page_facets(tab.page, "claim")
    assert {k: v for k, v in page.items() if v} == {
        k: v for k, v in _api_facets(api, "claims", CLAIM_FACETS).items() if v
    }
    shown = tab.page.content()
    for words in ("Gulf of Riga", "We deny any part in it", "Rebels seized a tanker"):
        assert words not in shown, words
    _clean(tab)
