"""How REST reads answer: JSON bodies with caching headers and 304s. Errors are not rendered here:
they leave through api/problems.py, the one renderer."""

from __future__ import annotations

from functools import cache
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from api.state import get_state

# Cache lifetimes (seconds): a single fact changes rarely and carries an ETag to revalidate with;
# lists change with every write anywhere in the table.
ITEM_MAX_AGE = 30
LIST_MAX_AGE = 5
HISTORY_MAX_AGE = 300
# A read's representation depends on the media type asked for and on who asks (the recall rules).
VARY = "Accept, Authorization"


def cache_control(request: Request, max_age: int) -> str:
    """Shared caches may keep reads only when anyone may make them (anonymous reads on)."""
    return cache_control_for(public=get_state(request).settings.anonymous_reads, max_age=max_age)


def cache_control_for(*, public: bool, max_age: int) -> str:
    return f"{'public' if public else 'private'}, max-age={max_age}, must-revalidate"


def caching_headers(request: Request, *, etag: str | None, last_modified: str | None, max_age: int) -> dict[str, str]:
    headers = {"Cache-Control": cache_control(request, max_age), "Vary": VARY}
    if etag:
        headers["ETag"] = etag
    if last_modified:
        headers["Last-Modified"] = last_modified
    return headers


Raw = list[tuple[bytes, bytes]]


def raw_caching_headers(request: Request, max_age: int) -> Raw:
    """``caching_headers`` without the validators, encoded: the start of a fact read's headers."""
    return [*_caching(get_state(request).settings.anonymous_reads, max_age)]


@cache  # two values of ``public`` times three lifetimes
def _caching(public: bool, max_age: int) -> tuple[tuple[bytes, bytes], ...]:
    return (
        (b"cache-control", cache_control_for(public=public, max_age=max_age).encode("latin-1")),
        (b"vary", VARY.encode("latin-1")),
    )


class RawResponse(Response):
    """A response whose headers come encoded, in order: what Starlette's Response builds from a
    dict of the same headers (its ``content-length`` and ``content-type`` after them), without the
    dict, the lower-casing and the encoding of each name and value, which were a tenth of a plain
    fact read's own Python. ``media_type`` must not be ``text/*`` (Starlette adds a charset)."""

    def __init__(self, headers: Raw, body: bytes = b"", media_type: str | None = None, status_code: int = 200) -> None:
        self.status_code = status_code
        self.background = None
        self.body = body
        if not (status_code < 200 or status_code in (204, 304)):  # as Starlette's
            headers.append((b"content-length", str(len(body)).encode()))
        if media_type is not None:
            self.media_type = media_type
            headers.append((b"content-type", media_type.encode("latin-1")))
        self.raw_headers = headers


def json_response(
    body: Any, *, media_type: str = "application/json", status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type=media_type, headers=headers)


def not_modified(headers: dict[str, str]) -> Response:
    return Response(status_code=304, headers=headers)
