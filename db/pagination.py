"""Opaque keyset cursors. A cursor records the sort order it belongs to, the sort key of the last
row seen (as text, cast back in SQL) and its id; using it with another order is an error."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from dataclasses import dataclass

import orjson

from db.errors import BadUserInput, FieldError
from db.fields import INVALID, Checks, timestamp


@dataclass(frozen=True)
class Cursor:
    order: str
    key: str
    id: str
    # The time of an "as of" read: a page after this cursor stays in the same past.
    as_of: str | None = None


def encode(cursor: Cursor) -> str:
    parts = [cursor.order, cursor.key, cursor.id]
    if cursor.as_of is not None:
        parts.append(cursor.as_of)
    return base64.urlsafe_b64encode(orjson.dumps(parts)).decode().rstrip("=")


def _fits(key: str, cast: str | None) -> bool:
    """Whether a sort key is text PostgreSQL wrote for a key of type ``cast``."""
    try:
        if cast == "date":
            dt.date.fromisoformat(key)
        elif cast == "timestamptz":
            return dt.datetime.fromisoformat(key).tzinfo is not None
        elif cast == "float8":
            float(key)
    except ValueError:
        return False
    return True


def _not_ours(param: str) -> BadUserInput:
    return BadUserInput(
        f"{param} is not a cursor returned by this API",
        errors=[FieldError((param,), "INVALID_CURSOR", "is not a cursor returned by this API")],
    )


def decode(value: str, *, order: str, param: str = "cursor", cast: str | None = None) -> Cursor:
    """Decode a cursor given by a client, naming ``param`` in the error when it is not one of ours
    (``cast``: the type its sort key must be text of, so a made-up one never reaches PostgreSQL's
    cast, which refused it as a bad write)."""
    try:
        if len(value) > 1000:
            raise ValueError("too long")
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        parts = orjson.loads(raw)
        if not isinstance(parts, list) or len(parts) not in (3, 4) or not all(isinstance(x, str) for x in parts):
            raise ValueError("bad parts")
        order_name, key, ident = parts[:3]
        as_of = parts[3] if len(parts) == 4 else None
        # The time a cursor carries is read as the asOf parameter is: one a client made up must
        # not reach the lens unchecked (it raised there, a 500).
        if as_of is not None and timestamp()(as_of, (param,), Checks()) is INVALID:
            raise ValueError("bad asOf")
    except (ValueError, TypeError, binascii.Error, orjson.JSONDecodeError):
        raise _not_ours(param) from None
    if order_name != order:
        raise BadUserInput(
            f"{param} belongs to the order {order_name!r}, not {order!r}",
            errors=[FieldError((param,), "INVALID_CURSOR", f"was issued for order {order_name!r}")],
        )
    # Of the order asked for, so its key has that order's type.
    if not _fits(key, cast):
        raise _not_ours(param)
    return Cursor(order_name, key, ident, as_of)


def as_of_of(value: str | None, as_of: str | None, *, order: str, param: str = "cursor") -> str | None:
    """The time a page is read at: ``as_of`` as asked, or the one its cursor carries. A cursor
    from another time (or from the present) is refused: it would page through another state."""
    if value is None:
        return as_of
    carried = decode(value, order=order, param=param).as_of
    if as_of is None or carried == as_of:
        return carried
    issued = f"asOf {carried}" if carried else "the current state"
    raise BadUserInput(
        f"{param} was issued for {issued}, not asOf {as_of}",
        errors=[FieldError((param,), "INVALID_CURSOR", f"was issued for {issued}; leave asOf out to keep paging")],
    )


def after_id(value: str | None, *, as_of: str | None, order: str, param: str = "after") -> str | None:
    """The id a nested page starts after, from a cursor that must belong to the read's time."""
    if value is None:
        return None
    as_of_of(value, as_of, order=order, param=param)
    return decode(value, order=order, param=param).id
