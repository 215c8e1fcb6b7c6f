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

    The tag headers of the last KEEP responses are kept, each by what its tags are a function of:
    a list by method, path and ETag (``"l.<blake2b of its members' versions and its bytes>"``,
    api/rest/etags.py, names its body), any other read of up to KEEP_BODY_BYTES by its path and
    its bytes. Scanning a page's body for ids was about a tenth of its CPU, and finding and
    writing an item's tags a fifth of an item read's Python; the same reads come again and again
    (a response cache hit brings its entry's tags instead)."""

    HOLD_MAX_BYTES = 2_000_000
    KEEP = 1024
    KEEP_BODY_BYTES = 16_384

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._kept: OrderedDict[tuple[str, str, bytes], Headers] = OrderedDict()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not fact_read(scope):
            await self.app(scope, receive, send)
            return

        async def tagged(start: Message, body: bytes) -> tuple[Headers, bytes]:
            headers = start.get("headers", [])
            known = scope.get(HIT_TAGS_KEY)
            if known is not None:
                return [*headers, *tag_headers(response_tags(scope["path"], body, known))], body
            etag = next((v for k, v in headers if k == b"etag"), None)
            key: tuple[str, str, bytes]
            if etag is not None and etag.startswith(b'"l.'):
                key = (scope["method"], scope["path"], etag)
            elif len(body) <= self.KEEP_BODY_BYTES:
                # The tags are a function of the path and the bytes alone: keyed by both, exactly.
                key = ("", scope["path"], body)
            else:
                return [*headers, *tag_headers(response_tags(scope["path"], body))], body
            found = self._kept.get(key)
            if found is None:
                found = self._kept[key] = tag_headers(response_tags(scope["path"], body))
                if len(self._kept) > self.KEEP:
                    self._kept.popitem(last=False)
            else:
                self._kept.move_to_end(key)
            return [*headers, *found], body

        await self.app(scope, receive, holding(send, _whole_read, tagged, self.HOLD_MAX_BYTES))


def _whole_read(start: Message) -> bool:
    """A successful read that is not a stream (an NDJSON export never ends by being complete)."""
    if start["status"] != 200:
        return False
    # A loop, not any() over a generator: this runs for every fact read (a generator cost an
    # item read about 1 us).
    for name, value in start.get("headers", []):
        if name == b"content-type" and b"x-ndjson" in value:
            return False
    return True
