"""Entity tags and HTTP dates for facts: a fact's strong ETag is ``"<id>.v<version>"`` (reads answer
If-None-Match with it; writes check If-Match against the same format), a list's is a hash of its
members' ids and versions and of its bytes. Where the recall rules change what a reader sees with no
new version, a reader's item tag carries a hash of the bytes too (api/rest/resources.get_fact)."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from email.utils import format_datetime
from functools import lru_cache
from typing import Any


def etag(fact_id: str, version: int) -> str:
    return f'"{fact_id}.v{version}"'


def etag_of(doc: Mapping[str, Any]) -> str:
    return etag(str(doc["id"]), int(doc.get("version") or 0))


def list_etag(docs: Iterable[Mapping[str, Any]], *salt: str) -> str:
    """A strong tag for a list: changes when any member, its version, the order or ``salt`` changes."""
    h = hashlib.blake2b(digest_size=12)
    for part in salt:
        h.update(part.encode())
        h.update(b"\x00")
    for doc in docs:
        h.update(f"{doc.get('id')}.{doc.get('version')}\x00".encode())
    return f'"l.{h.hexdigest()}"'


def page_etag(tags: str | None, body: bytes) -> str:
    """A list's strong tag from its members' ``<id>.v<version>`` (``tags``, in order) and its bytes:
    a member's new version changes it even when ``fields`` leaves the change out of the body."""
    members = tags or ""
    found = _PAGE_TAGS.get(members, body)
    if found is None:
        h = hashlib.blake2b(digest_size=12)
        h.update(members.encode())
        h.update(b"\x00")
        h.update(body)
        found = f'"l.{h.hexdigest()}"'
        _PAGE_TAGS.put(members, body, found)
    return found


class _Kept:
    """Tags of the pages served last, by their members' tags, each with the bytes it was made from
    (up to PER_MEMBERS representations of the same members: fields, expand), up to ``budget``
    bytes of kept bodies. blake2b of a 24 KB page costs 26 us; finding it by the members' tags
    (about 1 KB of text) and comparing the bytes costs about 2 us, where hashing the bytes
    themselves to find them (Python's hash) cost 6. The same pages are read again and again."""

    PER_MEMBERS = 4

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.size = 0
        self.entries: OrderedDict[str, list[tuple[bytes, str]]] = OrderedDict()

    def get(self, members: str, body: bytes) -> str | None:
        kept = self.entries.get(members)
        if kept is None:
            return None
        for bytes_, tag in kept:
            if bytes_ == body:  # lengths first, then one memcmp
                self.entries.move_to_end(members)
                return tag
        return None

    def put(self, members: str, body: bytes, tag: str) -> None:
        size = len(body)
        if size > self.budget // 16:
            return  # a page that large would crowd out the rest
        kept = self.entries.get(members)
        if kept is None:
            kept = self.entries[members] = []
        elif len(kept) >= self.PER_MEMBERS:
            self.size -= len(kept.pop(0)[0])
        kept.append((body, tag))
        self.entries.move_to_end(members)
        self.size += size
        while self.size > self.budget:
            _, dropped = self.entries.popitem(last=False)
            self.size -= sum(len(b) for b, _ in dropped)


_PAGE_TAGS = _Kept(8_000_000)


def parse_tags(header: str | None) -> list[str] | None:
    """The entity tags of an If-Match / If-None-Match header (``["*"]`` for a wildcard, None when absent)."""
    if header is None:
        return None
    tags = []
    for raw in header.split(","):
        tag = raw.strip()
        if tag == "*":
            return ["*"]
        if tag.startswith("W/"):
            tag = tag[2:]
        if tag:
            tags.append(tag)
    return tags


def none_match(header: str | None, current: str) -> bool:
    """True when If-None-Match names ``current`` (weak comparison, as RFC 9110 asks for GET): answer 304."""
    tags = parse_tags(header)
    return tags is not None and ("*" in tags or current in tags)


def if_match_tags(header: str) -> list[str]:
    """The entity tags of an If-Match header as sent, ``W/`` kept: writes compare strongly
    (RFC 9110 13.1.1), so a weak tag is well formed and matches nothing."""
    return [t.strip() for t in header.split(",") if t.strip()]


def version_of(tag: str) -> int | None:
    """The version in one of our fact ETags, or None when it is not one."""
    inner = tag.strip().strip('"')
    _, sep, version = inner.rpartition(".v")
    return int(version) if sep and version.isdigit() else None


@lru_cache(maxsize=4_096)  # the same facts' updatedAt again and again: a lookup, not a formatting
def http_date_of(moment: dt.datetime | None) -> str | None:
    """A timestamp as an IMF-fixdate for Last-Modified."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return _imf_fixdate(moment.astimezone(dt.UTC))


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _imf_fixdate(moment: dt.datetime) -> str:
    """``format_datetime(moment, usegmt=True)`` of a UTC ``moment``, written out: every read's
    Last-Modified goes through here, and the email module's general formatter cost several times
    as much."""
    return (
        f"{_DAYS[moment.weekday()]}, {moment.day:02d} {_MONTHS[moment.month - 1]} {moment.year:04d} "
        f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d} GMT"
    )


def http_date(iso: str | None) -> str | None:
    """An ISO 8601 timestamp (as in documents) as an IMF-fixdate for Last-Modified."""
    if not iso:
        return None
    try:
        parsed = dt.datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return format_datetime(parsed.astimezone(dt.UTC), usegmt=True)
