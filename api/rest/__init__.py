"""The REST surface under /v1. One Route per path whose endpoint dispatches on the method, so the
write handlers (api/rest/writes.py) and other surfaces plug into the same paths: pass them to
``routes(extra)`` as (path, method, handler) triples."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from functools import partial

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from api.rest import aggregates, corrections, quota, resources
from api.rest.params import refuse_unstorable
from db.registry import fact_type

Handler = Callable[[Request], Awaitable[Response]]
Operation = tuple[str, str, Handler]


async def _list(request: Request, kind: str) -> Response:
    return await resources.list_facts(request, kind)


async def _get(request: Request, kind: str) -> Response:
    return await resources.get_fact(request, kind, request.path_params["id"])


async def _revisions(request: Request, kind: str) -> Response:
    return await resources.fact_revisions(request, kind, request.path_params["id"])


async def _claims_of(request: Request, parent_kind: str) -> Response:
    return await resources.list_facts(request, "claim", (parent_kind, request.path_params["id"]))


_AGGREGATES: dict[str, Callable[[Request, str], Awaitable[Response]]] = {
    "facets": aggregates.facets,
    "histogram": aggregates.histogram,
    "aggregate": aggregates.aggregate,
}


async def _aggregate(request: Request, name: str, kind: str) -> Response:
    return await _AGGREGATES[name](request, kind)


def read_operations() -> list[Operation]:
    ops: list[Operation] = []
    for collection, kind in resources.COLLECTIONS.items():
        base = f"/v1/{collection}"
        # Before ``{id}``: the router tries paths in order, and "facets" is no id.
        ops += [
            (f"{base}/{name}", "GET", partial(_aggregate, name=name, kind=kind))
            for name in aggregates.operations(fact_type(kind))
        ]
        ops += [
            (base, "GET", partial(_list, kind=kind)),
            (base + "/{id}", "GET", partial(_get, kind=kind)),
            (base + "/{id}/revisions", "GET", partial(_revisions, kind=kind)),
        ]
    ops += [
        ("/v1/articles/{id}/claims", "GET", partial(_claims_of, parent_kind="article")),
        ("/v1/actors/{id}/claims", "GET", partial(_claims_of, parent_kind="actor")),
        ("/v1/quota", "GET", quota.get_quota),
        ("/v1/corrections", "GET", corrections.list_corrections),
    ]
    return ops


def _dispatcher(handlers: dict[str, Handler]) -> Handler:
    # No except here: every refusal leaves through the app's one handler (api/problems.py).
    async def endpoint(request: Request) -> Response:
        method = "GET" if request.method == "HEAD" else request.method
        refuse_unstorable(request)
        return await handlers[method](request)

    return endpoint


def routes(extra: Iterable[Operation] = ()) -> list[BaseRoute]:
    """One Route per path, reads plus ``extra``; a method a path lacks answers 405 with ``Allow``."""
    table: dict[str, dict[str, Handler]] = {}
    for path, method, handler in [*read_operations(), *extra]:
        methods = table.setdefault(path, {})
        if method.upper() in methods:
            raise ValueError(f"{method} {path} is registered twice")
        methods[method.upper()] = handler
    return [Route(path, _dispatcher(handlers), methods=list(handlers)) for path, handlers in table.items()]
