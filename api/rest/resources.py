"""The read endpoints of every fact kind: list (paged, or NDJSON), get by id (optionally as of a
time), revisions, and the claims of an article or actor. All read-only: they run on a replica
when one is usable (``state.reads``, api/reads/)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from functools import lru_cache, partial
from typing import Any
from urllib.parse import quote_plus, urlencode

import orjson
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response

from api.auth import authenticate, known_principal, require
from api.rest import etags, export, formats, geojson, plan
from api.rest.expand import trim
from api.rest.params import ItemParams, ListParams, parse_item, parse_list, parse_none
from api.rest.responses import (
    HISTORY_MAX_AGE,
    ITEM_MAX_AGE,
    LIST_MAX_AGE,
    Raw,
    RawResponse,
    caching_headers,
    not_modified,
    raw_caching_headers,
)
from api.state import get_state
from db import kinds, pagination, queries, search
from db.errors import BadUserInput, FieldError, NotFound
from db.ids import is_id
from db.lens import RECALLED, Lens, for_scope
from db.plan.tree import Root
from db.registry import fact_type

# What quote_plus leaves as it is.
_URL_SAFE = re.compile(r"[A-Za-z0-9_.~-]*")
# Path segment → kind.
COLLECTIONS = kinds.COLLECTIONS  # "claims" → "claim", from the one registry
# Which claims belong to a parent: the claim filter the parent's id fixes.
PARENT_FILTERS = {"article": "article", "actor": "speaker"}


async def authorize(request: Request) -> Lens:
    """Refuse a caller who may not read; the lens of one who may (db/lens.py)."""
    # Usually known (the rate limiter authenticated the request): no coroutine for it.
    principal = known_principal(request.scope) or await authenticate(request)
    require(principal, "read", anonymous_reads=get_state(request).settings.anonymous_reads)
    return for_scope(principal.scope)


def _base(request: Request) -> str:
    """The request's base URL, without its trailing slash: Starlette's ``base_url`` copies the
    scope and parses a URL each time (about a twentieth of a page read's CPU), and it depends
    on these few scope values alone, which repeat from request to request."""
    scope = request.scope
    host = None
    for key, value in scope["headers"]:
        if key == b"host":
            host = value
            break
    root = scope.get("app_root_path", scope.get("root_path", ""))
    server = scope.get("server")
    return _base_of(scope.get("scheme", "http"), None if server is None else tuple(server), host, root)


@lru_cache(maxsize=256)
def _base_of(scheme: str, server: tuple[Any, ...] | None, host: bytes | None, root: str) -> str:
    headers = [] if host is None else [(b"host", host)]
    scope = {"type": "http", "scheme": scheme, "server": server, "path": "", "headers": headers, "root_path": root}
    return str(Request(scope).base_url).rstrip("/")


def _not_found(kind: str, fact_id: str) -> NotFound:
    if not is_id(fact_id, kind):
        return NotFound(f"{fact_id!r} is not a {kind} id ({fact_type(kind).prefix}_ followed by 26 characters)")
    return NotFound(f"no {kind} with id {fact_id}")


def _variant_tag(base_tag: str, body: bytes) -> str:
    """A representation other than the plain document gets its own strong tag, tied to its bytes."""
    return base_tag[:-1] + "." + hashlib.blake2b(body, digest_size=6).hexdigest() + '"'


def _as_query_errors(exc: BadUserInput) -> BadUserInput:
    exc.errors = [FieldError(("query", *e.path), e.code, e.message) for e in exc.errors]
    return exc


async def list_facts(request: Request, kind: str, parent: tuple[str, str] | None = None) -> Response:
    """A page of ``kind`` (or all of it as NDJSON); ``parent`` = (parent kind, id) fixes one filter."""
    t = fact_type(kind)
    fixed = frozenset({PARENT_FILTERS[parent[0]]}) if parent else frozenset()
    caller = await authorize(request)
    params = parse_list(request, t, fixed)
    try:
        lens = caller.at(pagination.as_of_of(params.cursor, params.as_of, order=params.order))
    except BadUserInput as exc:
        raise _as_query_errors(exc) from None
    state = get_state(request)
    if parent is not None:
        parent_kind, parent_id = parent
        if not is_id(parent_id, parent_kind):
            raise _not_found(parent_kind, parent_id)
        params.filters[PARENT_FILTERS[parent_kind]] = parent_id
    if params.format == "ndjson":
        async with state.reads.acquire() as conn:
            if parent is not None and not await queries.exists(conn, parent[0], parent[1], lens=lens):
                raise _not_found(parent[0], parent[1])
        return export.stream(
            state, kind, params.filters, order=params.order, descending=params.descending, fields=params.fields,
            lens=lens,
        )  # fmt: skip
    plain = params.format == "json"
    fields, expand = _shape(params, plain)
    obj = plan.document(kind, fields=fields, expand=expand, near="near" in params.filters)
    key = (
        "list", kind, fields, expand, orjson.dumps(params.filters, option=orjson.OPT_SORT_KEYS, default=repr),
        params.order, params.descending, params.limit, params.cursor, lens, parent,
    )  # fmt: skip

    def build() -> Root:
        if params.order == search.RELEVANCE:
            return plan.relevance_root(kind, obj, params.filters, params.limit, params.cursor, lens)
        request_page = queries.PageRequest(params.limit, params.cursor, params.order, params.descending)
        return plan.list_root(kind, obj, params.filters, request_page, lens)

    # A statement kept by its key needs no plan tree (``build`` stays for one evicted meanwhile:
    # a key built once builds again without a refusal). Else the tree now, so that a refusal
    # comes after the parent's check, as before.
    root: Root | Callable[[], Root] = build
    refused: BadUserInput | None = None
    if key not in state.rest_statements:
        try:
            root = build()
        except BadUserInput as exc:
            refused = _as_query_errors(exc)
    async with state.reads.acquire() as conn:
        if refused is not None:
            # The parent is looked for first, as a page's own refusals come after it.
            if parent is not None and not await queries.exists(conn, parent[0], parent[1], lens=lens):
                raise _not_found(parent[0], parent[1])
            raise refused
        answer = await plan.run(conn, state.rest_statements, root, lens, key=key, parent=parent)
    if answer.parent is False:
        assert parent is not None
        raise _not_found(parent[0], parent[1])
    assert answer.body is not None
    body = answer.body
    if not plain:
        # ninjs, JSON-LD and GeoJSON are written from the planned documents here.
        page = orjson.loads(body)
        docs = page["data"]
        if params.format == "geojson":
            features = [geojson.feature(kind, d, lambda p: trim(p, params.fields)) for d in docs]
            out: Any = geojson.collection(features, has_more=page["hasMore"], next_cursor=page["nextCursor"])
        else:
            base = _base(request)
            out = {**page, "data": [trim(formats.render(kind, params.format, d, base), params.fields) for d in docs]}
        body = orjson.dumps(out)
        next_cursor = page["nextCursor"]
    else:
        next_cursor = _next_cursor(body)
    etag = etags.page_etag(answer.tags, body)
    headers = _validated(request, LIST_MAX_AGE, etag, etags.http_date_of(answer.updated))
    if next_cursor is not None:
        head, tail = _link_query(request.scope.get("query_string", b""))
        path = _url_path(request.scope["path"])
        # A cursor PostgreSQL wrote is base64url, which quote_plus leaves as it is.
        cursor = next_cursor if _URL_SAFE.fullmatch(next_cursor) else quote_plus(next_cursor)
        link = f'<{_base(request)}{path}?{head}{cursor}{tail}>; rel="next"'
        headers.append((b"link", link.encode("latin-1")))
    if etags.none_match(if_none_match(request), etag):
        return RawResponse(headers, status_code=304)
    return RawResponse(headers, body, formats.MEDIA_TYPES.get(params.format, "application/json"))


def _validated(request: Request, max_age: int, etag: str, last_modified: str | None) -> Raw:
    """A fact read's caching headers and validators, encoded, as ``caching_headers`` names them."""
    headers = raw_caching_headers(request, max_age)
    headers.append((b"etag", etag.encode("latin-1")))
    if last_modified:
        headers.append((b"last-modified", last_modified.encode("latin-1")))
    return headers


def _shape(params: ListParams | ItemParams, plain: bool) -> tuple[frozenset[str] | None, tuple[str, ...]]:
    """The ``fields`` and ``expand`` a read's document is planned with: a representation other
    than plain JSON reads every key, and the relations it needs expanded too."""
    if plain:
        return params.fields, tuple(params.expand)
    needs = [p for p in formats.NEEDS.get(params.format, []) if p not in params.expand]
    return None, (*params.expand, *needs)


def if_none_match(request: Request) -> str | None:
    """The first If-None-Match header, as ``request.headers.get`` reads it, without building
    Starlette's Headers for it."""
    for name, value in request.scope["headers"]:
        if name == b"if-none-match":
            return str(value.decode("latin-1"))
    return None


def _url_path(path: str) -> str:
    """``request.url.path`` without building the URL: Starlette escapes these three, and a list's
    path (a route's, its parent id checked) holds nothing urlsplit would change."""
    return path.replace("?", "%3F").replace("#", "%23").replace("\\", "%5C")


@lru_cache(maxsize=1024)
def _link_query(query_string: bytes) -> tuple[str, str]:
    """The next page's query string around its cursor's value (``urlencode`` of the request's
    parameters with ``cursor`` set, in place or last), kept by the request's own: it repeats from
    request to request, and encoding it afresh was a fiftieth of a page read's CPU."""
    items = list(dict(QueryParams(query_string)).items())
    at = next((i for i, (name, _) in enumerate(items) if name == "cursor"), len(items))
    head = urlencode(items[:at])
    tail = urlencode(items[at + 1 :])
    return (head + "&" if head else "") + "cursor=", "&" + tail if tail else ""


def _next_cursor(body: bytes) -> str | None:
    """The ``nextCursor`` of a page PostgreSQL wrote: its last key (json_build_object keeps the
    order given, and a cursor is base64url, so it needs no unescaping)."""
    at = body.rfind(b'"nextCursor"')
    assert at >= 0, "a page has a nextCursor"
    value = body[at + 12 :].lstrip(b" :").rstrip(b" }")  # only the tail: rpartition copied the page
    return None if value == b"null" else value.strip(b'"').decode()


async def get_fact(request: Request, kind: str, fact_id: str) -> Response:
    caller = await authorize(request)
    t = fact_type(kind)
    params = parse_item(request, t)
    if not is_id(fact_id, kind):
        raise _not_found(kind, fact_id)
    state = get_state(request)
    lens = caller.at(params.as_of)
    plain = params.format == "json"
    fields, expand = _shape(params, plain)
    obj = plan.document(kind, fields=fields, expand=expand)
    key = ("item", kind, fields, expand, lens)
    async with state.reads.acquire() as conn:
        # The tree only for a statement not kept: a frozen ById and its binds cost more than binding the id.
        root = partial(plan.item_root, kind, obj, fact_id, lens)
        answer = await plan.run(conn, state.rest_statements, root, lens, key=key, item_id=fact_id)
        if answer.body is None:
            if params.as_of is not None and await queries.exists(conn, kind, fact_id, lens=caller):
                raise NotFound(f"{kind} {fact_id} did not exist yet at {params.as_of}")
            raise _not_found(kind, fact_id)
    assert answer.tags is not None
    tag = f'"{answer.tags}"'
    last_modified = etags.http_date_of(answer.updated)
    max_age = HISTORY_MAX_AGE if params.as_of else ITEM_MAX_AGE
    body = answer.body
    if plain and not params.expand and params.fields is None:
        if lens.public and kind in RECALLED and (t.sourced or params.as_of is not None):
            # Under the recall rules a fact's document changes with the articles it cites, and an
            # asOf one with them as they are now, neither of which gives it a new version: a
            # reader's tag follows the bytes, so no 304 confirms words a recall has since hidden.
            # (An article's own recall is a new version of it.)
            tag = _variant_tag(tag, body)
        headers = _validated(request, max_age, tag, last_modified)
        if etags.none_match(if_none_match(request), tag):
            return RawResponse(headers, status_code=304)
        return RawResponse(headers, body, "application/json")
    if not plain:
        doc = orjson.loads(body)
        if params.format == "geojson":
            out: dict[str, Any] = geojson.feature(kind, doc, lambda p: trim(p, params.fields))
        else:
            out = trim(formats.render(kind, params.format, doc, _base(request)), params.fields)
        body = orjson.dumps(out)
    variant = _variant_tag(tag, body)
    headers = _validated(request, max_age, variant, last_modified)
    if etags.none_match(if_none_match(request), variant):
        return RawResponse(headers, status_code=304)
    return RawResponse(headers, body, formats.MEDIA_TYPES[params.format])


async def fact_revisions(request: Request, kind: str, fact_id: str) -> Response:
    caller = await authorize(request)
    parse_none(request)
    if not is_id(fact_id, kind):
        raise _not_found(kind, fact_id)
    async with get_state(request).reads.acquire() as conn:
        revisions = await queries.revisions(conn, fact_id, lens=caller)
    if not revisions:
        raise _not_found(kind, fact_id)
    body = orjson.dumps({"object": "list", "data": revisions, "hasMore": False, "nextCursor": None})
    # Of the bytes too: under the recall rules a snapshot changes when an article it cites is
    # recalled, with no new revision.
    members = " ".join(f"{fact_id}.v{r['version']}" for r in revisions)
    headers = caching_headers(
        request,
        etag=etags.page_etag(members, body),
        last_modified=etags.http_date(revisions[-1]["changedAt"]),
        max_age=ITEM_MAX_AGE,
    )
    if etags.none_match(if_none_match(request), headers["ETag"]):
        return not_modified(headers)
    return Response(body, media_type="application/json", headers=headers)
