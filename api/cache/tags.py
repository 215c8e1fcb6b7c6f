"""What a cached response depends on: every fact id it contains, and the list families it shows."""

from __future__ import annotations

import re

from db.ids import id_type
from db.kinds import RECALL_KINDS, SOURCED

_ID = re.compile(rb'"((?:act|art|clm|dep|inc)_[0-9A-HJKMNP-TV-Z]{26})"')

# Every entry showing a claim, deployment or incident (or a list of them) also depends on whether
# the articles they quote are readable: an article's recall or release adds or removes references
# into it for read-scope callers (0016) — with no event of the fact when its sourcing stays the same
# (a retracted fact, one already partly withdrawn), and a reference left out leaves no id in the
# entry to tag it by. Recalls are rare, so each one drops every such entry.
QUOTES_TAG = "quotes"
_RECALLS = frozenset(f"article.{change}" for change in RECALL_KINDS)


def ids_in(body: bytes) -> set[str]:
    """Every fact id quoted in a JSON body (an entry depends on each fact it shows)."""
    # A page names the same few facts many times (its speakers, its articles): decode each once.
    return {m.decode() for m in set(_ID.findall(body))}


def list_tag(kind: str) -> str:
    """The tag of every list of ``kind``: any change to a fact of that kind may change such a list."""
    return f"list:{kind}"


def depends(tags: set[str]) -> set[str]:
    """An entry's tags (ids shown, lists walked) and QUOTES_TAG when it shows a fact that quotes
    articles."""
    quoting = any(id_type(t) in SOURCED for t in tags) or any(list_tag(k) in tags for k in SOURCED)
    return tags | {QUOTES_TAG} if quoting else tags


def event_tags(object_type: str, object_id: str, event_type: str | None = None) -> tuple[str, ...]:
    """What an event for ``object_id`` invalidates: entries showing it and lists of its kind; an
    article's recall or release (``event_type``) also every entry quoting articles."""
    tags = (object_id, list_tag(object_type))
    return (*tags, QUOTES_TAG) if event_type in _RECALLS else tags


def kind_of(value: str) -> str | None:
    return id_type(value)
