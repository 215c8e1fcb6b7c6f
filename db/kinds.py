"""The one registry of fact kinds: each kind's name, plural (REST collection, schema module), id
prefix and event types, in load order. Every other list of kinds is derived from this one."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Kind:
    name: str
    plural: str
    prefix: str
    title: str  # the GraphQL / OpenAPI type name


# Load order: a record may only reference kinds that come before it (claims link claims, so a kind
# may also reference itself). The bulk loader, the CLI report and every listing keep this order.
KINDS: tuple[Kind, ...] = (
    Kind("actor", "actors", "act", "Actor"),
    Kind("article", "articles", "art", "Article"),
    Kind("claim", "claims", "clm", "Claim"),
    Kind("deployment", "deployments", "dep", "Deployment"),
    Kind("incident", "incidents", "inc", "Incident"),
)
LOAD_ORDER: tuple[str, ...] = tuple(k.name for k in KINDS)
BY_NAME: dict[str, Kind] = {k.name: k for k in KINDS}
# REST collection → kind, e.g. "claims" → "claim".
COLLECTIONS: dict[str, str] = {k.plural: k.name for k in KINDS}

# Every event type: "<kind>.<change>", e.g. claim.corrected.
CHANGE_KINDS = ("created", "updated", "corrected", "retracted")
EVENT_TYPES: tuple[str, ...] = tuple(f"{kind}.{change}" for kind in LOAD_ORDER for change in CHANGE_KINDS)
