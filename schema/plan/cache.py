"""Compiled plans kept by (document, operation name), bounded and least recently used first out:
the query, mutation and subscription planners each keep one, so a document is parsed, validated
and compiled once per process however often it is sent. None (a document left to the resolvers)
is kept too: the answer to "can this be planned" is as costly to find as a plan."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

PLAN_CACHE_SIZE = 512

T = TypeVar("T")


class PlanCache(Generic[T]):
    def __init__(self, size: int = PLAN_CACHE_SIZE) -> None:
        self.size = size
        self._plans: OrderedDict[tuple[str, str | None], T] = OrderedDict()

    def get(self, query: str, operation_name: str | None, compile: Callable[[str, str | None], T]) -> T:
        """The plan of ``query``'s operation ``operation_name``, compiled by ``compile`` on a miss."""
        key = (query, operation_name)
        plans = self._plans
        if key in plans:
            plans.move_to_end(key)
            return plans[key]
        plan = plans[key] = compile(query, operation_name)
        if len(plans) > self.size:
            plans.popitem(last=False)
        return plan

    def __len__(self) -> int:
        return len(self._plans)
