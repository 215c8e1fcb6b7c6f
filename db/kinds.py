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
    # Facts with provenance references carry a derived ``sourcing`` and emit sourcing_changed.
    sourced: bool = False


# Load order: a record may only reference kinds that come before it (claims link claims, so a kind
# may also reference itself). The bulk loader, the CLI report and every listing keep this order.
KINDS: tuple[Kind, ...] = (
    Kind("actor", "actors", "act", "Actor"),
    Kind("article", "articles", "art", "Article"),
    Kind("claim", "claims", "clm", "Claim", sourced=True),
    Kind("deployment", "deployments", "dep", "Deployment", sourced=True),
    Kind("incident", "incidents", "inc", "Incident", sourced=True),
)
LOAD_ORDER: tuple[str, ...] = tuple(k.name for k in KINDS)
BY_NAME: dict[str, Kind] = {k.name: k for k in KINDS}
# REST collection → kind, e.g. "claims" → "claim".
COLLECTIONS: dict[str, str] = {k.plural: k.name for k in KINDS}

# The one catalogue of change kinds and event types ("<kind>.<change>", e.g. claim.corrected): a
# revision's change_kind (0007's CHECK lists the same words) and its event's type. Every kind is
# created, updated, corrected and retracted; an article is also recalled (withheld, canceled) and
# released; a sourced fact's sourcing changes when an article it cites is recalled or retracted.
CHANGE_KINDS = ("created", "updated", "corrected", "retracted")
RECALL_KINDS = ("withheld", "canceled", "released")
SOURCING_CHANGED = "sourcing_changed"
SOURCED: tuple[str, ...] = tuple(k.name for k in KINDS if k.sourced)
# The corrections feed: every change kind but a plain creation or update (0008's corrections index).
CORRECTION_KINDS = ("corrected", "retracted", *RECALL_KINDS, SOURCING_CHANGED)
ALL_CHANGE_KINDS = (*CHANGE_KINDS, *RECALL_KINDS, SOURCING_CHANGED)
# What each change kind says happened: the event catalogue (docs/reference/events.md) is generated
# from these words, so they are written for the API's users.
CHANGE_MEANINGS: dict[str, str] = {
    "created": "the fact was added (`POST`, `create<Kind>`, a bulk load)",
    "updated": "fields were edited (`PATCH`, `update<Kind>`)",
    "corrected": "fields were corrected, with a reason (`POST …/corrections`, `correct<Kind>`)",
    "retracted": "the fact was retracted (`DELETE`, `retract<Kind>`); it stays readable with its history",
    "withheld": "the article's `pubStatus` became `withheld` (a legal hold): readers without write scope get its stub",
    "canceled": "the article's `pubStatus` became `canceled`: readers without write scope get its stub",
    "released": "the article is `usable` again after being withheld or canceled",
    "sourcing_changed": "an article the fact cites was recalled, released or retracted, and the fact's `sourcing` changed",
}


def change_kinds(kind: str) -> tuple[str, ...]:
    """The change kinds one kind of fact has (what its events can say happened)."""
    recall = RECALL_KINDS if kind == "article" else ()
    sourcing = (SOURCING_CHANGED,) if BY_NAME[kind].sourced else ()
    return (*CHANGE_KINDS, *recall, *sourcing)


EVENT_TYPES: tuple[str, ...] = tuple(f"{kind}.{change}" for kind in LOAD_ORDER for change in change_kinds(kind))
