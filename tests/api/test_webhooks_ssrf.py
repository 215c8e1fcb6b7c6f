"""The SSRF guard judges IPv6 forms that carry an IPv4 address by that address (issue 12, Defects 3):
NAT64 (64:ff9b::/96, 64:ff9b:1::/48), 6to4 (2002::/16), IPv4-compatible (::/96), Teredo (2001::/32)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

import httpx
import pytest

from api.webhooks.delivery import AddressPolicy, embedded_ipv4
from tests.services import LiveServer

# (literal, the IPv4 address it carries): each a way to write a private or loopback address.
HIDDEN_PRIVATE = [
    ("64:ff9b::7f00:1", "127.0.0.1"),  # NAT64 well-known prefix
    ("64:ff9b::a9fe:a9fe", "169.254.169.254"),  # NAT64 to the cloud metadata address
    ("64:ff9b:1::7f00:1", "127.0.0.1"),  # NAT64 local-use prefix, /96 layout
    ("64:ff9b:1:a00:0:100::", "10.0.0.1"),  # NAT64 local-use prefix, RFC 6052 /48 layout
    ("2002:7f00:1::", "127.0.0.1"),  # 6to4
    ("2002:c0a8:101::1", "192.168.1.1"),  # 6to4 of a private network
    ("::127.0.0.1", "127.0.0.1"),  # IPv4-compatible
    ("::10.1.2.3", "10.1.2.3"),  # IPv4-compatible, private
    ("2001:0:808:808:0:0:80ff:fffe", "127.0.0.1"),  # Teredo, client 127.0.0.1 (obfuscated)
    ("::ffff:127.0.0.1", "127.0.0.1"),  # IPv4-mapped (was already handled)
]


@pytest.mark.parametrize(("literal", "carried"), HIDDEN_PRIVATE)
def test_embedded_ipv4_is_found_and_judged(literal: str, carried: str) -> None:
    ip = ipaddress.ip_address(literal)
    assert ipaddress.ip_address(carried) in embedded_ipv4(ip)  # type: ignore[arg-type]
    assert AddressPolicy().refusal(ip) is not None


def test_embedded_public_addresses_are_judged_by_the_ipv4_address() -> None:
    policy = AddressPolicy()
    assert policy.refusal(ipaddress.ip_address("64:ff9b::808:808")) is None  # NAT64 of 8.8.8.8
    assert policy.refusal(ipaddress.ip_address("2002:808:808::1")) is None  # 6to4 of 8.8.8.8
    assert policy.refusal(ipaddress.ip_address("2606:4700:4700::1111")) is None  # plain global IPv6
    # The allow-list applies to the carried address too.
    allowed = AddressPolicy((ipaddress.ip_network("10.0.0.0/8"),))
    assert allowed.refusal(ipaddress.ip_address("::10.1.2.3")) is None


@pytest.fixture
def admin_client(server: LiveServer, database_url: str) -> Iterator[httpx.Client]:
    """A client of the session's server with an admin key."""
    from tests.api.test_rest_input import _key

    with httpx.Client(base_url=server.url, headers=_key(database_url, "admin"), timeout=10) as c:
        yield c


@pytest.mark.parametrize("literal", ["64:ff9b::7f00:1", "2002:7f00:1::", "::127.0.0.1", "64:ff9b:1::a9fe:a9fe"])
def test_registering_an_embedded_private_address_is_refused(admin_client: httpx.Client, literal: str) -> None:
    r = admin_client.post("/v1/webhook-endpoints", json={"url": f"https://[{literal}]/hook"})
    assert r.status_code == 422, r.text
    error = r.json()["errors"][0]
    assert error["pointer"] == "/url" and error["code"] == "INVALID_URL" and "refused" in error["detail"]
