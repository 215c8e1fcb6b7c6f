"""/graphql takes bodies apart defensively, as REST does (api/body.py): every malformed body of the
issue's reproductions is a 400 naming its own code — never a 500 — and the WebSocket protocol
refuses frames that are not its text messages."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
import websockets

from tests.api.live_events import ws_url
from tests.services import LiveServer

JSON = {"content-type": "application/json"}
CASES = [
    (b"\x00\xff not json", "INVALID_UTF8"),
    (b'{"q":"\xc0\xaf"}', "INVALID_UTF8"),
    (b"{not json", "INVALID_JSON"),
    (b"null", "BODY_NOT_OBJECT"),
    (b"1", "BODY_NOT_OBJECT"),
    (b'"x"', "BODY_NOT_OBJECT"),
    (b"[" * 100_000 + b"]" * 100_000, "NESTING_TOO_DEEP"),
    (b'{"a":' * 10_000 + b"1" + b"}" * 10_000, "NESTING_TOO_DEEP"),
    (b'{"query":"{ __typename }","variables":{"n":' + b"9" * 5_000 + b"}}", "NUMBER_TOO_LARGE"),
    (
        b'{"query":"query($v: JSON) { __typename }","variables":{"v":' + b"[" * 500 + b"]" * 500 + b"}}",
        "NESTING_TOO_DEEP",
    ),
]


@pytest.mark.parametrize(("body", "code"), CASES, ids=[c for _, c in CASES])
def test_a_malformed_graphql_body_is_a_400_with_its_own_code(server: LiveServer, body: bytes, code: str) -> None:
    r = httpx.post(server.url + "/graphql", content=body, headers=JSON, timeout=10)
    assert r.status_code == 400, r.text
    (error,) = r.json()["errors"]
    assert error["extensions"]["code"] == code
    assert error["extensions"]["errors"][0]["path"] == ["body"]


def test_a_body_over_the_limit_is_a_413(server: LiveServer) -> None:
    big = b'{"query":"{ __typename }","pad":"' + b"x" * (server.settings.max_body_bytes + 1) + b'"}'
    r = httpx.post(server.url + "/graphql", content=big, headers=JSON, timeout=30)
    assert r.status_code == 413
    assert r.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"


def test_a_well_formed_body_still_reaches_both_paths(server: LiveServer) -> None:
    planned = httpx.post(server.url + "/graphql", json={"query": "{ __typename }"}, timeout=10)
    assert planned.json()["data"] == {"__typename": "Query"}
    invalid = httpx.post(server.url + "/graphql", json={"query": "{ nope }"}, timeout=10)
    assert invalid.status_code == 200 and invalid.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


@pytest.mark.anyio
@pytest.mark.parametrize(
    "frame", [b'{"type":"connection_init"}', json.dumps({"type": "connection_init", "payload": {"authorization": 5}})]
)
async def test_websocket_refuses_binary_frames_and_non_string_authorization(
    server: LiveServer, frame: bytes | str
) -> None:
    protocol = [websockets.Subprotocol("graphql-transport-ws")]
    async with websockets.connect(ws_url(server.url), subprotocols=protocol) as ws:
        await ws.send(frame)
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4400
