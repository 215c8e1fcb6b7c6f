"""Actors: people, organisations, governments, outlets, units and unnamed sources, with roles over time."""

from __future__ import annotations

from typing import Any

from db.analytics import Analytics, column_facet
from db.facts import FactType, FilterDef, common_filters, common_orders
from db.fields import Checks, Field, date, enum, list_of, obj, pattern_text, ref, text

KINDS = (
    "person",
    "organization",
    "government",
    "country",
    "mediaOutlet",
    "militaryUnit",
    "group",
    "anonymousSource",
)

ROLE = obj(
    (
        Field("title", text(max_len=300), required=True),
        Field("organization", ref("actor")),
        Field("since", date()),
        Field("until", date()),
    ),
    name="Role",
)


def _cross_check(values: dict[str, Any], checks: Checks) -> None:
    # As a deployment's and an incident's ranges are (ISO dates compare as text).
    for i, role in enumerate(values["roles"] or ()):
        if role.get("since") and role.get("until") and role["until"] < role["since"]:
            checks.fail(("roles", i, "until"), "INVALID_RANGE", "must not be before since")


TYPE = FactType(
    kind="actor",
    table="actors",
    alias="a",
    fields=(
        Field("kind", enum(*KINDS), required=True),
        Field("name", text(max_len=500), required=True),
        Field("aliases", list_of(text(max_len=300), unique=True), default=list),
        Field("description", text()),
        Field("country", pattern_text(r"[A-Z]{2}", "an ISO 3166-1 alpha-2 code such as US")),
        Field(
            "wikidataId",
            pattern_text(r"Q[1-9][0-9]*", "a Wikidata item id such as Q12345"),
            column="wikidata_id",
        ),
        Field("roles", list_of(ROLE), default=list),
    ),
    filters=(
        *common_filters("a"),
        FilterDef("kind", enum(*KINDS), "a.kind = {p}::text", "actor kind"),
        FilterDef("country", pattern_text(r"[A-Z]{2}", "an ISO 3166-1 alpha-2 code"), "a.country = {p}::text"),
    ),
    orders=common_orders("a"),
    cross_check=_cross_check,
    # What search snippets are cut from: the text the ``search`` column (0001_core.sql) indexes.
    search_text="{a}.name || ' — ' || coalesce({a}.description, '')",
    analytics=Analytics(facets=(column_facet("kind", "kind", values=KINDS), column_facet("country", "country"))),
)
