"""The strawberry type of each fact kind. The type modules register their class as they define it,
so the modules they import (loaders, node, search, subscriptions) can build typed objects from
documents without importing them back."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from schema.common import from_doc

T = TypeVar("T", bound=type)
_TYPES: dict[str, type] = {}


def register(kind: str) -> Callable[[T], T]:
    """Class decorator: ``cls`` is the GraphQL type of facts of ``kind``."""

    def add(cls: T) -> T:
        _TYPES[kind] = cls
        return cls

    return add


def class_for(kind: str) -> type:
    return _TYPES[kind]


def as_object(doc: dict[str, Any]) -> Any:
    """A fact document as the strawberry object of its kind."""
    return from_doc(_TYPES[doc["object"]], doc)
