"""JSON from outside, taken apart defensively, once for every decoder: HTTP bodies (api/body.py),
GraphQL requests and their variables (api/graphql/request.py), WebSocket messages
(api/graphql/ws.py) and bulk-load lines (db/bulk.py). Strict UTF-8, no byte order mark, nesting
bounded far below where recursive code breaks, integers that fit 64 bits; each refusal is its own
catalogue code (db/errors.py), naming where it was found. It sits in db/ because the bulk loader
needs it and imports go api → schema → db."""

from __future__ import annotations

from typing import Any

import orjson

from db.errors import (
    BodyNotObject,
    FieldError,
    InvalidJson,
    InvalidUtf8,
    MalformedBody,
    NestingTooDeep,
    NumberTooLarge,
)

# Deeper than any document the service takes (a fact nests 4 levels; GeoJSON a few more), far
# below where recursive code breaks: orjson's dumps stops at 254 levels (the GraphQL cache key and
# every answer are dumped), its loads at 1,024, graphql-core's value coercion at Python's stack.
MAX_DEPTH = 64
# Integers must fit 64 bits. orjson reads a longer integer as a float, silently rounding it; a
# number that would be infinite as a float it refuses. Either way: NUMBER_TOO_LARGE.
MAX_INTEGER = 2**63 - 1
_BIG = float(MAX_INTEGER)
_BOM = b"\xef\xbb\xbf"

Path = tuple[str | int, ...]


def refuse(
    cls: type[MalformedBody], message: str, *, subject: str = "the body", path: Path = ("body",)
) -> MalformedBody:
    """``cls`` for ``subject`` (``"the body"``, ``"the message"``, ``"line 3"``), naming ``path``."""
    return cls(f"{subject} {message}", errors=[FieldError(path, cls.code, message)])


def decode(raw: bytes | str, *, subject: str = "the body", path: Path = ("body",), max_depth: int = MAX_DEPTH) -> Any:
    """The JSON value in ``raw``; MalformedBody (a 400 with its own code) when it is not one we
    take: INVALID_UTF8, INVALID_JSON, NESTING_TOO_DEEP or NUMBER_TOO_LARGE."""
    if isinstance(raw, str):
        # Text that came decoded (a WebSocket frame): lone surrogates cannot be UTF-8.
        raw = raw.encode("utf-8", "surrogatepass")
    try:
        raw.decode("utf-8")  # strict: orjson's own message for bad bytes reads like a syntax error
    except UnicodeDecodeError as exc:
        raise refuse(InvalidUtf8, f"is not valid UTF-8 (byte {exc.start})", subject=subject, path=path) from None
    if raw.startswith(_BOM):
        # RFC 8259 §8.1: senders must not add one; ours is the clear refusal, not a parse error.
        raise refuse(
            InvalidJson, "starts with a byte order mark (U+FEFF): send UTF-8 without one", subject=subject, path=path
        )
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise _classified(str(exc), subject, path, max_depth) from None
    _check(value, max_depth, subject, path)
    return value


def decode_object(
    raw: bytes | str, *, subject: str = "the body", path: Path = ("body",), max_depth: int = MAX_DEPTH
) -> dict[str, Any]:
    """As ``decode``, and BODY_NOT_OBJECT unless the value is a JSON object."""
    value = decode(raw, subject=subject, path=path, max_depth=max_depth)
    if not isinstance(value, dict):
        raise refuse(BodyNotObject, f"must be a JSON object, not {json_type(value)}", subject=subject, path=path)
    return value


def _classified(text: str, subject: str, path: Path, max_depth: int) -> MalformedBody:
    if "depth limit" in text or "recursion" in text:
        return refuse(NestingTooDeep, f"nests deeper than {max_depth} levels", subject=subject, path=path)
    if "infinity" in text or ("number" in text and "range" in text):
        return refuse(NumberTooLarge, f"has a number beyond ±{MAX_INTEGER}", subject=subject, path=path)
    if "surrogate" in text:  # a \ud800 escape with no pair: no Unicode character, so no UTF-8 either
        return refuse(InvalidUtf8, f"is not valid UTF-8 ({text})", subject=subject, path=path)
    return refuse(InvalidJson, f"is not valid JSON: {text}", subject=subject, path=path)


def _check(value: Any, max_depth: int, subject: str, path: Path) -> None:
    """Depth and number bounds, iteratively (a recursive walk is what deep input is meant to break)."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            if _too_large(item):
                raise refuse(NumberTooLarge, f"has a number beyond ±{MAX_INTEGER}", subject=subject, path=path)
            continue
        if depth >= max_depth:
            raise refuse(NestingTooDeep, f"nests deeper than {max_depth} levels", subject=subject, path=path)
        for child in children:
            if isinstance(child, dict | list):
                stack.append((child, depth + 1))
            elif _too_large(child):
                raise refuse(NumberTooLarge, f"has a number beyond ±{MAX_INTEGER}", subject=subject, path=path)


def _too_large(value: Any) -> bool:
    if isinstance(value, int) and not isinstance(value, bool):
        return not -MAX_INTEGER - 1 <= value <= MAX_INTEGER
    # An integer literal orjson rounded into a float (or 1e19-style): not exact.
    return isinstance(value, float) and abs(value) >= _BIG and value.is_integer()


def json_type(value: Any) -> str:
    """``value``'s JSON type, with its article, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, dict):
        return "an object"
    return "an array"
