"""What the asOf and recall read tests share: a second live server answering GraphQL on the
resolvers alone (so both paths are held to the same answers), and the database's clock."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest

from api.settings import Settings
from db.pool import connect
from tests.services import LiveServer


@pytest.fixture(scope="module")
def resolvers(settings: Settings) -> Iterator[LiveServer]:
    """A second server on the same database answering GraphQL on the resolvers alone."""
    live = LiveServer(dataclasses.replace(settings, graphql_planner=False)).start()
    try:
        yield live
    finally:
        live.stop()


async def database_now(database_url: str) -> str:
    """The database's clock: the times asOf compares against are its transaction times."""
    conn = await connect(database_url)
    try:
        return str((await conn.fetchval("SELECT clock_timestamp()")).isoformat())
    finally:
        await conn.close()
