"""NDJSON exports: a whole filtered listing streamed from a server-side cursor inside one
read-only snapshot, in chunks, so a million facts pass through in flat memory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
from starlette.responses import StreamingResponse

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

    return StreamingResponse(
        body(), media_type=MEDIA_TYPE, headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    )
