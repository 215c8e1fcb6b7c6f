"""Per-operation DataLoaders: facts by id (one ``get_many`` per kind per tick), reverse relations
and their counts (one LATERAL statement per relation shape), and revisions. Statements therefore
depend on the shape of a query, never on how many rows it returns."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from typing import Any

from strawberry.dataloader import DataLoader

from db import queries, relations
from db.lens import Lens
from db.pool import Conn
from db.registry import FACT_TYPES
from schema.kinds import as_object

Connect = Callable[[], contextlib.AbstractAsyncContextManager[Conn]]


# (kind, relation, parent id, limit, after id)
RelatedKey = tuple[str, str, str, int, str | None]
RelatedPage = tuple[list[dict[str, Any]], list[str], bool]


# A loader's future is shared by every resolver that asked for the same key, and asyncio cancels
# the future a cancelled task awaits: when graphql-core cancels the siblings of a field whose
# non-null error nulled their parent, a bare await would cancel the future under every other
# resolver too, and their CancelledError escaped as a 500. Resolvers await loader futures shielded.


class Loaders:
    def __init__(self, connect: Connect, touched: set[str] | None = None, lens: Lens | None = None) -> None:
        self._connect = connect
        # What these loaders read: the caller's view of the facts, now or at one time.
        self.lens = lens or Lens()
        # Every id asked for (found or not: a later create changes a null answer) and every list family.
        self.touched = touched if touched is not None else set()
        self.by_kind: dict[str, DataLoader[str, Any]] = {
            kind: DataLoader(load_fn=self._by_id(kind)) for kind in FACT_TYPES
        }
        self.related: DataLoader[RelatedKey, RelatedPage] = DataLoader(load_fn=self._related)
        self.related_count: DataLoader[tuple[str, str, str], int] = DataLoader(load_fn=self._related_count)
        self.revisions: DataLoader[str, list[dict[str, Any]]] = DataLoader(load_fn=self._revisions)

    def _by_id(self, kind: str) -> Callable[[list[str]], Any]:
        async def load(ids: list[str]) -> list[Any]:
            self.touched.update(ids)
            async with self._connect() as conn:
                docs = await queries.get_many(conn, kind, ids, lens=self.lens)
            # Loaders hand out objects, so each fact is built once per operation however many
            # fields point at it.
            return [None if d is None else as_object(d) for d in docs]

        return load

    def fact(self, kind: str, fact_id: str | None) -> Any:
        """The object of one fact — itself when already loaded (see schema/prefetch.py), else an
        awaitable — or None without an id. Never a coroutine: resolvers return it as is."""
        if fact_id is None:
            return None
        future = self.by_kind[kind].load(fact_id)
        return future.result() if future.done() else asyncio.shield(future)  # type: ignore[attr-defined]

    def facts(self, kind: str, ids: Sequence[str] | None) -> Any:
        """The objects of several facts (missing ones left out): a list when all are loaded, else
        an awaitable of it."""
        loader = self.by_kind[kind]
        futures = [loader.load(i) for i in ids or ()]
        if all(f.done() for f in futures):  # type: ignore[attr-defined]
            return [o for o in (f.result() for f in futures) if o is not None]  # type: ignore[attr-defined]
        return _present(futures)

    async def _related(self, keys: list[RelatedKey]) -> list[RelatedPage]:
        self.touched.update(f"list:{key[0]}" for key in keys)
        groups: dict[tuple[str, str, int], list[int]] = {}
        for i, (kind, relation, _, limit, _) in enumerate(keys):
            groups.setdefault((kind, relation, limit), []).append(i)
        out: list[RelatedPage | None] = [None] * len(keys)

        async def run(group: tuple[str, str, int], positions: list[int]) -> None:
            kind, relation, limit = group
            async with self._connect() as conn:
                pages = await relations.related_pages(
                    conn, kind, relation, [(keys[i][2], keys[i][4]) for i in positions], limit, lens=self.lens
                )
            for i, page in zip(positions, pages, strict=True):
                out[i] = page

        await asyncio.gather(*(run(g, p) for g, p in groups.items()))
        return [p for p in out if p is not None]

    async def _related_count(self, keys: list[tuple[str, str, str]]) -> list[int]:
        self.touched.update(f"list:{key[0]}" for key in keys)
        groups: dict[tuple[str, str], list[int]] = {}
        for i, (kind, relation, _) in enumerate(keys):
            groups.setdefault((kind, relation), []).append(i)
        out = [0] * len(keys)

        async def run(group: tuple[str, str], positions: list[int]) -> None:
            async with self._connect() as conn:
                counts = await relations.related_counts(conn, *group, [keys[i][2] for i in positions], lens=self.lens)
            for i, n in zip(positions, counts, strict=True):
                out[i] = n

        await asyncio.gather(*(run(g, p) for g, p in groups.items()))
        return out

    async def _revisions(self, ids: list[str]) -> list[list[dict[str, Any]]]:
        self.touched.update(ids)
        async with self._connect() as conn:
            return await relations.revisions_of(conn, ids, lens=self.lens)


async def _present(futures: list[Any]) -> list[Any]:
    return [o for o in await asyncio.gather(*map(asyncio.shield, futures)) if o is not None]
