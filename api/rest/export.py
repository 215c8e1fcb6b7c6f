"""NDJSON exports: a whole filtered listing streamed from a server-side cursor inside one
read-only snapshot, in chunks, so a million facts pass through in flat memory.

Each chunk is one FETCH, a statement of its own: DB_STATEMENT_TIMEOUT_S bounds every FETCH (a hung
server fails the export within it), never the export as a whole, which may run for as long as the
client keeps reading. The first chunk is read before the status line is sent, so an outage is a
503 with Retry-After rather than a 200 cut short."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from api.state import State
from db import queries
from db.lens import Lens

MEDIA_TYPE = "application/x-ndjson"
CHUNK_ROWS = 500


def stream(
    state: State,
    kind: str,
    filters: dict[str, Any],
    *,
    order: str,
    descending: bool,
    fields: frozenset[str] | None,
    lens: Lens,
) -> StreamingResponse:
    sql, args = queries.export_sql(kind, filters, order, lens=lens, descending=descending, as_text=True)

    async def body() -> AsyncIterator[bytes]:
        async with state.reads.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            cursor = await conn.cursor(sql, *args)
            while True:
                rows = await cursor.fetch(CHUNK_ROWS)
                if not rows:
                    break
                if fields is None:
                    yield "\n".join(r[0] for r in rows).encode() + b"\n"
                else:
                    yield b"".join(
                        orjson.dumps({k: v for k, v in orjson.loads(r[0]).items() if k in fields}) + b"\n" for r in rows
                    )

    return _FirstChunkFirst(
        body(), media_type=MEDIA_TYPE, headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    )


class _FirstChunkFirst(StreamingResponse):
    """Reads the first chunk before anything is sent: what fails there (no connection, no answer
    within the bounds) still reaches the app's error handlers as an ordinary refusal."""

    def __init__(self, chunks: AsyncIterator[bytes], **kwargs: Any) -> None:
        super().__init__(chunks, **kwargs)
        self.chunks = chunks

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        chunks = self.chunks
        try:
            first = await anext(chunks, b"")
        except BaseException:
            await _close(chunks)
            raise
        self.body_iterator = _after(first, chunks)
        await super().__call__(scope, receive, send)


async def _after(first: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    try:
        if first:
            yield first
        async for chunk in rest:
            yield chunk
    finally:
        await _close(rest)


async def _close(chunks: AsyncIterator[bytes]) -> None:
    close = getattr(chunks, "aclose", None)
    if close is not None:
        await close()
