"""One delivery attempt: the SSRF guard (at registration and on every connection), the signed
Standard Webhooks request, and what its answer means (success, retry when, or disable the endpoint)."""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import random
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp
import aiohttp.abc
import orjson

from api.settings import Settings
from api.webhooks import signing
from db.errors import FieldError, ValidationFailed
from db.webhooks import Claimed, Outcome, rules

MAX_RESPONSE_BODY = 2048
RESOLVE_SECONDS = 5.0  # a registration request must not hang on a slow resolver
USER_AGENT = "newsfacts-webhooks/1"
KEEPALIVE_SECONDS = 30.0  # an idle connection to an endpoint is kept this long for its next delivery
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeAddress(Exception):
    """The endpoint's host resolves to an address webhooks may not reach."""


@dataclass(frozen=True)
class AddressPolicy:
    """Which addresses webhooks may connect to: public unicast ones, plus the allow-listed networks."""

    allowed: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()

    @classmethod
    def from_settings(cls, settings: Settings) -> AddressPolicy:
        return cls(tuple(ipaddress.ip_network(n, strict=False) for n in settings.webhook_networks))

    def refusal(self, ip: IPAddress) -> str | None:
        """Why ``ip`` is refused, or None when it may be reached. An IPv6 address that carries an
        IPv4 one (NAT64, 6to4, IPv4-compatible, Teredo, IPv4-mapped) is judged by what it carries:
        a NAT64 gateway or 6to4 relay would deliver to that IPv4 address, so 64:ff9b::7f00:1 is
        127.0.0.1 however global its IPv6 form looks."""
        if isinstance(ip, ipaddress.IPv6Address):
            for carried in embedded_ipv4(ip):
                reason = self.refusal(carried)
                if reason is not None:
                    return f"{reason} ({carried}, inside {ip})"
            if ip.ipv4_mapped is not None:
                return self.refusal(ip.ipv4_mapped)  # ::ffff:127.0.0.1 is 127.0.0.1, nothing else
        if any(ip in net for net in self.allowed):
            return None
        if ip.is_loopback:
            return "a loopback address"
        if ip.is_link_local:
            return "a link-local address (cloud metadata lives here)"
        if ip.is_unspecified:
            return "the unspecified address"
        if ip.is_multicast:
            return "a multicast address"
        if ip.is_private or not ip.is_global:
            return "a private or reserved address"
        return None


_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052 well-known prefix
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")  # RFC 8215 local-use prefix
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")  # deprecated RFC 4291 form ::a.b.c.d


def embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """Every IPv4 address ``ip`` may stand for through a translation or tunnel mechanism."""
    value = int(ip)
    found: list[ipaddress.IPv4Address] = []
    if ip.ipv4_mapped is not None:
        found.append(ip.ipv4_mapped)
    if ip in _NAT64 or ip in _NAT64_LOCAL or (ip in _IPV4_COMPATIBLE and value > 1):
        found.append(ipaddress.IPv4Address(value & 0xFFFFFFFF))  # the low 32 bits (/96 layout)
    if ip in _NAT64_LOCAL:
        # A local-use NAT64 may use any RFC 6052 layout; /48 puts the IPv4 address in bits 48-63
        # and 72-87 (bits 64-71 are the zero "u" octet). Judge that reading too.
        found.append(ipaddress.IPv4Address(((value >> 64) & 0xFFFF) << 16 | ((value >> 40) & 0xFFFF)))
    if ip.sixtofour is not None:
        found.append(ip.sixtofour)
    if ip.teredo is not None:
        found.extend(ip.teredo)  # (server, client): both are reached through the tunnel
    return found


async def resolve(host: str, port: int, policy: AddressPolicy) -> list[str]:
    """Every address ``host`` resolves to, all of them allowed (UnsafeAddress otherwise): one bad
    answer refuses the host, so a DNS name cannot mix a public and a private address."""
    try:
        literal: IPAddress | None = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [str(literal)]
    else:
        try:
            async with asyncio.timeout(RESOLVE_SECONDS):
                infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except TimeoutError:
            raise UnsafeAddress(f"{host} did not resolve within {RESOLVE_SECONDS:g} s") from None
        except OSError as exc:
            raise UnsafeAddress(f"{host} does not resolve ({exc.strerror or exc})") from None
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    for address in addresses:
        reason = policy.refusal(ipaddress.ip_address(address.split("%")[0]))
        if reason is not None:
            raise UnsafeAddress(
                f"{host} resolves to {address}, {reason}; add its network to WEBHOOK_ALLOWED_NETWORKS to allow it"
            )
    return addresses


async def validate_url(url: object, settings: Settings, *, pointer: str = "url") -> str:
    """The endpoint URL if it is acceptable — its form (db/webhooks/rules.py) and every address its
    host resolves to (the SSRF guard) — or ValidationFailed naming ``pointer``."""
    http = settings.webhook_http_allowed
    host, port = rules.url_syntax(
        url,
        require_https=http == "none",
        pointer=pointer,
        https_hint=" (WEBHOOK_REQUIRE_HTTPS=false allows plain http)",
    )
    try:
        addresses = await resolve(host, port, AddressPolicy.from_settings(settings))
    except UnsafeAddress as exc:
        message = f"is refused: {exc}"
        raise ValidationFailed(
            f"{pointer} {message}", errors=[FieldError((pointer,), "INVALID_URL", message)]
        ) from None
    assert isinstance(url, str)
    if url.startswith("http:") and http == "loopback" and not all(_loopback(a) for a in addresses):
        message = (
            "must use https: plain http is accepted only for loopback receivers in development "
            "(WEBHOOK_REQUIRE_HTTPS=false allows it for any host)"
        )
        raise ValidationFailed(f"{pointer} {message}", errors=[FieldError((pointer,), "INVALID_URL", message)])
    return url


def _loopback(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


class _Refused(OSError):
    """UnsafeAddress as the OSError a connector expects from a socket it cannot open: aiohttp then
    reports it as a ClientConnectorError carrying this, and tries no other way around."""

    def __init__(self, reason: UnsafeAddress) -> None:
        super().__init__(errno.EACCES, str(reason))
        self.reason = reason


class GuardedResolver(aiohttp.abc.AbstractResolver):
    """Resolves a host name for a new connection through the SSRF guard (``resolve``): one bad
    answer refuses the host, and only checked addresses are handed to the connector."""

    def __init__(self, policy: AddressPolicy) -> None:
        self._policy = policy

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[aiohttp.abc.ResolveResult]:
        try:
            addresses = await resolve(host, port, self._policy)
        except UnsafeAddress as exc:
            raise _Refused(exc) from None
        return [
            {
                "hostname": host,
                "host": address,
                "port": port,
                "family": socket.AF_INET6 if ":" in address else socket.AF_INET,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST,
            }
            for address in addresses
        ]

    async def close(self) -> None:
        return None


def guarded_socket(policy: AddressPolicy) -> Callable[[tuple[Any, ...]], socket.socket]:
    """The connector's socket factory: every new connection checks the very address it is about to
    connect to (IP literals never reach a resolver; this sees them and every resolved address too).
    A pooled keep-alive connection was checked when it was opened, and redirects are not followed,
    so no request reaches an address that was not checked."""

    def make(addr_info: tuple[Any, ...]) -> socket.socket:
        family, type_, proto, _, address = addr_info
        host = str(address[0])
        reason = policy.refusal(ipaddress.ip_address(host.split("%")[0]))
        if reason is not None:
            raise _Refused(
                UnsafeAddress(f"{host} is {reason}; add its network to WEBHOOK_ALLOWED_NETWORKS to allow it")
            )
        return socket.socket(family=family, type=type_, proto=proto)

    return make


def make_client(settings: Settings, *, max_connections: int = 100) -> aiohttp.ClientSession:
    """The worker's HTTP client (aiohttp: measured against httpx in bench/bench_webhooks.py, see
    docs/benchmarks/webhooks.md): keep-alive connections pooled per origin, each new one resolved
    and checked by the SSRF guard; no redirects, no proxies or cookies, no DNS cache (a name is
    resolved and judged again for every new connection, so rebinding cannot slip through)."""
    policy = AddressPolicy.from_settings(settings)
    connector = aiohttp.TCPConnector(
        limit=max_connections,
        limit_per_host=0,  # the worker caps each endpoint itself (WEBHOOK_ENDPOINT_CONCURRENCY)
        keepalive_timeout=KEEPALIVE_SECONDS,
        use_dns_cache=False,
        resolver=GuardedResolver(policy),
        socket_factory=guarded_socket(policy),
    )
    return aiohttp.ClientSession(
        connector=connector,
        timeout=aiohttp.ClientTimeout(total=settings.webhook_timeout_ms / 1000),
        cookie_jar=aiohttp.DummyCookieJar(),
        trust_env=False,
        auto_decompress=False,
        skip_auto_headers=("Accept-Encoding",),
    )


def schedule(settings: Settings) -> list[float]:
    return [float(s) for s in settings.webhook_retry_schedule]


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds a Retry-After header asks for (delta-seconds or an HTTP date), None when absent/invalid."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - now)
    except (TypeError, ValueError):
        return None


def next_delay(settings: Settings, attempts_done: int, retry_after: float | None) -> float | None:
    """Seconds until the next attempt after ``attempts_done`` attempts, or None: give up. ±20 % jitter
    spreads retries of a recovering receiver; a Retry-After (capped) is a floor."""
    steps = schedule(settings)
    if attempts_done >= len(steps):
        return None
    delay = steps[attempts_done] * random.uniform(0.8, 1.2)
    if retry_after is not None:
        delay = max(delay, min(retry_after, float(settings.webhook_retry_after_max_seconds)))
    return delay


_PLURAL = {
    "actor": "actors",
    "article": "articles",
    "claim": "claims",
    "deployment": "deployments",
    "incident": "incidents",
}


def message(claimed: Claimed, settings: Settings) -> tuple[str, bytes] | None:
    """The webhook-id and body of a delivery, thin when the full body is over the size limit or the
    fact is withdrawn for the endpoint's scope; None when its event no longer exists (expired from
    the log)."""
    if claimed.payload is not None:
        return claimed.id, orjson.dumps(claimed.payload)
    event = claimed.event
    if event is None:
        return None
    head = {
        "id": event["id"],
        "type": event["type"],
        "timestamp": event["created_at"].isoformat(),
        "sequence": event["sequence"],
    }
    if event["data"] is None:
        # A withdrawn fact for a public endpoint (db/webhooks/deliveries.py): no snapshot, only
        # which fact it is, so the receiver can take its copy down.
        gone = {"id": event["object_id"], "object": event["object_type"]}
        return event["id"], orjson.dumps({**head, "data": gone, "withdrawn": True})
    body = orjson.dumps({**head, "data": event["data"]})
    if len(body) > settings.webhook_max_payload_bytes:
        base = settings.public_url or f"http://{settings.host}:{settings.port}"
        plural = _PLURAL.get(event["object_type"], event["object_type"] + "s")
        thin = {
            "id": event["object_id"],
            "object": event["object_type"],
            "url": f"{base}/v1/{plural}/{event['object_id']}",
        }
        body = orjson.dumps({**head, "data": thin, "thin": True})
    return event["id"], body


async def attempt(client: aiohttp.ClientSession, claimed: Claimed, settings: Settings) -> Outcome:
    """Send one delivery and judge the answer."""
    built = message(claimed, settings)
    if built is None:
        return Outcome(False, None, 0, None, "the event is no longer in the event log", None)
    msg_id, body = built
    if not claimed.secrets:
        missing = "the signing secret does not open: its key is missing from WEBHOOK_SECRET_KEYS"
        return Outcome(False, None, 0, None, missing, next_delay(settings, claimed.attempt_count + 1, None))
    sent_at = time.time()
    headers = {
        **signing.headers(claimed.secrets, msg_id, int(sent_at), body),
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }
    started = time.monotonic()
    status: int | None = None
    response_body: str | None = None
    retry_after: float | None = None
    error: str | None = None
    unreachable = False
    try:
        async with asyncio.timeout(settings.webhook_timeout_ms / 1000):
            async with client.post(claimed.url, data=body, headers=headers, allow_redirects=False) as response:
                status = response.status
                retry_after = parse_retry_after(response.headers.get("retry-after"), time.time())
                chunks = bytearray()
                while len(chunks) < MAX_RESPONSE_BODY and (chunk := await response.content.read(MAX_RESPONSE_BODY)):
                    chunks += chunk
                # PostgreSQL text holds no NUL: a receiver's binary answer must not make the outcome unstorable.
                response_body = chunks[:MAX_RESPONSE_BODY].decode("utf-8", "replace").replace("\x00", "\ufffd")
    except TimeoutError:
        error = f"no answer within {settings.webhook_timeout_ms / 1000:g} s"
    except aiohttp.ClientConnectorError as exc:
        refused = exc.os_error
        error = f"refused: {refused.reason}" if isinstance(refused, _Refused) else f"{type(exc).__name__}: {exc}"
        unreachable = True
    except (aiohttp.ClientError, OSError) as exc:
        error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    duration_ms = int((time.monotonic() - started) * 1000)
    attempts_done = claimed.attempt_count + 1
    if status is not None and 200 <= status < 300:
        return Outcome(True, status, duration_ms, response_body, None, None)
    if status == 410:
        reason = f"the endpoint answered 410 Gone at {datetime.now(UTC).isoformat(timespec='seconds')}"
        return Outcome(False, status, duration_ms, response_body, "410 Gone", None, disable_reason=reason)
    if status is not None:
        error = f"HTTP {status}" + (" (redirects are not followed)" if 300 <= status < 400 else "")
    delay = next_delay(settings, attempts_done, retry_after)
    return Outcome(False, status, duration_ms, response_body, error, delay, unreachable=unreachable)
