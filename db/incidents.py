"""Incidents: what happened, to and by whom, when and where, with counts that keep their uncertainty."""

from __future__ import annotations

from typing import Any

from db.analytics import Analytics, DateField, Facet, Geometry, GroupBy, column_facet, quantity_sum
from db.facts import (
    SOURCINGS,
    FactType,
    FilterDef,
    OrderDef,
    article_filter,
    common_filters,
    common_orders,
    date_key,
    date_range_filters,
    sourcing_filter,
)
from db.fields import (
    Checks,
    Field,
    article_ids_of,
    date,
    enum,
    list_of,
    obj,
    pattern_text,
    place,
    place_columns,
    quantity,
    ref,
    references,
    text,
)
from db.geo import distance_order, geo_filters

ROLES = ("perpetrator", "target", "authorizer", "victim", "witness", "investigator")
PRECISIONS = ("day", "month", "year")

INCIDENT_ACTOR = obj(
    (Field("actor", ref("actor"), required=True), Field("role", enum(*ROLES), required=True)), name="IncidentActor"
)


def _cross_check(values: dict[str, Any], checks: Checks) -> None:
    if values["occurredFrom"] and values["occurredTo"] and values["occurredTo"] < values["occurredFrom"]:
        checks.fail(("occurredTo",), "INVALID_RANGE", "must not be before occurredFrom")


def _derive(columns: dict[str, Any]) -> None:
    columns["actor_ids"] = sorted({a["actor"] for a in columns.get("actors") or []})
    if columns.get("occurred_from") and not columns.get("occurred_precision"):
        columns["occurred_precision"] = "day"
    columns["article_ids"] = article_ids_of(columns.get("refs"))


def _role_filter(role: str) -> FilterDef:
    return FilterDef(
        role,
        ref("actor"),
        f"""i.actors @> jsonb_build_array(jsonb_build_object('actor', {{p}}::text, 'role', '{role}'))""",
        f"incidents in which this actor is the {role}",
    )


# Incidents by the actors in them, each with its role (a bucket per actor and role): selecting a
# bucket sets the role's filter (perpetrator, target, authorizer) or ``actor``.
_ACTOR_FACET = Facet(
    "actor",
    "SELECT e ->> 'actor', e ->> 'role' FROM jsonb_array_elements(CASE WHEN jsonb_typeof({a}.actors) = 'array' "
    "AND jsonb_array_length({a}.actors) > 0 THEN {a}.actors ELSE '[{{}}]'::jsonb END) e",
    relation="actor",
    filters=("actor", "perpetrator", "target", "authorizer"),
    detail="role",
    detail_values=ROLES,
)

TYPE = FactType(
    kind="incident",
    table="incidents",
    alias="i",
    fields=(
        Field(
            "incidentType",
            pattern_text(r"[a-z][a-zA-Z]{1,63}", "a camelCase word such as strike"),
            column="incident_type",
            required=True,
        ),
        Field("description", text()),
        Field("actors", list_of(INCIDENT_ACTOR), default=list),
        Field("location", place(), store=place_columns("location")),
        Field("occurredFrom", date(), column="occurred_from"),
        Field("occurredTo", date(), column="occurred_to"),
        Field("occurredPrecision", enum(*PRECISIONS), column="occurred_precision"),
        Field("count", quantity()),
        Field("fatalities", quantity()),
        Field("injuries", quantity()),
        Field("references", references(), column="refs", default=list),
    ),
    filters=(
        *common_filters("i"),
        FilterDef("incidentType", text(max_len=64), "i.incident_type = {p}::text"),
        FilterDef(
            "actor",
            ref("actor"),
            'i.actor_ids @> ARRAY[{p}::text COLLATE "default"]',
            "incidents involving this actor in any role",
        ),
        _role_filter("perpetrator"),
        _role_filter("target"),
        _role_filter("authorizer"),
        article_filter("i", "incidents"),
        sourcing_filter("i", "incidents"),
        *date_range_filters("i", "occurred_from", ("occurredFrom", "occurredTo")),
        *geo_filters("i", "location_geojson", "incidents"),
    ),
    orders=(
        *common_orders("i"),
        OrderDef("occurredFrom", date_key("i", "occurred_from"), "date"),
        distance_order("i", "location_geojson"),
    ),
    cross_check=_cross_check,
    derive=_derive,
    # What search snippets are cut from: the text the ``search`` column (0001_core.sql) indexes.
    search_text="concat_ws(' — ', {a}.incident_type, {a}.description, {a}.location_name)",
    analytics=Analytics(
        facets=(
            column_facet("incidentType", "incident_type"),
            _ACTOR_FACET,
            column_facet("sourcing", "sourcing", values=SOURCINGS),
        ),
        dates=(DateField("occurredFrom", "{a}.occurred_from", precision="{a}.occurred_precision"),),
        sums=(
            quantity_sum("count", "count", "how many events the incidents group (e.g. 16 strikes)"),
            quantity_sum("fatalities", "fatalities"),
            quantity_sum("injuries", "injuries"),
        ),
        groups=(GroupBy("incidentType", "{a}.incident_type"),),
        geometry=Geometry("location", "location_geojson"),
    ),
)
