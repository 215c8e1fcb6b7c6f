"""/docs, the REST reference, in a real browser with every other host blocked: descriptions render
their Markdown (code spans, not raw backticks), each GET's "Try it" inputs are wide enough to type
in, and trying GET /v1/claims/{id} shows the claim. Screenshots go to tests/artifacts/newcomer/."""

from __future__ import annotations

import pytest

from tests.api.browser import Tabs
from tests.services import LiveServer

CANDY = "clm_01K8B1E4EJJ4YDVT3E4602WPWC"
pytestmark = pytest.mark.timeout(60)


def test_descriptions_render_markdown_and_try_it_works(server: LiveServer, tabs: Tabs) -> None:
    tab = tabs.open(server.url)
    page = tab.page
    page.goto(server.url + "/docs#get-v1-claims-id-")
    page.wait_for_selector("#get-v1-claims-id- form.try")
    # Backticks became code elements: none is left in any rendered description.
    raw = page.eval_on_selector_all(".md", "nodes => nodes.map(n => n.innerText).filter(t => t.includes('`'))")
    assert raw == []
    assert page.eval_on_selector_all(".md code", "nodes => nodes.map(n => n.innerText)").count("format=ndjson") >= 5
    # The inputs have room (they were squeezed into a table column of about 30 px).
    widths = page.eval_on_selector_all(
        "form.try input, form.try select", "nodes => nodes.map(n => n.getBoundingClientRect().width)"
    )
    assert len(widths) > 50 and min(widths) >= 150, sorted(widths)[:5]
    # And nothing sticks out sideways: the page does not scroll horizontally.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    section = page.locator("#get-v1-claims-id-")
    section.locator("input[name=id]").fill(CANDY)
    section.locator("select[name=format]").select_option("jsonld")
    section.get_by_role("button", name="Try it").click()
    output = section.locator("form.try pre")
    output.wait_for(state="visible")
    text = output.inner_text()
    assert text.startswith("200 OK") and "application/ld+json" in text and "everything is on the table" in text
    section.scroll_into_view_if_needed()
    tab.shot("docs-try-it")
    assert tab.blocked == [] and tab.errors == []
