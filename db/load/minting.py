"""Ids for the records of a file that give none, minted the same on every load of that file: the
time part is when the file was first loaded (``load_files``, 0015), the random part a digest of
the file's bytes and the record's position in it. A load interrupted and run again thus refuses
what the first run stored (its ids are taken) rather than storing it twice."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from pathlib import Path

from db.ids import new_id
from db.pool import Conn

Minter = Callable[[str, int], str]  # (kind, position in the input) → id


def _digest(path: Path) -> bytes:
    with path.open("rb") as stream:
        return hashlib.file_digest(stream, lambda: hashlib.blake2b(digest_size=16)).digest()


async def for_file(conn: Conn, path: Path) -> Minter:
    """The minter of ``path``'s records, registering the file on its first load (committed at
    once, outside the load's batches, so an interrupted load leaves it behind)."""
    digest = await asyncio.to_thread(_digest, path)
    await conn.execute("INSERT INTO load_files (digest) VALUES ($1) ON CONFLICT (digest) DO NOTHING", digest)
    first = await conn.fetchval("SELECT first_loaded_at FROM load_files WHERE digest = $1", digest)
    at_ms = int(first.timestamp() * 1000)

    def mint(kind: str, position: int) -> str:
        rand = hashlib.blake2b(digest + position.to_bytes(8, "big"), digest_size=10).digest()
        return new_id(kind, at_ms=at_ms, rand=int.from_bytes(rand, "big"))

    return mint
