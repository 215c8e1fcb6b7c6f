"""What the middleware layers of one request share, kept by the outermost
(api/middleware/request_id.py): the headers inner layers add to the response, and the status it was
answered with. A layer that only adds headers adds them here instead of wrapping ``send``: each
wrapper was a coroutine call per message for every request, and under uvicorn the three such
layers on POST /graphql cost about a tenth of ``{ __typename }``'s server CPU."""

from __future__ import annotations

from collections.abc import Callable

from starlette.types import Scope

SCOPE_KEY = "newsfacts.exchange"

Headers = list[tuple[bytes, bytes]]


class Exchange:
    __slots__ = ("headers", "late_headers", "status")

    def __init__(self) -> None:
        self.headers: Headers = []  # added to the response's headers as they are
        # Called when the response starts, for headers that depend on how the request was served.
        self.late_headers: list[Callable[[], Headers]] = []
        self.status = 0  # the response's status once it started, as it left the outermost layer


def exchange_of(scope: Scope) -> Exchange:
    """The request's Exchange (the outermost layer puts it in every HTTP scope)."""
    exchange: Exchange = scope[SCOPE_KEY]
    return exchange


def response_headers(exchange: Exchange) -> Headers:
    """Everything inner layers asked to add, at the moment the response starts."""
    headers = exchange.headers
    for late in exchange.late_headers:
        headers = [*headers, *late()]
    return headers
