"""An example purge hook: a small webhook receiver that turns every signed newsfacts event into a
purge-by-tag call to a CDN, so edges drop a fact's pages the moment it changes. Register it as a
webhook endpoint (``enabledEvents: ["*"]``) and run

    python -m api.cache.purge_receiver --secret whsec_… --provider fastly --service SERVICE --token KEY
    python -m api.cache.purge_receiver --secret whsec_… --provider cloudflare --zone ZONE --token TOKEN
    python -m api.cache.purge_receiver --secret whsec_… --provider generic --purge-url http://varnish/purge

The tags are ``purge_tags`` (api/cache/cdn.py): the event's fact id and ``list:<kind>``, and
``quotes`` for an article's recall or release — the same tags REST responses carry in
``Surrogate-Key`` / ``Cache-Tag``."""

from __future__ import annotations

import argparse
import hmac
import logging
import time
from dataclasses import dataclass

import httpx
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api.cache.cdn import purge_tags
from api.webhooks.signing import sign

log = logging.getLogger("newsfacts.purge")
TOLERANCE_SECONDS = 300  # Standard Webhooks: refuse signatures older (or newer) than five minutes


@dataclass(frozen=True)
class Purger:
    """Where purge calls go. ``generic`` POSTs ``{"tags": [...]}`` (and ``Surrogate-Key``/
    ``xkey-purge`` headers, for Varnish) to ``purge_url``."""

    provider: str
    token: str = ""
    service: str = ""
    zone: str = ""
    purge_url: str = ""

    def request(self, tags: list[str]) -> tuple[str, dict[str, str], bytes]:
        if self.provider == "fastly":
            # Fastly: batch purge by surrogate key, one call for every tag of the event.
            url = f"https://api.fastly.com/service/{self.service}/purge"
            return (
                url,
                {"Fastly-Key": self.token, "content-type": "application/json"},
                orjson.dumps({"surrogate_keys": tags}),
            )
        if self.provider == "cloudflare":
            url = f"https://api.cloudflare.com/client/v4/zones/{self.zone}/purge_cache"
            return (
                url,
                {"Authorization": f"Bearer {self.token}", "content-type": "application/json"},
                orjson.dumps({"tags": tags}),
            )
        headers = {"content-type": "application/json", "Surrogate-Key": " ".join(tags), "xkey-purge": " ".join(tags)}
        return self.purge_url, headers, orjson.dumps({"tags": tags})


def verified(secret: str, request_headers: dict[str, str], body: bytes, now: float | None = None) -> bool:
    """The Standard Webhooks check: a fresh timestamp and one matching ``v1,`` signature."""
    msg_id = request_headers.get("webhook-id", "")
    try:
        timestamp = int(request_headers.get("webhook-timestamp", ""))
    except ValueError:
        return False
    if abs((now or time.time()) - timestamp) > TOLERANCE_SECONDS:
        return False
    expected = sign(secret, msg_id, timestamp, body)
    return any(hmac.compare_digest(expected, given) for given in request_headers.get("webhook-signature", "").split())


def app(secret: str, purger: Purger, client: httpx.AsyncClient | None = None) -> Starlette:
    http = client or httpx.AsyncClient(timeout=5.0)

    async def hook(request: Request) -> Response:
        body = await request.body()
        if not verified(secret, dict(request.headers), body):
            return Response(status_code=401)
        event = orjson.loads(body)
        data = event.get("data") or {}
        if not isinstance(data.get("id"), str) or not isinstance(data.get("object"), str):
            return Response(status_code=204)  # webhook.ping and thin events without a fact: nothing to purge
        tags = purge_tags(data["object"], data["id"], event.get("type"))
        url, headers, payload = purger.request(tags)
        answer = await http.post(url, headers=headers, content=payload)
        if answer.status_code >= 300:
            # A failed purge must be retried: answering 502 makes newsfacts redeliver the event.
            log.warning("purge of %s failed: %s %s", tags, answer.status_code, answer.text[:200])
            return Response(status_code=502)
        return Response(status_code=204)

    return Starlette(routes=[Route("/hook", hook, methods=["POST"])])


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(prog="purge_receiver", description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--secret", required=True, help="the webhook endpoint's whsec_ signing secret")
    parser.add_argument("--provider", choices=["fastly", "cloudflare", "generic"], default="generic")
    parser.add_argument("--token", default="", help="Fastly API key / Cloudflare API token")
    parser.add_argument("--service", default="", help="Fastly service id")
    parser.add_argument("--zone", default="", help="Cloudflare zone id")
    parser.add_argument("--purge-url", default="", help="generic: where to POST {'tags': [...]}")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000)
    args = parser.parse_args(argv)
    purger = Purger(args.provider, args.token, args.service, args.zone, args.purge_url)
    uvicorn.run(app(args.secret, purger), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
