"""NDJSON exports: a whole filtered listing streamed by ``COPY (SELECT …) TO STDOUT`` inside one
read-only snapshot, so a million facts pass through in flat memory at the speed PostgreSQL builds
them. PostgreSQL writes each line: the query has one text column, each document's JSON text, and
the COPY runs in CSV format with a delimiter and a quote character that JSON text never holds
(control characters are always escaped in it), so no value is quoted or escaped and COPY's output
is the NDJSON body byte for byte. Python passes the bytes on without looking at a row; while the
client is the slower side the socket reads gather into one chunk, and past 512 kB asyncpg stops
reading from PostgreSQL, so memory stays flat.

The COPY is one statement for the whole export, which may run for as long as the client keeps
reading: PostgreSQL's statement_timeout is lifted for it (``SET LOCAL``, in its own transaction)
and DB_STATEMENT_TIMEOUT_S bounds instead each wait for the next chunk from PostgreSQL, never the
time a chunk waits for the client; a hung server fails the export within it. The first chunk is
read before the status line is sent, so an outage is a 503 with Retry-After rather than a 200 cut
short."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from api.problems import answer
from api.state import State
from db import export as export_statement
from db.lens import Lens
from db.pool import Conn

MEDIA_TYPE = "application/x-ndjson"
# CSV with these never quotes a JSON text: they are control characters, which JSON escapes.
CSV_DELIMITER, CSV_QUOTE = "\x01", "\x02"
# asyncpg bounds a COPY as a whole (by the connection's command_timeout unless given); each chunk
# is bounded here instead.
_NO_BOUND_S = 10 * 365 * 86_400.0
# What the COPY may gather while the client is slower before asyncpg stops reading from PostgreSQL.
_GATHER = 512 * 1024


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
    sql, args = export_statement.export_sql(kind, filters, order, lens=lens, descending=descending, fields=fields)
    bound_s = state.settings.db_statement_timeout_s

    async def body() -> AsyncIterator[bytes]:
        async with state.reads.acquire() as conn:
            snapshot = conn.transaction(isolation="repeatable_read", readonly=True)
            await snapshot.start()
            try:
                await conn.execute("SET LOCAL statement_timeout = 0")
                async for chunk in copy_out(conn, sql, args, bound_s=bound_s):
                    yield chunk
            except BaseException:
                # A COPY cut short (the client left, PostgreSQL hung) closes its connection
                # (db.pool.BoundedConnection): nothing is left to roll back, and the rollback's
                # "connection is closed" must not replace the reason (nor be logged as an error
                # when the client simply left).
                with contextlib.suppress(asyncpg.InterfaceError):
                    await snapshot.rollback()
                raise
            await snapshot.commit()

    return _FirstChunkFirst(
        body(), media_type=MEDIA_TYPE, headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    )


async def copy_out(conn: Conn, sql: str, args: list[Any], *, bound_s: float) -> AsyncIterator[bytes]:
    """The output of ``COPY (sql) TO STDOUT`` (CSV that is the NDJSON of ``sql``'s one text column),
    as PostgreSQL sends it: each chunk is everything that arrived since the last one, so while the
    client is the slower side the socket reads gather into few large writes (up to ``_GATHER``,
    then asyncpg stops reading). TimeoutError when PostgreSQL sends nothing for ``bound_s`` while
    nothing is waiting to be sent. Closing the iterator cancels the COPY."""
    buffer = bytearray()
    arrived = asyncio.Event()  # data in ``buffer``, or the COPY ended
    room = asyncio.Event()  # ``buffer`` was taken

    async def sink(data: bytes) -> None:
        buffer.extend(data)
        arrived.set()
        while len(buffer) >= _GATHER:
            room.clear()
            await room.wait()

    copy = asyncio.ensure_future(
        conn.copy_from_query(
            sql, *args, output=sink, timeout=_NO_BOUND_S, format="csv", delimiter=CSV_DELIMITER, quote=CSV_QUOTE
        )
    )
    copy.add_done_callback(lambda _: arrived.set())
    try:
        while True:
            if not buffer and not copy.done():
                arrived.clear()
                try:
                    async with asyncio.timeout(bound_s):
                        await arrived.wait()
                except TimeoutError:
                    raise TimeoutError(f"PostgreSQL sent no export chunk within {bound_s} s") from None
            if buffer:
                chunk = bytes(buffer)
                buffer.clear()
                room.set()
                yield chunk
                continue
            copy.result()  # the COPY's error, if it failed
            return
    finally:
        if not copy.done():
            copy.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await copy
            # Closed now, whether or not db.pool.BoundedConnection's close of a cancelled
            # statement (on a later turn of the loop) has run yet: until it has, the connection is
            # still in the COPY, and the caller's rollback found it so ("another operation is in
            # progress", a 500). Once it has, the pool has taken the connection back.
            with contextlib.suppress(asyncpg.InterfaceError):
                conn.terminate()


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
        except Exception as exc:
            await _close(chunks)
            # Answered here, not left to the layer around the response: a route the shortcut
            # serves (api/middleware/shortcut.py) has no such layer, and an outage became a 500.
            await answer(exc, scope, receive, send)
            return
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
