"""api/ticker.py: one timer ticks many members; a member joins from the next tick on and leaves at once."""

from __future__ import annotations

import asyncio

import pytest

from api.ticker import Tickers

pytestmark = pytest.mark.anyio


class Member:
    def __init__(self, name: str, log: list[str]) -> None:
        self.name, self.log = name, log

    def tick(self) -> None:
        self.log.append(self.name)


class Failing:
    def tick(self) -> None:
        raise RuntimeError("boom")


async def test_members_tick_on_one_timer_and_joiners_wait_for_the_next_tick() -> None:
    log: list[str] = []
    tickers = Tickers(asyncio.get_running_loop())
    ticker = tickers.every(0.05)
    assert tickers.every(0.05) is ticker
    a, b = Member("a", log), Member("b", log)
    ticker.add(a)
    ticker.add(Failing())  # its failure does not stop the others
    while log.count("a") < 1:
        await asyncio.sleep(0.01)
    ticker.add(b)  # joins while the ticker runs: skips the tick in progress
    ticks_before_b = log.count("a")
    while "b" not in log:
        await asyncio.sleep(0.01)
    assert log.count("a") > ticks_before_b
    ticker.discard(a)
    seen = log.count("a")
    while log.count("b") < 3:
        await asyncio.sleep(0.01)
    assert log.count("a") == seen


async def test_the_timer_stops_when_the_last_member_leaves() -> None:
    ticker = Tickers(asyncio.get_running_loop()).every(0.05)
    m = Member("m", [])
    ticker.add(m)
    assert ticker._handle is not None
    ticker.discard(m)
    assert ticker._handle is None and not ticker.members
