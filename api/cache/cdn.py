"""CDN purge tags on REST reads (and GraphQL GETs, api/graphql/caching.py): ``Surrogate-Key`` (Fastly, Varnish xkey) and ``Cache-Tag``
(Cloudflare) name the response cache's own tags for the response — every fact id it shows and
``list:<kind>`` for lists — so an edge can be emptied by tag the moment an event names one
(``purge_tags``: the event's fact id and its kind's list), the same rule the internal cache keeps."""

from __future__ import annotations

from collections import OrderedDict

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.cache.middleware import HIT_TAGS_KEY, fact_read, path_tags
from api.cache.tags import depends, event_tags, ids_in, kind_of, list_tag
from api.exchange import Headers
from api.held import holding

# Fastly and Cloudflare both cap the header near 16 KB; past this many bytes the ids of each kind
# are replaced by that kind's list tag, which every event of the kind purges too (over-purging,
# never a stale edge).
MAX_HEADER_BYTES = 8_000


def response_tags(path: str, body: bytes, known: frozenset[str] | None = None) -> list[str]:
    """The tags of a REST read's response, sorted (what the response cache tags its entry with;
    ``known``: that entry's tags, on a hit, so the body need not be scanned again)."""
    return bounded(set(known) if known is not None else depends(ids_in(body) | path_tags(path)))


def bounded(tags: set[str]) -> list[str]:
    """``tags``, sorted, with each kind's ids replaced by its list tag past MAX_HEADER_BYTES."""
    if sum(map(len, tags)) + len(tags) > MAX_HEADER_BYTES:
        kinds = {kind_of(t) for t in tags}
        tags = {t for t in tags if kind_of(t) is None} | {list_tag(k) for k in kinds if k}
    return sorted(tags)


def tag_headers(tags: list[str]) -> Headers:
    """``Surrogate-Key`` (Fastly, Varnish xkey) and ``Cache-Tag`` (Cloudflare) naming ``tags``."""
    if not tags:
        return []
    return [(b"surrogate-key", " ".join(tags).encode()), (b"cache-tag", ",".join(tags).encode())]


def purge_tags(object_type: str, object_id: str, event_type: str | None = None) -> list[str]:
    """What to purge from every edge for an event of ``object_id`` (webhook: ``data.object``,
    ``data.id``, and ``type``: an article's recall or release purges every page quoting articles)."""
    return list(event_tags(object_type, object_id, event_type))


class SurrogateKeyMiddleware:
    """Holds a REST read's headers until its body is complete, then adds the tag headers. Streams
    (NDJSON exports, ``no-store``) pass untouched, and so does a body past HOLD_MAX_BYTES.

    A list's ETag (``"l.<blake2b of its members' versions and its bytes>"``, api/rest/etags.py)
    names its body, so the tags of the last KEEP_LISTS lists served (by method, path and ETag) are
    kept: scanning a page's body for ids was about a tenth of its CPU, and the same pages are
    read again and again (when the response cache is on, its entries carry their tags instead)."""

    HOLD_MAX_BYTES = 2_000_000
    KEEP_LISTS = 1024

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._lists: OrderedDict[tuple[str, str, bytes], list[str]] = OrderedDict()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not fact_read(scope):
            await self.app(scope, receive, send)
            return

        async def tagged(start: Message, body: bytes) -> tuple[Headers, bytes]:
            headers = start.get("headers", [])
            known = scope.get(HIT_TAGS_KEY)
            etag = None if known is not None else next((v for k, v in headers if k == b"etag"), None)
            if etag is None or not etag.startswith(b'"l.'):
                tags = response_tags(scope["path"], body, known)
            else:
                key = (scope["method"], scope["path"], etag)
                found = self._lists.get(key)
                if found is None:
                    found = self._lists[key] = response_tags(scope["path"], body)
                    if len(self._lists) > self.KEEP_LISTS:
                        self._lists.popitem(last=False)
                else:
                    self._lists.move_to_end(key)
                tags = found
            return [*headers, *tag_headers(tags)], body

        await self.app(scope, receive, holding(send, _whole_read, tagged, self.HOLD_MAX_BYTES))


def _whole_read(start: Message) -> bool:
    """A successful read that is not a stream (an NDJSON export never ends by being complete)."""
    streaming = any(k == b"content-type" and b"x-ndjson" in v for k, v in start.get("headers", []))
    return bool(start["status"] == 200 and not streaming)
