"""The ceiling for HTTP benchmarks: a Starlette route returning a constant JSON body, served by the
same uvicorn (uvloop, httptools, api/http_protocol.py) as the product. Not part of the product."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

BODY = b'{"data":{"__typename":"Query"}}'


async def constant(request: Request) -> Response:
    await request.body()
    return Response(BODY, media_type="application/json")


app = Starlette(routes=[Route("/graphql", constant, methods=["GET", "POST"])])
