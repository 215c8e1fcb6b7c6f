"""The old REST read path, kept as the reference the planned one is compared with
(tests/api/test_rest_differential.py): a page query through db.queries, then one batched query per
expanded path, trimming and rendering in Python — as api/rest/resources.py answered before issue 25.
Mounted in front of the product's own read routes on a reference server of the test."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Iterator
from typing import Any
from urllib.parse import urlencode

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from api.rest import etags, export, formats, geojson
from api.rest.expand import RELATIONS, trim
from api.rest.params import parse_item, parse_list, refuse_unstorable
from api.rest.resources import PARENT_FILTERS, _base, _not_found, _variant_tag, authorize
from api.rest.responses import HISTORY_MAX_AGE, ITEM_MAX_AGE, LIST_MAX_AGE, caching_headers, not_modified
from api.state import get_state
from db import kinds, pagination, queries, search
from db.errors import BadUserInput, FieldError, NotFound
from db.ids import is_id
from db.lens import RECALLED, Lens
from db.pool import Conn
from db.registry import fact_type


def _slots(value: Any, segments: list[str]) -> Iterator[tuple[dict[str, Any], str]]:
    """Every (object, key) holding the relation at ``segments``, through lists at any level."""
    if isinstance(value, list):
        for item in value:
            yield from _slots(item, segments)
    elif isinstance(value, dict) and segments:
        head, rest = segments[0], segments[1:]
        if not rest:
            if head in value:
                yield value, head
        else:
            yield from _slots(value.get(head), rest)


async def expand(conn: Conn, kind: str, docs: list[dict[str, Any]], paths: list[str], *, lens: Lens) -> None:
    """Replace, in place, the ids at each of ``paths`` in ``docs`` by their documents (as the
    lens shows them: at the read's time, under the caller's recall rules)."""
    for path in paths:
        target = RELATIONS[kind][path]
        slots = list(_slots(docs, path.split(".")))
        wanted: dict[str, None] = {}
        for obj, key in slots:
            value = obj[key]
            for ident in value if isinstance(value, list) else [value]:
                if isinstance(ident, str):
                    wanted[ident] = None
        if not wanted:
            continue
        ids = list(wanted)
        found = dict(zip(ids, await queries.get_many(conn, target, ids, lens=lens), strict=True))
        for obj, key in slots:
            value = obj[key]
            if isinstance(value, list):
                obj[key] = [found.get(i) or i if isinstance(i, str) else i for i in value]
            elif isinstance(value, str):
                obj[key] = found.get(value) or value


async def list_facts(request: Request, kind: str, parent: tuple[str, str] | None = None) -> Response:
    """A page of ``kind`` (or all of it as NDJSON); ``parent`` = (parent kind, id) fixes one filter."""
    t = fact_type(kind)
    fixed = frozenset({PARENT_FILTERS[parent[0]]}) if parent else frozenset()
    caller = await authorize(request)
    params = parse_list(request, t, fixed)
    try:
        lens = caller.at(pagination.as_of_of(params.cursor, params.as_of, order=params.order))
    except BadUserInput as exc:
        exc.errors = [FieldError(("query", *e.path), e.code, e.message) for e in exc.errors]
        raise
    state = get_state(request)
    if parent is not None:
        parent_kind, parent_id = parent
        if not is_id(parent_id, parent_kind):
            raise _not_found(parent_kind, parent_id)
        params.filters[PARENT_FILTERS[parent_kind]] = parent_id
    async with state.reads.acquire() as conn:
        if parent is not None and not await queries.exists(conn, parent[0], parent[1], lens=lens):
            raise _not_found(parent[0], parent[1])
        if params.format == "ndjson":
            return export.stream(
                state, kind, params.filters, order=params.order, descending=params.descending, fields=params.fields,
                lens=lens,
            )  # fmt: skip
        try:
            if params.order == search.RELEVANCE:
                page = await _relevance_page(conn, kind, params.filters, params.limit, params.cursor, lens)
            else:
                page = await queries.list_page(
                    conn,
                    kind,
                    params.filters,
                    queries.PageRequest(params.limit, params.cursor, params.order, params.descending),
                    lens=lens,
                )
        except BadUserInput as exc:
            # The cursor is checked while the page is read; name it as the query parameter it is.
            exc.errors = [FieldError(("query", *e.path), e.code, e.message) for e in exc.errors]
            raise
        docs = page.docs
        paths = [*params.expand, *(p for p in formats.NEEDS.get(params.format, []) if p not in params.expand)]
        if paths and docs:
            await expand(conn, kind, docs, paths, lens=lens)
    base = _base(request)
    next_cursor = page.end_cursor if page.has_more else None
    if params.format == "geojson":
        features = [geojson.feature(kind, d, lambda p: trim(p, params.fields)) for d in docs]
        body = orjson.dumps(geojson.collection(features, has_more=page.has_more, next_cursor=next_cursor))
    else:
        data = [trim(formats.render(kind, params.format, d, base), params.fields) for d in docs]
        body = orjson.dumps({"object": "list", "data": data, "hasMore": page.has_more, "nextCursor": next_cursor})
    updated = max((str(d.get("updatedAt")) for d in docs if d.get("updatedAt")), default=None)
    headers = caching_headers(
        request,
        etag=etags.list_etag(docs, hashlib.blake2b(body, digest_size=8).hexdigest()),
        last_modified=etags.http_date(updated),
        max_age=LIST_MAX_AGE,
    )
    if next_cursor is not None:
        query = dict(request.query_params)
        query["cursor"] = next_cursor
        headers["Link"] = f'<{base}{request.url.path}?{urlencode(query)}>; rel="next"'
    if etags.none_match(request.headers.get("if-none-match"), headers["ETag"]):
        return not_modified(headers)
    return Response(body, media_type=formats.MEDIA_TYPES.get(params.format, "application/json"), headers=headers)


async def _relevance_page(
    conn: Conn, kind: str, filters: dict[str, Any], limit: int, cursor: str | None, lens: Lens
) -> queries.Page:
    """``sort=relevance``: the GraphQL ``search`` ranking (db/search.py) over one kind's filters."""
    after = search.decode_after(cursor, param="cursor")
    request = search.SearchRequest(filters["query"], {kind: filters}, limit, after)
    results = await search.page(conn, request, lens, snippets=False)
    return queries.Page([h.doc for h in results.hits], [h.cursor for h in results.hits], results.has_more)


async def get_fact(request: Request, kind: str, fact_id: str) -> Response:
    caller = await authorize(request)
    t = fact_type(kind)
    params = parse_item(request, t)
    if not is_id(fact_id, kind):
        raise _not_found(kind, fact_id)
    state = get_state(request)
    lens = caller.at(params.as_of)
    async with state.reads.acquire() as conn:
        doc = await queries.get(conn, kind, fact_id, lens=lens)
        if doc is None:
            if params.as_of is not None and await queries.exists(conn, kind, fact_id, lens=caller):
                raise NotFound(f"{kind} {fact_id} did not exist yet at {params.as_of}")
            raise _not_found(kind, fact_id)
        tag = etags.etag_of(doc)
        last_modified = etags.http_date(doc.get("updatedAt"))
        max_age = HISTORY_MAX_AGE if params.as_of else ITEM_MAX_AGE
        plain = not params.expand and params.fields is None and params.format == "json"
        if plain:
            body = orjson.dumps(doc)
            # A reader's tag follows the bytes where a recall changes them (api/rest/resources.get_fact).
            if lens.public and kind in RECALLED and (t.sourced or params.as_of is not None):
                tag = _variant_tag(tag, body)
            headers = caching_headers(request, etag=tag, last_modified=last_modified, max_age=max_age)
            if etags.none_match(request.headers.get("if-none-match"), tag):
                return not_modified(headers)
            return Response(body, media_type="application/json", headers=headers)
        paths = [*params.expand, *(p for p in formats.NEEDS.get(params.format, []) if p not in params.expand)]
        if paths:
            await expand(conn, kind, [doc], paths, lens=lens)
    if params.format == "geojson":
        out: dict[str, Any] = geojson.feature(kind, doc, lambda p: trim(p, params.fields))
    else:
        out = trim(formats.render(kind, params.format, doc, _base(request)), params.fields)
    body = orjson.dumps(out)
    headers = caching_headers(request, etag=_variant_tag(tag, body), last_modified=last_modified, max_age=max_age)
    if etags.none_match(request.headers.get("if-none-match"), headers["ETag"]):
        return not_modified(headers)
    return Response(body, media_type=formats.MEDIA_TYPES[params.format], headers=headers)


def routes() -> list[BaseRoute]:
    """The old read routes: lists, items and the claims of an article or actor."""

    def endpoint(handler: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
        async def run(request: Request) -> Response:
            refuse_unstorable(request)
            return await handler(request)

        return run

    out: list[BaseRoute] = []
    for collection, kind in kinds.COLLECTIONS.items():
        base = f"/v1/{collection}"

        async def listing(request: Request, kind: str = kind) -> Response:
            return await list_facts(request, kind)

        async def item(request: Request, kind: str = kind) -> Response:
            return await get_fact(request, kind, request.path_params["id"])

        out += [Route(base, endpoint(listing), methods=["GET"]), Route(base + "/{id}", endpoint(item), methods=["GET"])]
    for parent, collection in (("article", "articles"), ("actor", "actors")):

        async def claims(request: Request, parent: str = parent) -> Response:
            return await list_facts(request, "claim", (parent, request.path_params["id"]))

        out.append(Route(f"/v1/{collection}/{{id}}/claims", endpoint(claims), methods=["GET"]))
    return out
