"""Opaque keyset cursors. A cursor records the sort order it belongs to, the sort key of the last
row seen (as text, cast back in SQL) and its id; using it with another order is an error."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

import orjson

from db.errors import BadUserInput, FieldError


@dataclass(frozen=True)
class Cursor:
    order: str
    key: str
    id: str


def encode(cursor: Cursor) -> str:
    raw = orjson.dumps([cursor.order, cursor.key, cursor.id])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(value: str, *, order: str, param: str = "cursor") -> Cursor:
    """Decode a cursor given by a client, naming ``param`` in the error when it is not one of ours."""
    try:
        if len(value) > 1000:
            raise ValueError("too long")
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        order_name, key, ident = orjson.loads(raw)
        if not all(isinstance(x, str) for x in (order_name, key, ident)):
            raise ValueError("bad parts")
    except (ValueError, TypeError, binascii.Error, orjson.JSONDecodeError):
        raise BadUserInput(
            f"{param} is not a cursor returned by this API",
            errors=[FieldError((param,), "INVALID_CURSOR", "is not a cursor returned by this API")],
        ) from None
    if order_name != order:
        raise BadUserInput(
            f"{param} belongs to the order {order_name!r}, not {order!r}",
            errors=[FieldError((param,), "INVALID_CURSOR", f"was issued for order {order_name!r}")],
        )
    return Cursor(order_name, key, ident)
