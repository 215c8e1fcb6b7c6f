"""Request bodies, taken apart defensively for every transport (REST writes, webhook admin, /graphql):
read within a byte limit, then decoded by db/json_input.py (strict UTF-8, bounded nesting, 64-bit
numbers) with an object at the top. Each refusal is its own catalogue code (db/errors.py), a 400
naming ``/body`` (413 past the size limit)."""

from __future__ import annotations

from typing import Any

from starlette.requests import ClientDisconnect, Request

from db.errors import FieldError, IncompleteBody, PayloadTooLarge
from db.json_input import MAX_DEPTH, decode_object


def parse_object(raw: bytes, *, max_depth: int = MAX_DEPTH) -> dict[str, Any]:
    """The JSON object in ``raw``; MalformedBody (a 400 with its own code) when it is not one:
    INVALID_UTF8, INVALID_JSON, NESTING_TOO_DEEP, NUMBER_TOO_LARGE or BODY_NOT_OBJECT
    (db/json_input.py, the one decoder every transport shares)."""
    return decode_object(raw, max_depth=max_depth)


async def read(request: Request, limit: int) -> bytes:
    """The whole body, refused with 413 PAYLOAD_TOO_LARGE as soon as it passes ``limit`` bytes."""
    chunks = bytearray()
    try:
        async for chunk in request.stream():
            chunks += chunk
            if len(chunks) > limit:
                raise PayloadTooLarge(
                    f"the body is larger than {limit} bytes",
                    errors=[FieldError(("body",), PayloadTooLarge.code, f"is larger than {limit} bytes")],
                )
    except ClientDisconnect:
        raise IncompleteBody.after(len(chunks)) from None
    return bytes(chunks)
