"""``GET /v1/corrections``: the corrections feed (db/corrections.py) — every correction,
retraction, recall and sourcing change, newest first, keyset-paged — the page a newsroom publishes
and a partner polls. Read-only: it runs on a replica when one is usable."""

from __future__ import annotations

import orjson
from starlette.requests import Request
from starlette.responses import Response

from api.auth import authenticate, require
from api.rest import etags
from api.rest.params import _fail, _values, small_int
from api.rest.responses import LIST_MAX_AGE, caching_headers, not_modified
from api.state import get_state
from db import corrections
from db.errors import FieldError
from db.fields import INVALID, Checks, timestamp
from db.kinds import CORRECTION_KINDS, LOAD_ORDER
from db.lens import for_scope
from db.queries import MAX_PAGE

PARAMS = frozenset({"limit", "cursor", "kind", "changeKind", "since"})


def _list(raw: str | None) -> list[str]:
    """A comma-separated parameter's items, as given: an empty item (``kind=``, ``a,,b``) is one
    that names nothing, refused with the unknown ones, as the contract's pattern says."""
    return raw.split(",") if raw is not None else []


def _parse(request: Request) -> tuple[corrections.Filter, int, str | None]:
    errors: list[FieldError] = []
    values = _values(request, PARAMS, errors)
    limit = 20
    if "limit" in values:
        parsed = small_int(values["limit"], low=1, high=MAX_PAGE)
        if parsed is None:
            errors.append(FieldError(("query", "limit"), "INVALID_LIMIT", f"must be an integer from 1 to {MAX_PAGE}"))
        else:
            limit = parsed
    kinds = _list(values.get("kind"))
    if any(k not in LOAD_ORDER for k in kinds):
        errors.append(FieldError(("query", "kind"), "INVALID_VALUE", f"must be fact kinds ({', '.join(LOAD_ORDER)})"))
    change_kinds = _list(values.get("changeKind"))
    if any(k not in CORRECTION_KINDS for k in change_kinds):
        hint = ", ".join(CORRECTION_KINDS)
        errors.append(
            FieldError(("query", "changeKind"), "INVALID_VALUE", f"must be change kinds of the feed ({hint})")
        )
    since = None
    if "since" in values:
        checks = Checks()
        parsed_since = timestamp()(values["since"], ("query", "since"), checks)
        errors.extend(checks.errors)
        since = None if parsed_since is INVALID else str(parsed_since)
    if errors:
        raise _fail(errors)
    where = corrections.Filter(tuple(dict.fromkeys(kinds)), tuple(dict.fromkeys(change_kinds)), since)
    return where, limit, values.get("cursor")


async def list_corrections(request: Request) -> Response:
    state = get_state(request)
    principal = await authenticate(request)
    require(principal, "read", anonymous_reads=state.settings.anonymous_reads)
    public = for_scope(principal.scope).public  # read-scope callers get no diff of a withdrawn fact
    where, limit, cursor = _parse(request)
    after = corrections.decode(cursor, "cursor")
    async with state.reads.acquire() as conn:
        docs, cursors, more = await corrections.page(conn, where, limit=limit, after=after, public=public)
    body = orjson.dumps({"object": "list", "data": docs, "hasMore": more, "nextCursor": cursors[-1] if more else None})
    # Of the bytes too: under the recall rules a correction's diff changes when an article it
    # cites is recalled, with no new revision.
    members = " ".join(f"{d['factId']}.v{d['version']}" for d in docs)
    headers = caching_headers(
        request,
        etag=etags.page_etag(members, body),
        last_modified=etags.http_date(docs[0]["changedAt"]) if docs else None,
        max_age=LIST_MAX_AGE,
    )
    if etags.none_match(request.headers.get("if-none-match"), headers["ETag"]):
        return not_modified(headers)
    return Response(body, media_type="application/json", headers=headers)
