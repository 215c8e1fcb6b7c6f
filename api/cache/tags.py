"""What a cached response depends on: every fact id it contains, and the list families it shows."""

from __future__ import annotations

import re

from db.ids import id_type

_ID = re.compile(rb'"((?:act|art|clm|dep|inc)_[0-9A-HJKMNP-TV-Z]{26})"')


def ids_in(body: bytes) -> set[str]:
    """Every fact id quoted in a JSON body (an entry depends on each fact it shows)."""
    return {m.decode() for m in _ID.findall(body)}


def list_tag(kind: str) -> str:
    """The tag of every list of ``kind``: any change to a fact of that kind may change such a list."""
    return f"list:{kind}"


def event_tags(object_type: str, object_id: str) -> tuple[str, str]:
    """What an event for ``object_id`` invalidates: entries showing it and lists of its kind."""
    return object_id, list_tag(object_type)


def kind_of(value: str) -> str | None:
    return id_type(value)
