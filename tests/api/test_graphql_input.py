"""/graphql takes bodies apart defensively, with the decoder REST uses (db/json_input.py): every
malformed body of the shared corpus (tests/malformed_json.py) and of issue 23's reproductions —
variables 600 and 100,000 levels deep with the cache on or off, huge numbers, a body whose
Content-Type is not JSON — is a 4xx naming its own code, never a 500; the WebSocket protocol
closes with 4400 and the code on every message the decoder refuses, and on frames that are not
its text messages."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
import websockets

from tests.api.live_events import ws_url
from tests.malformed_json import OBJECT_CASES, deep_value
from tests.services import LiveServer

JSON = {"content-type": "application/json"}


def _decodable(raw: bytes) -> bool:
    """Whether ``raw`` can be a WebSocket text frame at all (text frames are UTF-8 by RFC 6455)."""
    try:
        raw.decode()
    except UnicodeDecodeError:
        return False
    return True


DEEP_VARIABLES = b'{"query":"query($v: JSON) { __typename }","variables":{"v":%s}}'


@pytest.mark.parametrize(("body", "code"), [c[1:] for c in OBJECT_CASES], ids=[c[0] for c in OBJECT_CASES])
def test_a_malformed_graphql_body_is_a_400_with_its_own_code(server: LiveServer, body: bytes, code: str) -> None:
    r = httpx.post(server.url + "/graphql", content=body, headers=JSON, timeout=10)
    assert r.status_code == 400, r.text
    (error,) = r.json()["errors"]
    assert error["extensions"]["code"] == code
    assert error["extensions"]["errors"][0]["path"] == ["body"]


@pytest.mark.parametrize("levels", [200, 600, 100_000])
@pytest.mark.parametrize("which", ["server", "cached_server"])
def test_deeply_nested_variables_are_a_400_with_the_cache_on_or_off(
    which: str, levels: int, request: pytest.FixtureRequest
) -> None:
    """Issue 23: 600 levels were a 500 "Recursion limit reached" with the cache on (its key dumped
    the variables with orjson, whose dumps stops at 254 levels, before the body was checked)."""
    live: LiveServer = request.getfixturevalue(which)
    r = httpx.post(live.url + "/graphql", content=DEEP_VARIABLES % deep_value(levels), headers=JSON, timeout=10)
    assert r.status_code == 400, r.text
    assert r.json()["errors"][0]["extensions"]["code"] == "NESTING_TOO_DEEP"


@pytest.mark.parametrize("number", [b"9" * 5000, b"-99999999999999999999", b"1e400", b"18446744073709551616"])
def test_huge_numbers_in_variables_are_a_400(server: LiveServer, number: bytes) -> None:
    r = httpx.post(server.url + "/graphql", content=DEEP_VARIABLES % number, headers=JSON, timeout=10)
    assert r.status_code == 400 and r.json()["errors"][0]["extensions"]["code"] == "NUMBER_TOO_LARGE", r.text


@pytest.mark.parametrize("body", [b"null", b"\xff\xfe", b'{"query": "{ __typename }"}'])
def test_a_body_that_is_not_json_by_its_content_type_is_a_415_not_the_views_500(
    server: LiveServer, body: bytes
) -> None:
    """Issue 23: ``application/jsonx`` sent the body on to strawberry unparsed: null was a 500
    AttributeError, invalid UTF-8 a 500 UnicodeDecodeError."""
    r = httpx.post(server.url + "/graphql", content=body, headers={"content-type": "application/jsonx"}, timeout=10)
    assert r.status_code == 415, r.text
    assert r.json()["errors"][0]["extensions"]["code"] == "UNSUPPORTED_MEDIA_TYPE"


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


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("frame", "code"),
    [
        *[(raw.decode(), code) for _, raw, code in OBJECT_CASES if _decodable(raw)],
        ("", "INVALID_JSON"),
        ('{"type":"subscribe","id":"1","payload":{"query":"query($v: JSON) { __typename }","variables":{"v":'
         + "[" * 600 + "]" * 600 + "}}}", "NESTING_TOO_DEEP"),
    ],
)  # fmt: skip
async def test_websocket_messages_the_decoder_refuses_close_with_4400_and_their_code(
    server: LiveServer, frame: str, code: str
) -> None:
    protocol = [websockets.Subprotocol("graphql-transport-ws")]
    async with websockets.connect(ws_url(server.url), subprotocols=protocol, max_size=None) as ws:
        if code == "NESTING_TOO_DEEP" and "subscribe" in frame:
            await ws.send('{"type":"connection_init"}')
            assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "connection_ack"
        await ws.send(frame)
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4400
    assert code in closed.value.rcvd.reason
