"""Debian's headless Chromium under Playwright for the newcomer's pages (GraphiQL, /docs, a page on
another localhost origin): one browser per module, a context per test that blocks and records every
request to a host not allowed, and collects what pages throw. Screenshots go to tests/artifacts/."""

from __future__ import annotations

import asyncio
import shutil
import threading
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, Route, sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "newcomer"
TIMEOUT_MS = 5_000
T = TypeVar("T")


def run_in_thread(coro: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """asyncio.run from a fresh thread: Playwright's sync API holds an event loop on the test's."""
    out: list[T] = []
    errors: list[BaseException] = []

    def target() -> None:
        try:
            out.append(asyncio.run(coro()))
        except BaseException as exc:  # re-raised in the caller's thread
            errors.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join(timeout=30)
    if errors:
        raise errors[0]
    return out[0]


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    """Debian's headless Chromium (never a downloaded one: `make test` apt-installs it when missing)."""
    assert shutil.which("chromium") or Path(CHROMIUM).exists(), "chromium is missing: run `make test` (it installs it)"
    pw: Playwright = sync_playwright().start()
    try:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=20_000)
        try:
            yield b
        finally:
            b.close()
    finally:
        pw.stop()


@dataclass
class Tab:
    """A page whose requests may reach only ``allowed`` hosts; the rest are aborted and recorded."""

    context: BrowserContext
    page: Page
    blocked: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def shot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=False)
        return path


@dataclass
class Tabs:
    browser: Browser
    opened: list[Tab] = field(default_factory=list)

    def open(self, *allowed: str) -> Tab:
        """A fresh context and page that may talk to the hosts (host:port) of the ``allowed`` URLs."""
        hosts = {urlsplit(u).netloc for u in allowed}
        context = self.browser.new_context(viewport={"width": 1280, "height": 800}, timezone_id="UTC")
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()
        tab = Tab(context, page)

        def guard(route: Route) -> None:
            url = route.request.url
            if url.startswith(("data:", "blob:")) or urlsplit(url).netloc in hosts:
                route.continue_()
            else:
                tab.blocked.append(url)
                route.abort()

        context.route("**/*", guard)
        page.on("pageerror", lambda exc: tab.errors.append(str(exc)))
        page.on("console", lambda msg: tab.errors.append(msg.text) if msg.type == "error" else None)
        self.opened.append(tab)
        return tab


@pytest.fixture
def tabs(chromium: Browser) -> Iterator[Tabs]:
    """Browser contexts for one test, closed after it."""
    t = Tabs(chromium)
    try:
        yield t
    finally:
        for tab in t.opened:
            tab.context.close()
