"""Request bodies, taken apart defensively for every transport (REST writes, webhook admin, /graphql):
read within a byte limit, strict UTF-8, JSON with bounded nesting and 64-bit numbers, an object at
the top. Each refusal is its own catalogue code (db/errors.py), always a 400 naming ``/body``.

It sits here, below api/rest and the GraphQL endpoint and above nothing but the catalogue, because
it is about HTTP bytes rather than data (db/ holds SQL), and any transport may import it."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request

from db.errors import (
    BodyNotObject,
    FieldError,
    InvalidJson,
    InvalidUtf8,
    MalformedBody,
    NestingTooDeep,
    NumberTooLarge,
    PayloadTooLarge,
)

# Deeper than any document the service takes (a fact nests 4 levels; GeoJSON a few more), far
# below where recursive code (graphql-core's value coercion, orjson's own 1024) would break.
MAX_DEPTH = 64
# Integers must fit 64 bits. orjson reads a longer integer as a float, silently rounding it; a
# number that would be infinite as a float it refuses. Either way: NUMBER_TOO_LARGE.
MAX_INTEGER = 2**63 - 1
_BIG = float(MAX_INTEGER)


def _refuse(cls: type[MalformedBody], message: str) -> MalformedBody:
    return cls(f"the body {message}", errors=[FieldError(("body",), cls.code, message)])


def parse_object(raw: bytes, *, max_depth: int = MAX_DEPTH) -> dict[str, Any]:
    """The JSON object in ``raw``; MalformedBody (a 400 with its own code) when it is not one:
    INVALID_UTF8, INVALID_JSON, NESTING_TOO_DEEP, NUMBER_TOO_LARGE or BODY_NOT_OBJECT."""
    try:
        raw.decode("utf-8")  # strict: orjson's own message for bad bytes reads like a syntax error
    except UnicodeDecodeError as exc:
        raise _refuse(InvalidUtf8, f"is not valid UTF-8 (byte {exc.start})") from None
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        text = str(exc)
        if "depth limit" in text or "recursion" in text:
            raise _refuse(NestingTooDeep, f"nests deeper than {max_depth} levels") from None
        if "infinity" in text or ("number" in text and "range" in text):
            raise _refuse(NumberTooLarge, f"has a number beyond ±{MAX_INTEGER}") from None
        if "surrogate" in text or "UTF-8" in text:
            raise _refuse(InvalidUtf8, f"is not valid UTF-8 ({text})") from None
        raise _refuse(InvalidJson, f"is not valid JSON: {text}") from None
    if not isinstance(value, dict):
        raise _refuse(BodyNotObject, f"must be a JSON object, not {_json_type(value)}")
    _check(value, max_depth)
    return value


def _check(value: dict[str, Any], max_depth: int) -> None:
    """Depth and number bounds, iteratively (a recursive walk is what deep input is meant to break)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > max_depth:
            raise _refuse(NestingTooDeep, f"nests deeper than {max_depth} levels")
        for child in children:
            if isinstance(child, dict | list):
                stack.append((child, depth + 1))
            elif isinstance(child, int) and not isinstance(child, bool):
                if not -MAX_INTEGER - 1 <= child <= MAX_INTEGER:
                    raise _refuse(NumberTooLarge, f"has a number beyond ±{MAX_INTEGER}")
            elif isinstance(child, float) and abs(child) >= _BIG and child.is_integer():
                # An integer literal orjson rounded into a float (or 1e19-style): not exact.
                raise _refuse(NumberTooLarge, f"has a number beyond ±{MAX_INTEGER}")


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array"


async def read(request: Request, limit: int) -> bytes:
    """The whole body, refused with 413 PAYLOAD_TOO_LARGE as soon as it passes ``limit`` bytes."""
    chunks = bytearray()
    async for chunk in request.stream():
        chunks += chunk
        if len(chunks) > limit:
            raise PayloadTooLarge(
                f"the body is larger than {limit} bytes",
                errors=[FieldError(("body",), PayloadTooLarge.code, f"is larger than {limit} bytes")],
            )
    return bytes(chunks)
