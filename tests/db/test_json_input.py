"""The decoder's look at the text before walking the value (db/json_input._may_break_bounds) never
lets through what the walk refuses: for numbers at and past the bounds, written every way JSON
allows, and for nesting at and past the limit, decoding refuses exactly what the walk refuses."""

from __future__ import annotations

import random

import orjson
import pytest

from db import generate
from db.errors import MalformedBody
from db.json_input import MAX_DEPTH, MAX_INTEGER, _check, decode


def walk_refuses(raw: bytes) -> str | None:
    try:
        _check(orjson.loads(raw), MAX_DEPTH, "the record", ())
    except MalformedBody as exc:
        return exc.code
    return None


def decode_refuses(raw: bytes) -> str | None:
    try:
        decode(raw, subject="the record", path=())
    except MalformedBody as exc:
        return exc.code
    return None


NUMBERS = [
    b"9223372036854775807", b"-9223372036854775808", b"9223372036854775808", b"-9223372036854775809",
    b"18446744073709551615", b"99999999999999999999", b"1e19", b"1E19", b"1e+19", b"-1e19", b"9.3e18",
    b"9.2e18", b"1.0e19", b"1e18", b"9223372036854775808.0", b"9223372036854775807.5", b"1.5e3",
    b"0.1e-5", b"123", b"-0", b"1e308",
]  # fmt: skip
SPACES = [b"", b" ", b"\n", b"\t", b"\r\n "]


@pytest.mark.parametrize("number", NUMBERS)
def test_a_number_is_refused_by_decode_exactly_when_the_walk_refuses_it(number: bytes) -> None:
    for space in SPACES:
        for raw in (
            space + number + space,
            b'{"a":' + space + number + b"}",
            b"[1," + space + number + b"]",
            b"[" + space + number + b"]",
            b'{"s": "x", "a": {"b": [' + space + number + space + b"]}}",
        ):
            assert decode_refuses(raw) == walk_refuses(raw), raw


@pytest.mark.parametrize("levels", [MAX_DEPTH - 1, MAX_DEPTH, MAX_DEPTH + 1])
def test_nesting_is_refused_by_decode_exactly_when_the_walk_refuses_it(levels: int) -> None:
    for open_, close in ((b"[", b"]"), (b'{"a":', b"}")):
        raw = open_ * levels + b"1" + close * levels
        assert decode_refuses(raw) == walk_refuses(raw), raw


def test_generated_records_and_their_mutations_are_judged_as_the_walk_judges_them() -> None:
    rng = random.Random(25)
    for record in generate.records(5, 50, seed=25):
        raw = orjson.dumps(record)
        assert decode_refuses(raw) is walk_refuses(raw) is None
        big = str(rng.choice([MAX_INTEGER, MAX_INTEGER + 1, -MAX_INTEGER - 2, 2.0**63, 1e19, 12])).encode()
        mutated = raw[:-1] + b',"extra":[' + big + b',{"deep":' + big + b"}]}"
        assert decode_refuses(mutated) == walk_refuses(mutated), mutated
