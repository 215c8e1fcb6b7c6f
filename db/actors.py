"""Actors: people, organisations, governments, outlets, units and unnamed sources, with roles over time."""

from __future__ import annotations

from db.analytics import Analytics, column_facet
from db.facts import FactType, FilterDef, common_filters, common_orders
from db.fields import Field, date, enum, list_of, obj, pattern_text, ref, text

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
    # What search snippets are cut from: the text the ``search`` column (0001_core.sql) indexes.
    search_text="{a}.name || ' — ' || coalesce({a}.description, '')",
    analytics=Analytics(facets=(column_facet("kind", "kind", values=KINDS), column_facet("country", "country"))),
)
