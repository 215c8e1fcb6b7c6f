"""The site builds with `mkdocs build --strict` and zero warnings (a broken link or anchor fails
it), loads nothing from another host, and every page is within two clicks of the home page."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest

from db.kinds import EVENT_TYPES

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(180)
# Attributes through which a page loads something (as opposed to <a href>, which only links).
LOADS = {("script", "src"), ("img", "src"), ("iframe", "src"), ("source", "src"), ("source", "srcset"),
         ("video", "src"), ("audio", "src"), ("embed", "src"), ("object", "data"), ("link", "href")}  # fmt: skip
# <link rel> values that name a document rather than load one.
LINK_ONLY = {"canonical", "prev", "next", "alternate", "author", "license", "search"}


class Page(HTMLParser):
    """What one built page loads and links to, and the links of its article (the content, without
    the navigation Material puts around it)."""

    def __init__(self) -> None:
        super().__init__()
        self.loads: list[str] = []
        self.links: list[str] = []
        self.article_links: list[str] = []
        self.classes: list[str] = []
        self.depth = 0  # inside <article> when > 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        self.classes += values.get("class", "").split()
        if tag == "article":
            self.depth += 1
        for name, value in values.items():
            if (tag, name) in LOADS and not (tag == "link" and set(values.get("rel", "").split()) & LINK_ONLY):
                self.loads.append(value)
        if tag == "a" and "href" in values:
            self.links.append(values["href"])
            if self.depth:
                self.article_links.append(values["href"])
        if "style" in values:
            self.loads += re.findall(r"url\(([^)]*)\)", values["style"])

    def handle_endtag(self, tag: str) -> None:
        if tag == "article":
            self.depth -= 1


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The site, built as `make docs` builds it, into a folder of this module's."""
    folder = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}  # Material's end-of-life banner is no warning of ours
    built = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(folder)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=150,
    )  # fmt: skip
    log = built.stdout + built.stderr
    assert built.returncode == 0, log[-5000:]
    assert "WARNING" not in log, log[-5000:]
    yield folder


def parse(path: Path) -> Page:
    page = Page()
    page.feed(path.read_text())
    return page


def external(url: str) -> bool:
    return bool(urlsplit(url.strip()).netloc) or url.strip().startswith("//")


def test_the_site_loads_nothing_from_another_host(site: Path) -> None:
    found = {}
    for html in site.rglob("*.html"):
        page = parse(html)
        outside = [u for u in page.loads if external(u)]
        # Material loads mermaid from a CDN only for a diagram, and repository facts from GitHub only
        # when repo_url is set: neither may appear.
        outside += [c for c in page.classes if c in {"mermaid", "md-source"}]
        if outside:
            found[str(html.relative_to(site))] = outside
    for css in site.rglob("*.css"):
        outside = [u for u in re.findall(r"(?:url\(|@import\s+)[\"']?([^\"')\s]+)", css.read_text()) if external(u)]
        if outside:
            found[str(css.relative_to(site))] = outside
    assert found == {}
    assert "fonts.googleapis.com" not in (site / "index.html").read_text()


def test_every_page_is_within_two_clicks_of_the_home_page(site: Path) -> None:
    pages = {p.relative_to(site).as_posix() for p in site.rglob("*.html")} - {"404.html"}

    def targets(page: str) -> set[str]:
        found = set()
        for href in parse(site / page).article_links:
            if external(href) or href.startswith("#"):
                continue
            target = urlsplit(urljoin(page, href)).path
            if target in pages:
                found.add(target)
        return found

    one = targets("index.html")
    two = set().union(*(targets(p) for p in one))
    assert sorted(pages - {"index.html"} - one - two) == []


def test_the_readme_links_to_files_that_exist() -> None:
    # The README is outside the site (mkdocs does not check it): its map of the pages must not rot.
    readme = (ROOT / "README.md").read_text()
    targets = [t.split("#")[0] for t in re.findall(r"\]\(([^)\s]+)\)", readme) if not external(t)]
    assert len(targets) > 40
    assert [t for t in targets if not (ROOT / t).exists()] == []


def test_the_webhooks_page_lists_every_event_type(site: Path) -> None:
    page = (site / "webhooks" / "index.html").read_text()
    assert [t for t in EVENT_TYPES if f"<code>{t}</code>" not in page] == []
