"""Relations to facts named by id in a document, answered from the operation's DataLoaders: what
every type's relation resolvers return (value objects such as Reference included)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from strawberry.types import Info

if TYPE_CHECKING:
    from schema.context import Context


def linked(info: Info[Context, None], kind: str, ids: list[str] | None) -> Any:
    """The related facts: a list when already loaded, else an awaitable of it."""
    return info.context.loaders_for(info).facts(kind, ids)


def linked_one(info: Info[Context, None], kind: str, fact_id: str | None) -> Any:
    """The related fact as an awaitable (the loader's future), or None: resolvers return it as is."""
    return info.context.loaders_for(info).fact(kind, fact_id)
