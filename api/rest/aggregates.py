"""The aggregate reads of a collection: ``/v1/<collection>/facets``, ``/histogram`` and (deployments,
incidents) ``/aggregate``. Each takes the list's filters, ``q`` and ``asOf`` and summarises exactly
the facts the list would return, under the caller's recall rules, in one statement the read
planner builds (db/plan/aggregates.py); PostgreSQL writes the JSON, which is passed on as bytes."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from api.rest import etags
from api.rest.params import SummaryParams, parse_summary, refuse
from api.rest.resources import authorize, if_none_match
from api.rest.responses import HISTORY_MAX_AGE, LIST_MAX_AGE, caching_headers, not_modified
from api.state import get_state
from db import aggregates
from db.errors import BadUserInput, FieldError, from_database
from db.facts import FactType
from db.lens import Lens
from db.plan.sql import aggregate_statement
from db.registry import fact_type

FACETS = frozenset({"facet", "first", "excludeOwnFilter"})
HISTOGRAM = frozenset({"on", "interval", "timeZone", "from", "to"})
AGGREGATE = frozenset({"sum", "groupBy"})
_TRUE, _FALSE = frozenset({"1", "true"}), frozenset({"0", "false"})


def _names(raw: str) -> list[str]:
    return list(dict.fromkeys(p.strip() for p in raw.split(",") if p.strip()))


def _query(name: str) -> tuple[str, ...]:
    return ("query", name)


async def facets(request: Request, kind: str) -> Response:
    return await _answer(request, kind, "facets")


async def histogram(request: Request, kind: str) -> Response:
    return await _answer(request, kind, "histogram")


async def aggregate(request: Request, kind: str) -> Response:
    return await _answer(request, kind, "sums")


@dataclass(slots=True)
class _Read:
    """An aggregate read as its query string asks for it, parsed and checked: its parameters, the
    planner's request, the bytes around PostgreSQL's JSON (``skip``: its leading bytes the
    response leaves out), and its statements by the caller's lens (two at most: full, public)."""

    params: SummaryParams
    found: Any
    prefix: bytes
    skip: int
    suffix: bytes
    statements: dict[Lens, tuple[str, list[Any]]] = field(default_factory=dict)


async def _answer(request: Request, kind: str, what: str) -> Response:
    caller = await authorize(request)  # before the parameters: a caller who may not read learns nothing
    read = _read(kind, what, request.scope.get("query_string", b""))
    statement = read.statements.get(caller)
    if statement is None:
        statement = aggregate_statement(kind, what, read.found, read.params.filters, caller.at(read.params.as_of))
        if len(read.statements) < _LENSES:
            read.statements[caller] = statement
    body = await _run(request, statement)
    return _respond(request, read.prefix + body[read.skip :] + read.suffix, read.params)


_LENSES = 2  # a caller reads in full or under the recall rules (db/lens.py for_scope)


# Parsed and checked reads by everything they depend on (the kind, the operation, the raw query
# string), the most recent 1,024 (a refusal raises, and is not kept), as the list's parameters
# are (api/rest/params.py): clients repeat their aggregate reads, and parsing and checking them
# afresh was about a fifth of an aggregate read's CPU in the server (a bounded sum, in process).
@lru_cache(maxsize=1024)
def _read(kind: str, what: str, query: bytes) -> _Read:
    t = fact_type(kind)
    if what == "facets":
        params, errors = parse_summary(query, t, FACETS)
        own = params.own
        first: int | None = None
        if "first" in own:
            raw = own["first"]
            first = int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 4 else 0
        exclude = own.get("excludeOwnFilter", "0").lower()
        if exclude not in _TRUE | _FALSE:
            errors.append(FieldError(_query("excludeOwnFilter"), "INVALID_VALUE", "must be 1 or 0 (true or false)"))
        names = _names(own.get("facet", ""))
        if not names:
            choices = ", ".join(f.name for f in t.analytics.facets)
            errors.append(FieldError(_query("facet"), "REQUIRED", f"name the facets to count, e.g. facet={choices}"))
        found = _validated(
            errors,
            lambda: aggregates.facets_request(
                t, [(n, n, first) for n in names], _query("facet"), exclude_own=exclude in _TRUE, labels=True
            ),
            first_path=_query("first"),
        )
        return _Read(params, found, b'{"object":"facets","facets":', 0, b"}")
    if what == "histogram":
        params, errors = parse_summary(query, t, HISTOGRAM)
        own = params.own
        on = own.get("on", t.analytics.histogram_fields[0].name)
        interval = own.get("interval", "month")
        paths = {name: _query(name) for name in HISTOGRAM}
        found = _validated(
            errors,
            lambda: aggregates.histogram_request(
                t, on, interval, own.get("timeZone"), own.get("from"), own.get("to"), paths
            ),
        )
        head = orjson.dumps({"object": "histogram", "on": on, "interval": interval, "timeZone": found.time_zone})
        return _Read(params, found, head[:-1] + b",", 1, b"")
    params, errors = parse_summary(query, t, AGGREGATE)
    own = params.own
    sums = _names(own["sum"]) if "sum" in own else [s.name for s in t.analytics.sums]
    paths = {"sum": _query("sum"), "groupBy": _query("groupBy")}
    found = _validated(
        errors, lambda: aggregates.sums_request(t, [(n, n) for n in sums], own.get("groupBy"), paths, flat=False)
    )
    head = orjson.dumps({"object": "aggregate", "groupBy": own.get("groupBy")})
    return _Read(params, found, head[:-1] + b",", 1, b"")


def _validated(errors: list[FieldError], build: Any, *, first_path: tuple[str, ...] | None = None) -> Any:
    """``build()``'s request, or a 400 naming every bad parameter (the list's and its own)."""
    found = None
    try:
        found = build()
    except BadUserInput as exc:
        for e in exc.errors:
            path = first_path if first_path is not None and e.path and e.path[-1] == "first" else e.path
            errors.append(FieldError(path, e.code, e.message))
    if errors:
        raise refuse(errors)
    return found


async def _run(request: Request, statement: tuple[str, list[Any]]) -> bytes:
    sql, values = statement
    try:
        async with get_state(request).reads.acquire() as conn:
            text: str = await conn.fetchval(sql, *values)
    except Exception as exc:
        mapped = from_database(exc)
        if isinstance(mapped, BadUserInput):  # a histogram whose data spans too many buckets
            raise refuse([FieldError(_query(str(e.path[-1])), e.code, e.message) for e in mapped.errors]) from exc
        raise
    return text.encode()


def _respond(request: Request, body: bytes, params: SummaryParams) -> Response:
    headers = caching_headers(
        request,
        etag=f'"a.{hashlib.blake2b(body, digest_size=12).hexdigest()}"',
        last_modified=None,
        max_age=HISTORY_MAX_AGE if params.as_of else LIST_MAX_AGE,
    )
    if etags.none_match(if_none_match(request), headers["ETag"]):
        return not_modified(headers)
    return Response(body, media_type="application/json", headers=headers)


def operations(t: FactType) -> list[str]:
    """The aggregate reads ``t`` has: a histogram always (every fact has createdAt), facets and
    sums when it declares them."""
    return [*(["facets"] if t.analytics.facets else []), "histogram", *(["aggregate"] if t.analytics.sums else [])]
