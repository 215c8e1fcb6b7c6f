"""Malformed JSON every decoder is given (REST and GraphQL bodies, GraphQL GET parameters,
WebSocket messages, bulk-load lines), each with the catalogue code it must be refused with: the
one decoder (db/json_input.py) answers them all alike."""

from __future__ import annotations

DEEP_ARRAYS = b"[" * 100_000 + b"]" * 100_000
DEEP_OBJECTS = b'{"a":' * 600 + b"1" + b"}" * 600

# (id, raw bytes, code) for places that want one JSON object.
OBJECT_CASES: list[tuple[str, bytes, str]] = [
    ("not-utf8", b"\x00\xff not json", "INVALID_UTF8"),
    ("overlong-utf8", b'{"q":"\xc0\xaf"}', "INVALID_UTF8"),
    ("surrogate-bytes", b'{"q":"\xed\xa0\x80"}', "INVALID_UTF8"),
    ("lone-surrogate-escape", b'{"q": "\\ud800"}', "INVALID_UTF8"),
    ("utf16-bom", b"\xff\xfe{\x00}\x00", "INVALID_UTF8"),
    ("utf8-bom", b'\xef\xbb\xbf{"q": 1}', "INVALID_JSON"),
    ("syntax", b"{not json", "INVALID_JSON"),
    ("trailing", b'{"q": 1} x', "INVALID_JSON"),
    ("nan", b'{"q": NaN}', "INVALID_JSON"),
    ("null", b"null", "BODY_NOT_OBJECT"),
    ("number", b"1", "BODY_NOT_OBJECT"),
    ("string", b'"x"', "BODY_NOT_OBJECT"),
    ("array", b"[1]", "BODY_NOT_OBJECT"),
    ("boolean", b"true", "BODY_NOT_OBJECT"),
    ("deep-100000", DEEP_ARRAYS, "NESTING_TOO_DEEP"),
    ("deep-600", DEEP_OBJECTS, "NESTING_TOO_DEEP"),
    ("deep-65", b'{"a":' * 65 + b"1" + b"}" * 65, "NESTING_TOO_DEEP"),
    ("long-integer", b'{"a": ' + b"1" * 5000 + b"}", "NUMBER_TOO_LARGE"),
    ("integer-past-64-bits", b'{"a": -99999999999999999999}', "NUMBER_TOO_LARGE"),
    ("infinite-float", b'{"a": 1e400}', "NUMBER_TOO_LARGE"),
]


def deep_value(levels: int) -> bytes:
    """A JSON array nested ``levels`` deep: the value of a variable."""
    return b"[" * levels + b"]" * levels
