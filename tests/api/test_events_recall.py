"""The recall rules on every event channel, over real HTTP and WebSocket with a real worker: after an
article is withheld, anonymous callers, read keys and public webhook endpoints get no word of it —
live, replayed from 0 (REST, SSE, GraphQL) and redelivered (webhook replay and retry) — while write
keys and full endpoints get everything; a withdrawn claim's events are thin (REST, SSE, webhooks,
``events``) or left out (``claimChanged``); the public form of an article event is exactly what an
anonymous read of that version returns; shared subscriptions of two scopes never mix."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
from typing import Any

import httpx
import pytest
import websockets
from standardwebhooks import Webhook

from api.settings import Settings
from tests.api.live_events import SSEReader, api_key, bearer, event_log, graphql_ws, log_head, next_message
from tests.api.webhook_receiver import Receiver, eventually, register, running_worker
from tests.factories import quote_ref
from tests.services import LiveServer

pytestmark = pytest.mark.anyio

# Words of the withheld article's body (and of the quote and statement of the claim citing only it).
SECRET = ("Quillowarth", "Brammelstead", "zanthorine", "Vellicott", "Xerinthal")
HELD_BODY = (
    "Quillowarth harbour talks collapsed at Brammelstead. Officials met on Monday. A zanthorine cargo was seized."
)
OTHER_BODY = "Officials met on Monday. Trade resumed at the southern pier."
EVENTS = """subscription($after: Int) { events(after: $after) { sequence type objectId
  fact { ... on Article { headline summary body url subjects } ... on Claim { statement quote references { quoteText } } } } }"""
CLAIMS = """subscription($after: Int) { claimChanged(after: $after) {
  event { sequence type objectId } claim { id statement references { quoteText } } } }"""


@pytest.fixture(scope="module")
def keys(database_url: str) -> dict[str, str]:
    return {scope: asyncio.run(api_key(database_url, scope)) for scope in ("read", "write")}


def leaks(value: Any) -> list[str]:
    text = json.dumps(value)
    return [word for word in SECRET if word in text]


async def post(client: httpx.AsyncClient, path: str, body: dict[str, Any], key: str) -> dict[str, Any]:
    r = await client.post(path, json=body, headers=bearer(key))
    assert r.status_code == 201, r.text
    doc: dict[str, Any] = r.json()
    return doc


async def patch(client: httpx.AsyncClient, path: str, body: dict[str, Any], key: str, reason: str = "") -> None:
    r = await client.patch(path, json=body, headers=bearer(key), params={"reason": reason} if reason else None)
    assert r.status_code == 200, r.text


class Subscription:
    """A graphql-transport-ws operation whose ``next`` payloads are collected in the background."""

    def __init__(self, ws: websockets.ClientConnection, root: str) -> None:
        self.ws, self.root = ws, root
        self.got: list[dict[str, Any]] = []
        self._task: asyncio.Task[None] | None = None

    async def start(self, query: str, after: int | None = None) -> Subscription:
        payload = {"query": query, "variables": {"after": after}}
        await self.ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
        self._task = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        while True:
            try:
                message = await next_message(self.ws, timeout=60)
            except websockets.ConnectionClosed:
                return  # the test closed it
            assert message["type"] == "next", message
            self.got.append(message["payload"]["data"][self.root])

    def sequences(self) -> list[int]:
        return [int((g.get("event") or g)["sequence"]) for g in self.got]

    async def until(self, sequence: int) -> list[dict[str, Any]]:
        await eventually(lambda: self.sequences() and self.sequences()[-1] >= sequence)
        return self.got


async def test_reproduction_1_the_anonymous_event_log_after_a_withhold_has_no_word_of_the_body(
    wh_api: LiveServer, keys: dict[str, str]
) -> None:
    async with httpx.AsyncClient(base_url=wh_api.url, timeout=10) as client:
        held = await post(
            client, "/v1/articles", {"uri": "urn:test:repro-1", "headline": "Held", "body": HELD_BODY}, keys["write"]
        )
        await patch(client, f"/v1/articles/{held['id']}", {"pubStatus": "withheld"}, keys["write"])
        page = (await client.get("/v1/events", params={"limit": 200})).json()
        mine = [e for e in page["data"] if e["objectId"] == held["id"]]
        assert [e["type"] for e in mine] == ["article.created", "article.withheld"]
        assert not leaks(page), "the event log undid the legal hold"
        assert all(e["data"]["body"] is None and e["data"]["pubStatus"] == "withheld" for e in mine)


async def test_public_consumers_get_no_word_of_a_withheld_article_live_replayed_or_redelivered(
    wh_api: LiveServer,
    wh_client: httpx.AsyncClient,
    wh_receiver: Receiver,
    wh_settings: Settings,
    database_url: str,
    keys: dict[str, str],
) -> None:
    read, write = keys["read"], keys["write"]
    async with httpx.AsyncClient(base_url=wh_api.url, timeout=15) as client, running_worker(wh_settings, database_url):
        start = await log_head(client, write)
        public_hook = await register(wh_client, wh_receiver.url("/public"))
        full_hook = await register(wh_client, wh_receiver.url("/full"), payloadScope="full")
        assert (public_hook["payloadScope"], full_hook["payloadScope"]) == ("public", "full")
        async with (
            SSEReader(client, f"{wh_api.url}/v1/events/stream") as sse_anonymous,
            SSEReader(client, f"{wh_api.url}/v1/events/stream", headers=bearer(read)) as sse_read,
            SSEReader(client, f"{wh_api.url}/v1/events/stream", headers=bearer(write)) as sse_write,
            graphql_ws(wh_api.url) as ws_anonymous,
            graphql_ws(wh_api.url, read) as ws_read,
            graphql_ws(wh_api.url, write) as ws_write,
        ):
            # One document, three scopes: shared executions, one per scope.
            live = {
                "anonymous": await Subscription(ws_anonymous, "events").start(EVENTS),
                "read": await Subscription(ws_read, "events").start(EVENTS),
                "write": await Subscription(ws_write, "events").start(EVENTS),
            }
            await asyncio.sleep(0.3)  # live subscriptions start at the head: let them begin
            held = await post(
                client, "/v1/articles",
                {"uri": "urn:test:held", "headline": "Quillowarth talks", "summary": "Brammelstead port", "body": HELD_BODY,
                 "url": "https://example.org/quillowarth", "subjects": ["medtop:11000000"]},
                write,
            )  # fmt: skip
            other = await post(
                client, "/v1/articles", {"uri": "urn:test:other", "headline": "Pier", "body": OTHER_BODY}, write
            )
            only = await post(
                client, "/v1/claims",
                {"statement": "Vellicott says the talks collapsed", "quote": "talks collapsed at Brammelstead",
                 "quoteType": "direct", "references": [quote_ref(held, "talks collapsed at Brammelstead")]},
                write,
            )  # fmt: skip
            both = await post(
                client, "/v1/claims",
                {"statement": "Officials met", "quoteType": "assertion",
                 "references": [quote_ref(held, "Officials met on Monday"), quote_ref(other, "Officials met on Monday")]},
                write,
            )  # fmt: skip
            before = await log_head(client, write)
            # Everything before the recall has reached every live consumer (in full, as it was public then).
            for reader in (sse_anonymous, sse_read, sse_write):
                await eventually(lambda r=reader: r.events and r.events[-1]["sequence"] >= before)
            for sub in live.values():
                await sub.until(before)
            await eventually(lambda: len(wh_receiver.received) >= 2 * (before - start))
            cut = {"sse": [len(r.events) for r in (sse_anonymous, sse_read, sse_write)],
                   "ws": {k: len(s.got) for k, s in live.items()}, "hooks": len(wh_receiver.received)}  # fmt: skip

            await patch(client, f"/v1/articles/{held['id']}", {"pubStatus": "withheld"}, write, "legal hold")
            # Changes after the recall: to the withheld article and to the claim that is now withdrawn.
            await patch(client, f"/v1/articles/{held['id']}", {"headline": "Xerinthal talks"}, write, "typo")
            await patch(client, f"/v1/claims/{only['id']}", {"statement": "Vellicott repeats it"}, write)
            last = await log_head(client, write)
            recall_events = await event_log(client, before, bearer(write))
            assert [(e["type"], e["objectId"]) for e in recall_events] == [
                ("article.withheld", held["id"]),
                *sorted(
                    [("claim.sourcing_changed", only["id"]), ("claim.sourcing_changed", both["id"])], key=lambda e: e[1]
                ),
                ("article.updated", held["id"]),
                ("claim.updated", only["id"]),
            ]

            # Live, from the recall on.
            for reader in (sse_anonymous, sse_read, sse_write):
                await eventually(lambda r=reader: r.events[-1]["sequence"] >= last)
            for sub in live.values():
                await sub.until(last)
            await eventually(lambda: len(wh_receiver.received) >= cut["hooks"] + 2 * len(recall_events))
            for reader, n in ((sse_anonymous, cut["sse"][0]), (sse_read, cut["sse"][1])):
                assert not leaks(reader.events[n:])
                withheld = next(e for e in reader.events[n:] if e["type"] == "article.withheld")
                assert withheld["data"]["body"] is None and withheld["data"]["pubStatus"] == "withheld"
                assert [e["data"] for e in reader.events[n:] if e["objectId"] == only["id"]] == [None, None]
                partly = next(e for e in reader.events[n:] if e["objectId"] == both["id"])
                assert partly["data"]["sourcing"] == "partlyWithdrawn", "a partly withdrawn claim still flows"
            full = sse_write.events[cut["sse"][2] :]
            assert next(e for e in full if e["type"] == "article.withheld")["data"]["body"] == HELD_BODY
            for name in ("anonymous", "read"):
                after_cut = live[name].got[cut["ws"][name] :]
                assert not leaks(after_cut), name
                assert [e["fact"] for e in after_cut if e["objectId"] == only["id"]] == [None, None]
            # Same document, other scope: the write key's shared execution is not the anonymous one's.
            writer_withheld = next(e for e in live["write"].got if e["type"] == "ARTICLE_WITHHELD")
            anonymous_withheld = next(e for e in live["anonymous"].got if e["type"] == "ARTICLE_WITHHELD")
            assert writer_withheld["fact"]["body"] == HELD_BODY and anonymous_withheld["fact"]["body"] is None
            hooks = wh_receiver.received[cut["hooks"] :]
            public_bodies = [
                Webhook(public_hook["secret"]).verify(r.body, r.headers) for r in hooks if r.path == "/public"
            ]
            full_bodies = [Webhook(full_hook["secret"]).verify(r.body, r.headers) for r in hooks if r.path == "/full"]
            assert len(public_bodies) == len(full_bodies) == len(recall_events)
            assert not leaks(public_bodies)
            assert sorted(b["data"]["id"] for b in public_bodies if b.get("withdrawn")) == [only["id"]] * 2
            assert any(b["data"].get("body") == HELD_BODY for b in full_bodies)

        # Replayed from 0: the REST log, SSE after=0 and GraphQL after: 0, anonymous and read key.
        for who, key in (({}, None), (bearer(read), read)):
            await _replays_have_no_word(client, wh_api.url, who, key, last, held["id"], only["id"], both["id"])
        written = await event_log(client, 0, bearer(write))
        assert next(e for e in written if e["objectId"] == held["id"])["data"]["body"] == HELD_BODY
        assert next(e for e in written if e["objectId"] == only["id"])["data"]["statement"].startswith("Vellicott")

        # Redelivered: a replay of the whole stretch and a retry of the first delivery, made while
        # the article was still public, go out as the recall rules say now.
        sent = len(wh_receiver.received)
        for hook in (public_hook, full_hook):
            replay = await wh_client.post(f"/v1/webhook-endpoints/{hook['id']}/replay", json={"afterSequence": start})
            assert replay.status_code == 202 and replay.json()["queued"] == last - start
        await eventually(lambda: len(wh_receiver.received) >= sent + 2 * (last - start))
        created = next(e for e in written if e["objectId"] == held["id"])
        deliveries = (await wh_client.get("/v1/webhook-deliveries", params={"eventId": created["id"]})).json()["data"]
        original = next(d for d in deliveries if d["endpoint"] == public_hook["id"] and d["reason"] == "event")
        assert (await wh_client.post(f"/v1/webhook-deliveries/{original['id']}/retry")).status_code == 202
        await eventually(lambda: len(wh_receiver.received) >= sent + 2 * (last - start) + 1)
        retried = wh_receiver.received[-1]
        assert retried.path == "/public" and retried.webhook_id == created["id"]

        again = wh_receiver.received[sent:]
        public_again = [Webhook(public_hook["secret"]).verify(r.body, r.headers) for r in again if r.path == "/public"]
        full_again = [Webhook(full_hook["secret"]).verify(r.body, r.headers) for r in again if r.path == "/full"]
        assert not leaks(public_again)
        assert next(b for b in public_again if b["id"] == created["id"])["data"]["body"] is None
        assert next(b for b in full_again if b["id"] == created["id"])["data"]["body"] == HELD_BODY

        async def logged() -> Any:
            one = (await wh_client.get(f"/v1/webhook-deliveries/{original['id']}")).json()
            return len(one["attempts"]) == 2 and one["status"] == "delivered" and one

        attempts = (await eventually(logged))["attempts"]
        assert [a["payloadScope"] for a in attempts] == ["public", "public"]
        # The first delivery of article.created, before the recall, had the body: it was public then.
        assert HELD_BODY in next(r.body.decode() for r in wh_receiver.received if r.webhook_id == created["id"])


async def _replays_have_no_word(
    client: httpx.AsyncClient,
    base: str,
    who: dict[str, str],
    key: str | None,
    last: int,
    held: str,
    only: str,
    both: str,
) -> None:
    replayed = await event_log(client, 0, who)
    assert replayed[-1]["sequence"] == last and not leaks(replayed)
    mine = [e for e in replayed if e["objectId"] == held]
    assert [e["type"] for e in mine] == ["article.created", "article.withheld", "article.updated"]
    assert all(e["data"]["body"] is None for e in mine)
    assert [e["data"] for e in replayed if e["objectId"] == only] == [None] * 3
    async with SSEReader(client, f"{base}/v1/events/stream?after=0", headers=who) as sse:
        await eventually(lambda: sse.events and sse.events[-1]["sequence"] >= last)
        assert [e["sequence"] for e in sse.events] == [e["sequence"] for e in replayed]
        assert not leaks(sse.events)
    async with graphql_ws(base, key) as ws:
        events = await (await Subscription(ws, "events").start(EVENTS, after=0)).until(last)
        assert not leaks(events)
        assert [e["fact"] for e in events if e["objectId"] == only] == [None] * 3
    async with graphql_ws(base, key) as ws:
        last_of_both = max(e["sequence"] for e in replayed if e["objectId"] == both)
        changes = await (await Subscription(ws, "claimChanged").start(CLAIMS, after=0)).until(last_of_both)
        assert not leaks(changes)
        ids = {c["claim"]["id"] for c in changes}
        assert both in ids and only not in ids, "claimChanged leaves a withdrawn claim out"


async def test_the_response_cache_keeps_scopes_apart_on_the_event_log(
    cached_server: LiveServer, keys: dict[str, str]
) -> None:
    async with httpx.AsyncClient(base_url=cached_server.url, timeout=10) as client:
        held = await post(
            client, "/v1/articles", {"uri": "urn:test:cached", "headline": "H", "body": HELD_BODY}, keys["write"]
        )
        await patch(client, f"/v1/articles/{held['id']}", {"pubStatus": "withheld"}, keys["write"])
        params = {"objectId": held["id"]}
        for _ in range(2):  # a second read could be a cache hit: each scope still gets its own
            writer = (await client.get("/v1/events", params=params, headers=bearer(keys["write"]))).json()["data"]
            anonymous = (await client.get("/v1/events", params=params)).json()["data"]
            reader = (await client.get("/v1/events", params=params, headers=bearer(keys["read"]))).json()["data"]
            assert [e["data"]["body"] for e in writer] == [HELD_BODY, HELD_BODY]
            assert not leaks(anonymous) and not leaks(reader) and len(anonymous) == len(reader) == 2


async def test_the_public_form_of_an_article_event_is_the_anonymous_read_of_that_version(
    wh_api: LiveServer, keys: dict[str, str]
) -> None:
    write = keys["write"]
    async with httpx.AsyncClient(base_url=wh_api.url, timeout=10) as client:
        article = await post(
            client, "/v1/articles",
            {"uri": "urn:test:stub", "headline": "Quillowarth", "summary": "s", "body": HELD_BODY, "language": "en",
             "url": "https://example.org/a", "publishedAt": "2026-11-01T10:00:00Z", "subjects": ["medtop:11000000"],
             "authors": [(await post(client, "/v1/actors", {"kind": "person", "name": "A. Writer"}, write))["id"]]},
            write,
        )  # fmt: skip
        path = f"/v1/articles/{article['id']}"
        await patch(client, path, {"pubStatus": "withheld"}, write, "hold")
        await patch(client, path, {"headline": "Quillowarth again"}, write, "fix")

        async def compare() -> list[dict[str, Any]]:
            events = (await client.get("/v1/events", params={"objectId": article["id"]})).json()["data"]
            for event in events:
                read = (await client.get(path, params={"asOf": event["createdAt"]})).json()
                assert read["version"] == event["objectVersion"]
                assert event["data"] == read, event["type"]
            return [e["data"] for e in events]

        withheld = await compare()
        assert [d["pubStatus"] for d in withheld] == ["withheld"] * 3 and not leaks(withheld)
        await patch(client, path, {"pubStatus": "usable"}, write, "released")
        released = await compare()
        # Released: the versions that were usable are whole again, the ones made while withheld stay stubs.
        assert [d["body"] for d in released] == [HELD_BODY, None, None, HELD_BODY]


async def test_payload_scope_is_validated_changed_by_an_admin_and_shown(
    wh_client: httpx.AsyncClient, wh_receiver: Receiver
) -> None:
    refused = await wh_client.post("/v1/webhook-endpoints", json={"url": wh_receiver.url(), "payloadScope": "all"})
    assert refused.status_code == 422 and refused.json()["errors"][0]["pointer"] == "/payloadScope"
    endpoint = await register(wh_client, wh_receiver.url())
    assert endpoint["payloadScope"] == "public"
    changed = await wh_client.patch(f"/v1/webhook-endpoints/{endpoint['id']}", json={"payloadScope": "full"})
    assert changed.status_code == 200 and changed.json()["payloadScope"] == "full"
    bad = await wh_client.patch(f"/v1/webhook-endpoints/{endpoint['id']}", json={"payloadScope": ""})
    assert bad.status_code == 422 and bad.json()["errors"][0]["pointer"] == "/payloadScope"
    mutation = """mutation($id: ID!) { updateWebhookEndpoint(id: $id, patch: {payloadScope: PUBLIC}) {
        webhookEndpoint { payloadScope } userErrors { code } } }"""
    answer = (await wh_client.post("/graphql", json={"query": mutation, "variables": {"id": endpoint["id"]}})).json()
    assert answer["data"]["updateWebhookEndpoint"] == {"webhookEndpoint": {"payloadScope": "PUBLIC"}, "userErrors": []}


class StalledClient:
    """A graphql-transport-ws client on a bare socket that reads nothing until asked, with a small
    receive buffer: what the server sends backs up into its socket and then its own frame queue.
    (A WebSocket library keeps reading into its own buffers, which would hide that queue.)"""

    def __init__(self, port: int) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: a small window
        self.sock.settimeout(30)
        self.sock.connect(("127.0.0.1", port))
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            f"GET /graphql HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n".encode()
        )
        self.buffer = b""
        while b"\r\n\r\n" not in self.buffer:
            self.buffer += self.sock.recv(4096)
        response, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        assert response.startswith(b"HTTP/1.1 101"), response

    def send(self, message: dict[str, Any]) -> None:
        payload, mask = json.dumps(message).encode(), os.urandom(4)
        assert len(payload) < 1 << 16
        length = (
            bytes([0x80 | len(payload)])
            if len(payload) < 126
            else bytes([0x80 | 126]) + len(payload).to_bytes(2, "big")
        )
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(b"\x81" + length + mask + masked)

    def _take(self, n: int) -> bytes:
        while len(self.buffer) < n:
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise ConnectionError("closed without a close frame")
            self.buffer += chunk
        taken, self.buffer = self.buffer[:n], self.buffer[n:]
        return taken

    def receive(self) -> tuple[int, bytes]:
        """(opcode, payload) of the next frame the server sent (unmasked, unfragmented)."""
        first, second = self._take(2)
        length = second & 0x7F
        if length == 126:
            length = int.from_bytes(self._take(2), "big")
        elif length == 127:
            length = int.from_bytes(self._take(8), "big")
        return first & 0x0F, self._take(length)

    def until_closed(self) -> tuple[list[bytes], int, bytes]:
        """Every frame's payload up to the server's close frame, and that frame's code and reason."""
        frames: list[bytes] = []
        while True:
            opcode, payload = self.receive()
            if opcode == 0x8:
                return frames, int.from_bytes(payload[:2], "big"), payload[2:]
            frames.append(payload)


async def test_a_frame_queued_for_a_slow_subscriber_before_its_articles_recall_is_never_sent(
    wh_api: LiveServer, keys: dict[str, str]
) -> None:
    # Frames of 25 copies of a 100 KB body fill the stalled client's socket buffers after two, so the
    # target article's frame, rendered before its recall, is still in the connection's queue when the
    # recall passes the broadcaster (the observer, which shares the execution, shows both moments).
    bodies = " ".join(f"b{i}: body" for i in range(25))
    query = f"""subscription($after: Int) {{ events(types: [ARTICLE_CREATED, ARTICLE_WITHHELD], after: $after) {{
      sequence type objectId fact {{ ... on Article {{ {bodies} }} }} }} }}"""
    filler = ("Harbour traffic was normal again. " * 3000)[:100_000]
    write = keys["write"]
    slow = StalledClient(wh_api.port)
    try:
        async with (
            graphql_ws(wh_api.url, max_size=None) as observer_ws,
            httpx.AsyncClient(base_url=wh_api.url, timeout=15) as client,
        ):
            slow.send({"type": "connection_init", "payload": {}})
            assert json.loads(slow.receive()[1])["type"] == "connection_ack"
            slow.send({"id": "1", "type": "subscribe", "payload": {"query": query, "variables": {"after": None}}})
            observer = await Subscription(observer_ws, "events").start(query)
            await asyncio.sleep(0.3)
            for i in range(6):
                await post(
                    client, "/v1/articles", {"uri": f"urn:test:filler-{i}", "headline": "Filler", "body": filler}, write
                )
            target = await post(
                client, "/v1/articles", {"uri": "urn:test:target", "headline": "T", "body": HELD_BODY}, write
            )
            await eventually(lambda: any(e["objectId"] == target["id"] for e in observer.got), timeout=30)
            await patch(client, f"/v1/articles/{target['id']}", {"pubStatus": "withheld"}, write)
            await eventually(lambda: observer.got[-1]["type"] == "ARTICLE_WITHHELD", timeout=30)

            frames, code, reason = await asyncio.to_thread(slow.until_closed)
            assert frames and not any(word.encode() in frame for frame in frames for word in SECRET)
            assert code == 1013 and b"recalled" in reason, (code, reason)
            received = [m["payload"]["data"]["events"] for m in map(json.loads, frames) if m["type"] == "next"]
            assert target["id"] not in [e["objectId"] for e in received]

            async with graphql_ws(wh_api.url, max_size=None) as again:
                resumed = await (
                    await Subscription(again, "events").start(query, after=received[-1]["sequence"])
                ).until(observer.got[-1]["sequence"])
            assert [(e["type"], e["objectId"]) for e in resumed] == [
                ("ARTICLE_CREATED", target["id"]),
                ("ARTICLE_WITHHELD", target["id"]),
            ]
            assert not leaks(resumed) and resumed[0]["fact"]["b0"] is None
    finally:
        slow.sock.close()


async def test_a_queued_frame_that_read_a_since_recalled_article_through_a_relation_is_never_sent(
    wh_api: LiveServer, keys: dict[str, str]
) -> None:
    # The claim itself is not recalled (another source keeps it partly withdrawn), but its frame read
    # the withheld article's body through references { article }: the planner reports what a frame
    # read, and a queued frame that read a fact recalled since is held back too.
    bodies = " ".join(f"b{i}: body" for i in range(25))
    query = f"""subscription($after: Int) {{ events(types: [CLAIM_CREATED, ARTICLE_WITHHELD], after: $after) {{
      sequence type objectId fact {{ ... on Claim {{ references {{ article {{ {bodies} }} }} }} }} }} }}"""
    write = keys["write"]
    slow = StalledClient(wh_api.port)
    try:
        async with (
            graphql_ws(wh_api.url, max_size=None) as observer_ws,
            httpx.AsyncClient(base_url=wh_api.url, timeout=15) as client,
        ):
            big = await post(
                client, "/v1/articles",
                {"uri": "urn:test:big", "headline": "Big", "body": ("Harbour traffic was normal again. " * 3000)[:100_000]},
                write,
            )  # fmt: skip
            slow.send({"type": "connection_init", "payload": {}})
            assert json.loads(slow.receive()[1])["type"] == "connection_ack"
            slow.send({"id": "1", "type": "subscribe", "payload": {"query": query, "variables": {"after": None}}})
            observer = await Subscription(observer_ws, "events").start(query)
            await asyncio.sleep(0.3)
            normal = quote_ref(big, "Harbour traffic was normal again.")
            for _ in range(6):
                await post(
                    client,
                    "/v1/claims",
                    {"statement": "Normal", "quoteType": "assertion", "references": [normal]},
                    write,
                )
            target = await post(
                client, "/v1/articles", {"uri": "urn:test:rel", "headline": "T", "body": HELD_BODY}, write
            )
            cited = await post(
                client, "/v1/claims",
                {"statement": "Both", "quoteType": "assertion",
                 "references": [quote_ref(target, "talks collapsed at Brammelstead"), normal]},
                write,
            )  # fmt: skip
            await eventually(lambda: any(e["objectId"] == cited["id"] for e in observer.got), timeout=30)
            await patch(client, f"/v1/articles/{target['id']}", {"pubStatus": "withheld"}, write)
            await eventually(lambda: observer.got[-1]["type"] == "ARTICLE_WITHHELD", timeout=30)

            frames, code, reason = await asyncio.to_thread(slow.until_closed)
            assert frames and not any(word.encode() in frame for frame in frames for word in SECRET)
            assert code == 1013 and b"recalled" in reason, (code, reason)
            received = [m["payload"]["data"]["events"] for m in map(json.loads, frames) if m["type"] == "next"]
            async with graphql_ws(wh_api.url, max_size=None) as again:
                resumed = await (
                    await Subscription(again, "events").start(query, after=received[-1]["sequence"])
                ).until(observer.got[-1]["sequence"])
            claim = next(e for e in resumed if e["objectId"] == cited["id"])
            # Its reference into the withheld article is left out (0016); the other one stays.
            assert not leaks(resumed) and [r["article"]["b0"] for r in claim["fact"]["references"]] == [big["body"]]
    finally:
        slow.sock.close()


async def test_a_queued_frame_quoting_an_article_withheld_since_is_never_sent_though_its_fact_gets_no_event(
    wh_api: LiveServer, keys: dict[str, str]
) -> None:
    # The claim is partly withdrawn already (aux is withheld), so withholding target gives it no event
    # of its own: only the takedown marks its frame, rendered before and still queued, as stale — the
    # frame quotes target's words in references { quoteText } without reading the article (0016).
    big_body = ("Harbour traffic was normal again. " * 3000)[:100_000]
    quotes = " ".join(f"q{i}: references {{ quoteText }}" for i in range(25))
    query = f"""subscription($after: Int) {{ events(types: [CLAIM_UPDATED, ARTICLE_WITHHELD], after: $after) {{
      sequence type objectId fact {{ ... on Claim {{ {quotes} }} }} }} }}"""
    write = keys["write"]
    slow = StalledClient(wh_api.port)
    try:
        async with (
            graphql_ws(wh_api.url, max_size=None) as observer_ws,
            httpx.AsyncClient(base_url=wh_api.url, timeout=15) as client,
        ):
            big = await post(
                client, "/v1/articles", {"uri": "urn:test:big-q", "headline": "Big", "body": big_body}, write
            )
            target = await post(
                client, "/v1/articles", {"uri": "urn:test:tq", "headline": "T", "body": HELD_BODY}, write
            )
            aux = await post(
                client, "/v1/articles", {"uri": "urn:test:aux", "headline": "A", "body": OTHER_BODY}, write
            )
            spans = [
                {"article": big["id"], "charStart": i * 5000, "charEnd": (i + 1) * 5000,
                 "quoteText": big_body[i * 5000 : (i + 1) * 5000]}
                for i in range(20)
            ]  # fmt: skip
            fillers = [
                await post(
                    client, "/v1/claims", {"statement": "Normal", "quoteType": "assertion", "references": spans}, write
                )
                for _ in range(6)
            ]
            cited = await post(
                client, "/v1/claims",
                {"statement": "Both", "quoteType": "assertion",
                 "references": [quote_ref(target, "talks collapsed at Brammelstead"),
                                quote_ref(aux, "Trade resumed at the southern pier"), spans[0]]},
                write,
            )  # fmt: skip
            await patch(client, f"/v1/articles/{aux['id']}", {"pubStatus": "withheld"}, write)
            slow.send({"type": "connection_init", "payload": {}})
            assert json.loads(slow.receive()[1])["type"] == "connection_ack"
            slow.send({"id": "1", "type": "subscribe", "payload": {"query": query, "variables": {"after": None}}})
            observer = await Subscription(observer_ws, "events").start(query)
            await asyncio.sleep(0.3)
            for filler in fillers:
                await patch(client, f"/v1/claims/{filler['id']}", {"status": "disputed"}, write)
            await patch(client, f"/v1/claims/{cited['id']}", {"status": "disputed"}, write)
            await eventually(lambda: any(e["objectId"] == cited["id"] for e in observer.got), timeout=30)
            await patch(client, f"/v1/articles/{target['id']}", {"pubStatus": "withheld"}, write)
            await eventually(lambda: observer.got[-1]["type"] == "ARTICLE_WITHHELD", timeout=30)
            writer = (await client.get("/v1/events", params={"objectId": cited["id"]}, headers=bearer(write))).json()
            assert [e["type"] for e in writer["data"]][-2:] == ["claim.sourcing_changed", "claim.updated"]

            frames, code, reason = await asyncio.to_thread(slow.until_closed)
            assert frames and not any(word.encode() in frame for frame in frames for word in SECRET)
            assert code == 1013 and b"recalled" in reason, (code, reason)
            received = [m["payload"]["data"]["events"] for m in map(json.loads, frames) if m["type"] == "next"]
            async with graphql_ws(wh_api.url, max_size=None) as again:
                resumed = await (
                    await Subscription(again, "events").start(query, after=received[-1]["sequence"])
                ).until(observer.got[-1]["sequence"])
            claim = next(e for e in resumed if e["objectId"] == cited["id"])
            assert not leaks(resumed) and [r["quoteText"] for r in claim["fact"]["q0"]] == [spans[0]["quoteText"]]
    finally:
        slow.sock.close()
