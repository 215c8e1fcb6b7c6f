"""What the explorer's browser tests do on a page as a reader would: select words in the article
body, and wait for a moment on the wall clock (the As of control is to the second)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from playwright.sync_api import Page


def select_phrase(page: Page, phrase: str) -> None:
    """Selects the first occurrence of ``phrase`` in the article body, as a reader's drag would."""
    page.evaluate(
        """(phrase) => {
        const body = document.getElementById("article-body");
        const walker = document.createTreeWalker(body, NodeFilter.SHOW_TEXT);
        for (let node = walker.nextNode(); node; node = walker.nextNode()) {
          const at = node.data.indexOf(phrase);
          if (at === -1) continue;
          const range = document.createRange();
          range.setStart(node, at);
          range.setEnd(node, at + phrase.length);
          document.getSelection().removeAllRanges();
          document.getSelection().addRange(range);
          return;
        }
        throw new Error("phrase not in one text node: " + phrase);
      }""",
        phrase,
    )


def wait_until(moment: datetime) -> None:
    delay = (moment - datetime.now(UTC)).total_seconds()
    if delay > 0:
        time.sleep(delay)
