"""The floor for the nested GraphQL benchmarks: a Starlette route per query whose one SQL statement
builds the whole response JSON in PostgreSQL (json_build_object / json_agg), returned as the bytes
PostgreSQL sent. What any GraphQL server on this stack could at best approach. Not part of the
product; ``DATABASE_URL`` names the database."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

# The speaker's first 3 claims, spliced into the speaker object for (d).
_SPEAKER_CLAIMS = """, 'claimsAsSpeaker', json_build_object('nodes', coalesce((
    SELECT json_agg(json_build_object('id', x.id, 'statement', x.statement) ORDER BY x.id)
    FROM (SELECT id, statement FROM claims WHERE speaker_id = s.id ORDER BY id LIMIT 3) x), '[]'::json))"""


def nested_sql(*, speaker_claims: bool) -> str:
    """(c) 20 articles (by id = createdAt) x their first 5 claims (by id) x speaker; with
    ``speaker_claims`` (d), each speaker's first 3 claims too. Same shape as our GraphQL answer."""
    extra = _SPEAKER_CLAIMS if speaker_claims else ""  # a constant: nothing from the request is interpolated
    return f"""
SELECT json_build_object('data', json_build_object('articles', json_build_object('nodes', coalesce((
  SELECT json_agg(json_build_object('id', a.id, 'headline', a.headline, 'claims', json_build_object('nodes',
    coalesce((
      SELECT json_agg(json_build_object('id', c.id, 'statement', c.statement, 'speaker', (
          SELECT json_build_object('id', s.id, 'name', s.name{extra}) FROM actors s WHERE s.id = c.speaker_id
        )) ORDER BY c.id)
      FROM (SELECT id, statement, speaker_id FROM claims WHERE article_ids @> ARRAY[a.id::text] ORDER BY id LIMIT 5) c
    ), '[]'::json))) ORDER BY a.id)
  FROM (SELECT id, headline FROM articles ORDER BY id LIMIT 20) a
), '[]'::json))))"""


STATEMENTS = {"c": nested_sql(speaker_claims=False), "d": nested_sql(speaker_claims=True)}


async def _raw_json(conn: asyncpg.Connection[Any]) -> None:
    # Binary json is the text itself: the decoder hands PostgreSQL's bytes through untouched.
    await conn.set_type_codec("json", encoder=bytes, decoder=bytes, schema="pg_catalog", format="binary")


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    pool = await asyncpg.create_pool(os.environ["DATABASE_URL"], min_size=2, max_size=10, init=_raw_json)
    app.state.pool = pool
    try:
        yield
    finally:
        await pool.close()


async def floor(request: Request) -> Response:
    await request.body()
    sql = STATEMENTS[request.path_params["query"]]
    async with request.app.state.pool.acquire() as conn:
        body: bytes = await conn.fetchval(sql)
    return Response(body, media_type="application/json")


async def claim_by_id(request: Request) -> Response:
    """A claim's document by primary key: the least any REST item read on this stack could do."""
    async with request.app.state.pool.acquire() as conn:
        body: bytes | None = await conn.fetchval(
            "SELECT claim_doc(c)::json FROM claims c WHERE c.id = $1", request.path_params["id"]
        )
    if body is None:
        return Response(b'{"status": 404}', status_code=404, media_type="application/json")
    return Response(body, media_type="application/json")


async def healthz(request: Request) -> Response:
    return Response(b"ok")


app = Starlette(
    routes=[
        Route("/floor/{query:str}", floor, methods=["POST"]),
        Route("/claims/{id:str}", claim_by_id),
        Route("/healthz", healthz),
    ],
    lifespan=lifespan,
)
