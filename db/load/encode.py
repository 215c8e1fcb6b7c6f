"""A batch's staged rows as the bytes of a binary ``COPY``, built in the loader's worker thread.
Handed rows, asyncpg encodes them while the COPY is under way, so PostgreSQL's backend sat waiting
on the loader's encoding (12-18 us per claim of its wall time); given bytes, it only reads them.
Staged columns are text, text[], integer, integer[] and boolean (db/load/stage.py); a stage with
any other type gets no payload and is copied from its rows as before."""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from typing import Any

_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0)
_TRAILER = struct.pack("!h", -1)
_NULL = struct.pack("!i", -1)
_TEXT_OID, _INT4_OID = 25, 23
_int32 = struct.Struct("!i").pack
_int16 = struct.Struct("!h").pack
_int4_field = struct.Struct("!ii").pack  # length 4, then the value
_array_head = struct.Struct("!iiiii").pack  # ndim 1, has NULL, element type, length, lower bound
_empty_array = {oid: struct.pack("!iii", 0, 0, oid) for oid in (_TEXT_OID, _INT4_OID)}
_TRUE, _FALSE = struct.pack("!ib", 1, 1), struct.pack("!ib", 1, 0)

Encoder = Callable[[Any], bytes]


def _text(value: str) -> bytes:
    data = value.encode()
    return _int32(len(data)) + data


def _integer(value: int) -> bytes:
    return _int4_field(4, value)


def _boolean(value: bool) -> bytes:
    return _TRUE if value else _FALSE


def _text_element(value: str | None) -> bytes:
    return _NULL if value is None else _text(value)


def _int_element(value: int | None) -> bytes:
    return _NULL if value is None else _int4_field(4, value)


def _array(oid: int, element: Callable[[Any], bytes]) -> Encoder:
    def encode(values: Sequence[Any]) -> bytes:
        if not values:
            body = _empty_array[oid]
        else:
            has_null = 1 if None in values else 0
            body = _array_head(1, has_null, oid, len(values), 1) + b"".join([element(v) for v in values])
        return _int32(len(body)) + body

    return encode


ENCODERS: dict[str, Encoder] = {
    "text": _text,
    "integer": _integer,
    "boolean": _boolean,
    "text[]": _array(_TEXT_OID, _text_element),
    "integer[]": _array(_INT4_OID, _int_element),
}


def encoders(types: Sequence[str]) -> list[Encoder] | None:
    """The encoder of each column type, or None when one of them has none here."""
    found = [ENCODERS.get(t) for t in types]
    return None if any(e is None for e in found) else [e for e in found if e is not None]


def payload(columns: Sequence[Encoder], rows: Sequence[tuple[Any, ...]]) -> bytes:
    """The binary COPY of ``rows`` (one value per column, None for NULL): header, tuples, trailer."""
    count = _int16(len(columns))
    parts = [_HEADER]
    for row in rows:
        parts.append(count)
        parts.extend([_NULL if v is None else encode(v) for encode, v in zip(columns, row, strict=True)])
    parts.append(_TRAILER)
    return b"".join(parts)
