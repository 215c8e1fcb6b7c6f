"""Bind parameters of one statement, handed out as $n placeholders while its SQL is built."""

from __future__ import annotations

from typing import Any


class Params:
    def __init__(self) -> None:
        self.values: list[Any] = []
        self._once: dict[Any, str] = {}

    @classmethod
    def of(cls, *values: Any) -> Params:
        """Parameters whose first placeholders ($1, $2, …) the SQL names directly."""
        params = cls()
        params.values.extend(values)
        return params

    def add(self, value: Any) -> str:
        self.values.append(value)
        return f"${len(self.values)}"

    def once(self, value: Any) -> str:
        """One placeholder for a value used many times in a statement (a lens's time)."""
        found = self._once.get(value)
        if found is None:
            found = self._once[value] = self.add(value)
        return found
