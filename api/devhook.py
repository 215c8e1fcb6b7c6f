"""`newsfacts listen`: a webhook receiver for trying webhooks on one machine. It answers every POST
with 204 and prints each delivery — its event type, object, webhook-id and whether its Standard
Webhooks signature verifies (given --secret) — then the body; --count N exits after N deliveries."""

from __future__ import annotations

import hmac
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import orjson

from api.webhooks import signing


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


def listen(host: str, port: int, *, secret: str | None, count: int | None) -> int:
    received = 0
    done = threading.Event()

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

    server = HTTPServer((host, port), Handler)
    print(f"listening for webhooks on http://{host}:{port}/ (Ctrl-C to stop)", file=sys.stderr, flush=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        done.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
        server.server_close()
    return 0
