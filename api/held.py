"""A response held back until its body is complete, for layers whose headers depend on the whole
body: CDN purge tags name every fact id a REST read shows (api/cache/cdn.py), and a GraphQL
mutation's consistency token goes into its body as well as its headers (api/reads/middleware.py),
and a GraphQL GET's ETag is a hash of its body (api/graphql/caching.py).
A body that grows past the layer's limit is let through as it came, start and chunks unchanged:
holding it would cost memory without bound, and the layer's headers are a courtesy, never needed
for the answer to be right."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.types import Message, Send

from api.exchange import Headers

# Given the held start message and the whole body: the headers and body to send instead.
Finish = Callable[[Message, bytes], Awaitable[tuple[Headers, bytes]]]
# The same, with the status too (a held GET that turns out to match If-None-Match is a 304).
Answer = Callable[[Message, bytes], Awaitable[tuple[int, Headers, bytes]]]


def holding(send: Send, hold: Callable[[Message], bool], finish: Finish, limit: int) -> Send:
    """``send``, holding a response whose start message ``hold`` accepts until its body is complete
    (or past ``limit`` bytes), then sending what ``finish`` makes of it. Other responses, and
    messages other than the body's, pass at once."""

    async def answer(start: Message, body: bytes) -> tuple[int, Headers, bytes]:
        headers, body = await finish(start, body)
        return start["status"], headers, body

    return holding_answer(send, hold, answer, limit)


def holding_answer(send: Send, hold: Callable[[Message], bool], answer: Answer, limit: int) -> Send:
    """``holding``, where what is sent instead may have another status."""
    held: Message | None = None
    chunks: list[bytes] = []
    size = 0

    async def wrapped(message: Message) -> None:
        nonlocal held, size
        kind = message["type"]
        if kind == "http.response.start":
            if hold(message):
                held = message
                return
            await send(message)
            return
        if held is None or kind != "http.response.body":
            await send(message)
            return
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        more = message.get("more_body", False)
        if more and size < limit:
            return
        start, held = held, None
        body = b"".join(chunks)
        chunks.clear()
        size = 0
        if more:  # too large to hold: the rest streams as it comes, without the layer's headers
            await send(start)
            await send({"type": "http.response.body", "body": body, "more_body": True})
            return
        status, headers, body = await answer(start, body)
        await send({**start, "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return wrapped
