"""The rules a webhook endpoint and its admin requests follow, once for every transport: REST
(api/rest/webhook_endpoints.py) and GraphQL (schema/webhook_mutations.py) hand their input here as
camelCase fields and get the same checks, field paths and codes back. The URL's address policy
needs DNS and settings, so it comes in as ``check_url`` (api/webhooks/delivery.py: validate_url,
which starts with ``url_syntax`` below)."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from db.errors import FieldError, NotFound, ValidationFailed
from db.events import EVENT_TYPES
from db.fields import INVALID, Checks, timestamp
from db.ids import is_id

MAX_DESCRIPTION = 1000
MAX_URL = 2048
MAX_GRACE_SECONDS = 7 * 86400
STATUSES = ("enabled", "disabled")
# What an endpoint's event bodies carry: the recall rules applied ('public', the default) or the
# stored snapshot ('full'). Endpoints are managed with admin keys only, so only an admin sets it.
PAYLOAD_SCOPES = ("public", "full")
_EVENT_TYPES = frozenset(EVENT_TYPES)
_EVENT_TYPE_RE = re.compile(r"^[a-z]+\.[a-z]+$")
_CONTROL = re.compile(r"[\x00-\x20\x7f]")

CheckUrl = Callable[[Any], Awaitable[str]]


@dataclass(frozen=True)
class EndpointChanges:
    """Validated fields of a create or an update (None: not given, except where ``set_description``)."""

    url: str | None = None
    description: str | None = None
    set_description: bool = False
    enabled_events: list[str] | None = None
    status: str | None = None
    payload_scope: str | None = None


def endpoint_id(value: str) -> str:
    """A well-formed endpoint id, or NOT_FOUND (a malformed id names nothing)."""
    if not is_id(value, "webhook_endpoint"):
        raise NotFound(f"no webhook endpoint {value[:60]!r} (ids look like whe_…)")
    return value


def delivery_id(value: str) -> str:
    if not is_id(value, "webhook_delivery"):
        raise NotFound(f"no webhook delivery {value[:60]!r} (ids look like whd_…)")
    return value


def enabled_events(value: Any, errors: list[FieldError]) -> list[str] | None:
    """A non-empty list of event types or ``*`` (duplicates dropped)."""
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        errors.append(FieldError(("enabledEvents",), "INVALID_TYPE", "must be a non-empty array of event types"))
        return None
    found = len(errors)
    for i, name in enumerate(value):
        if name != "*" and name not in _EVENT_TYPES:
            hint = "" if _EVENT_TYPE_RE.match(name) else " (types look like claim.created)"
            errors.append(
                FieldError(
                    ("enabledEvents", i), "UNKNOWN_EVENT_TYPE", f"{name[:80]!r} is not an event type or '*'{hint}"
                )
            )
    return list(dict.fromkeys(value)) if len(errors) == found else None


def description(value: Any, errors: list[FieldError]) -> str | None:
    """Free text for people, at most 1000 characters, none of them NUL (PostgreSQL text cannot hold it)."""
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_DESCRIPTION:
        errors.append(FieldError(("description",), "INVALID_TYPE", "must be a string of at most 1000 characters"))
        return None
    if "\x00" in value:
        errors.append(FieldError(("description",), "INVALID_VALUE", "must not contain NUL characters"))
        return None
    return value


def payload_scope(value: Any, errors: list[FieldError]) -> str | None:
    if value not in PAYLOAD_SCOPES:
        errors.append(FieldError(("payloadScope",), "INVALID_VALUE", "must be 'public' or 'full'"))
        return None
    return str(value)


def url_syntax(url: Any, *, require_https: bool, pointer: str = "url", https_hint: str = "") -> tuple[str, int]:
    """(host, port) of an acceptable endpoint URL; ValidationFailed (INVALID_URL) naming ``pointer``
    otherwise (``https_hint`` says what lifts the https rule). Only its form: the address the host
    resolves to is checked by the caller's policy."""

    def bad(message: str) -> ValidationFailed:
        return ValidationFailed(f"{pointer} {message}", errors=[FieldError((pointer,), "INVALID_URL", message)])

    if not isinstance(url, str) or not url:
        raise bad("must be a non-empty string")
    if len(url) > MAX_URL:
        raise bad(f"must be at most {MAX_URL} characters")
    if _CONTROL.search(url):
        raise bad("must not contain spaces or control characters (NUL included)")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise bad(f"is not a valid URL ({exc})") from None
    schemes = ("https",) if require_https else ("https", "http")
    if parts.scheme not in schemes:
        raise bad(f"must use {' or '.join(schemes)}{https_hint if require_https else ''}")
    host = parts.hostname
    if not host:
        raise bad("has no host")
    if parts.username or parts.password:
        raise bad("must not carry credentials; authenticate the signature instead")
    if parts.fragment:
        raise bad("must not have a #fragment")
    if not host.startswith("["):
        _host_name(host.rstrip("."), bad)
    return host, port or (443 if parts.scheme == "https" else 80)


def _host_name(host: str, bad: Callable[[str], ValidationFailed]) -> None:
    """DNS limits (RFC 1035: labels ≤ 63 octets, names ≤ 253) and IDNA, checked here: the resolver
    would otherwise fail with a UnicodeError from deep inside the standard library."""
    if ":" in host:
        return  # an IPv6 literal (urlsplit strips its brackets)
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError:
        raise bad("has a host name that is not valid (each label at most 63 characters, IDNA)") from None
    if len(ascii_host) > 253 or any(not 1 <= len(label) <= 63 for label in ascii_host.split(".")):
        raise bad("has a host name that is not valid (each label 1-63 characters, 253 in all)")


async def create(
    fields: Mapping[str, Any], check_url: CheckUrl, *, errors: list[FieldError] | None = None
) -> EndpointChanges:
    """A new endpoint's fields: ``url`` required, ``enabledEvents`` (default ``*``), ``description``,
    ``payloadScope`` (default ``public``). ``errors`` are the transport's own findings (unknown
    fields), reported together with these."""
    errors = list(errors or [])
    if "url" not in fields:
        errors.append(FieldError(("url",), "REQUIRED", "is required"))
    events = enabled_events(fields.get("enabledEvents", ["*"]), errors)
    note = description(fields.get("description"), errors)
    given = fields.get("payloadScope")
    scope = "public" if given is None else payload_scope(given, errors)
    if errors:
        raise ValidationFailed("the webhook endpoint is not valid", errors=errors)
    url = await check_url(fields["url"])
    return EndpointChanges(
        url=url, description=note, set_description=True, enabled_events=events or ["*"], payload_scope=scope
    )


async def update(
    fields: Mapping[str, Any], check_url: CheckUrl, *, errors: list[FieldError] | None = None
) -> EndpointChanges:
    """The given fields of an update (``description: null`` clears it); ``errors`` as for ``create``."""
    errors = list(errors or [])
    events = enabled_events(fields["enabledEvents"], errors) if "enabledEvents" in fields else None
    note = description(fields.get("description"), errors)
    status = fields.get("status")
    if status is not None and status not in STATUSES:
        errors.append(FieldError(("status",), "INVALID_VALUE", "must be 'enabled' or 'disabled'"))
    scope = payload_scope(fields["payloadScope"], errors) if fields.get("payloadScope") is not None else None
    if errors:
        raise ValidationFailed("the webhook endpoint update is not valid", errors=errors)
    url = await check_url(fields["url"]) if "url" in fields else None
    return EndpointChanges(
        url=url,
        description=note,
        set_description="description" in fields,
        enabled_events=events,
        status=status,
        payload_scope=scope,
    )


def grace_seconds(value: Any) -> int:
    """How long a rotated-out secret keeps signing: an integer from 0 to 7 days."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_GRACE_SECONDS:
        raise ValidationFailed(
            "the rotation request is not valid",
            errors=[
                FieldError(("graceSeconds",), "INVALID_VALUE", f"must be an integer from 0 to {MAX_GRACE_SECONDS}")
            ],
        )
    return value


def replay_window(fields: Mapping[str, Any], *, one_of: tuple[str, ...]) -> tuple[datetime | None, int | None]:
    """(since, afterSequence) of a replay: exactly one, a date-time PostgreSQL can store or a sequence ≥ 0.
    ``one_of`` is where the transport reports giving both or neither (REST: the body; GraphQL: since)."""
    errors: list[FieldError] = []
    since: datetime | None = None
    after: int | None = None
    if ("since" in fields and fields["since"] is not None) == (
        "afterSequence" in fields and fields["afterSequence"] is not None
    ):
        errors.append(FieldError(one_of, "ONE_OF", "give exactly one of since (a time) or afterSequence"))
    if fields.get("since") is not None:
        checks = Checks()
        parsed = timestamp()(fields["since"], ("since",), checks)
        errors += checks.errors
        since = None if parsed is INVALID else datetime.fromisoformat(parsed)
    if fields.get("afterSequence") is not None:
        value = fields["afterSequence"]
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 2**63 - 1:
            errors.append(FieldError(("afterSequence",), "INVALID_VALUE", "must be a non-negative integer"))
        else:
            after = value
    if errors:
        raise ValidationFailed("the replay request is not valid", errors=errors)
    return since, after
