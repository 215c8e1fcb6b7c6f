"""`newsfacts listen`: a webhook receiver for trying webhooks on one machine. It answers every POST
with 204 and prints each delivery — its event type, object, webhook-id and whether its Standard
Webhooks signature verifies — then the body; --count N exits after N deliveries.

With --api and --key it registers its own endpoint through the REST API (as a partner's service
would), so it knows the signing secret the API returns, and deletes the endpoint when it exits:
nothing is left behind failing and retrying for days. --background returns once the endpoint
exists, so the next command in the same shell can trigger a delivery at once."""

from __future__ import annotations

import hmac
import os
import signal
import sys
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import httpx
import orjson

from api.webhooks import signing

API_TIMEOUT = 10.0


def describe(headers: Any, body: bytes, secret: str | None) -> str:
    """One delivery as the listener prints it."""
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        payload = None
    msg_id, timestamp = headers.get("webhook-id", ""), headers.get("webhook-timestamp", "")
    if secret is None:
        signature = "signature not checked (pass --secret whsec_… to verify it)"
    else:
        try:
            expected = signing.sign(secret, msg_id, int(timestamp), body)
            given = headers.get("webhook-signature", "").split()
            ok = any(hmac.compare_digest(expected, g) for g in given)
        except ValueError:
            ok = False
        signature = "signature verified" if ok else "SIGNATURE DOES NOT VERIFY"
    kind = payload.get("type") if isinstance(payload, dict) else None
    data = payload.get("data") if isinstance(payload, dict) else None
    object_id = data.get("id") if isinstance(data, dict) else None
    head = f"delivery {msg_id}: {kind} {object_id or ''} ({signature})".replace("  ", " ")
    return head + "\n" + body.decode("utf-8", "replace")


@dataclass
class Registration:
    """The endpoint this listener registered, and how to reach the API that holds it."""

    api: str
    key: str
    endpoint_id: str
    secret: str

    def delete(self) -> str:
        """Deletes the endpoint; says what happened (never raises: this runs on the way out)."""
        try:
            r = httpx.delete(
                f"{self.api}/v1/webhook-endpoints/{self.endpoint_id}",
                headers={"Authorization": f"Bearer {self.key}"},
                timeout=API_TIMEOUT,
            )
        except httpx.HTTPError as exc:
            where = f"/v1/webhook-endpoints/{self.endpoint_id}"
            return f"could not delete webhook endpoint {self.endpoint_id} ({exc}); delete it with DELETE {where}"
        if r.status_code in (204, 404):
            return f"deleted webhook endpoint {self.endpoint_id}"
        return f"could not delete webhook endpoint {self.endpoint_id}: {r.status_code} {r.text[:300]}"


def api_base(api: str) -> str:
    """``localhost:8000`` or a full URL, as the base URL of the API."""
    api = api.rstrip("/")
    return api if "://" in api else "http://" + api


def register(api: str, key: str, url: str, events: list[str]) -> Registration:
    """POST /v1/webhook-endpoints for ``url``; the API's refusal, if any, is raised as SystemExit."""
    try:
        r = httpx.post(
            f"{api}/v1/webhook-endpoints",
            json={"url": url, "enabledEvents": events, "description": "newsfacts listen"},
            headers={"Authorization": f"Bearer {key}"},
            timeout=API_TIMEOUT,
        )
    except httpx.HTTPError as exc:
        raise SystemExit(f"newsfacts listen: cannot reach the API at {api}: {exc}") from None
    if r.status_code != 201:
        raise SystemExit(f"newsfacts listen: the API refused to register {url}: {r.status_code} {r.text}")
    endpoint = r.json()
    return Registration(api, key, endpoint["id"], endpoint["secret"])


def listen(
    host: str,
    port: int,
    *,
    secret: str | None,
    count: int | None,
    api: str | None = None,
    key: str | None = None,
    events: list[str] | None = None,
    background: bool = False,
) -> int:
    received = 0
    done = threading.Event()
    registration: Registration | None = None

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            nonlocal received
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            self.send_response(204)
            self.end_headers()
            print(describe(self.headers, body, secret), flush=True)
            received += 1
            if count is not None and received >= count:
                done.set()

        def log_message(self, *args: Any) -> None:
            pass  # one line per delivery above is the log

    # Bound before registering: the first delivery may come as soon as the endpoint exists.
    server = HTTPServer((host, port), Handler)
    if api is not None:
        if not key:
            raise SystemExit("newsfacts listen: --api needs --key (an admin API key) to register the endpoint")
        url = f"http://{host}:{server.server_address[1]}/hook"
        registration = register(api_base(api), key, url, events or ["*"])
        secret = registration.secret
        print(
            f"registered webhook endpoint {registration.endpoint_id} for {', '.join(events or ['*'])} → {url}"
            f" (signing secret {registration.secret}); it is deleted when this listener exits",
            flush=True,
        )
    until = f"{count} deliver{'y' if count == 1 else 'ies'}" if count else "Ctrl-C or kill"
    where = f"listening for webhooks on http://{host}:{server.server_address[1]}/"
    if background:
        # Output is flushed before the fork, so nothing printed so far is written twice.
        sys.stdout.flush()
        sys.stderr.flush()
        child = os.fork()
        if child:
            print(f"{where} in the background (pid {child}, until {until})", file=sys.stderr, flush=True)
            server.socket.close()  # the child serves it
            return 0
    else:
        print(f"{where} (pid {os.getpid()}, until {until})", file=sys.stderr, flush=True)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: done.set())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        done.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
        server.server_close()
        if registration is not None:
            print(registration.delete(), flush=True)
    return 0
