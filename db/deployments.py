"""Deployments: who sent what where — each asset with its own quantity, attributes and provenance."""

from __future__ import annotations

from typing import Any

from db.analytics import Analytics, DateField, Geometry, GroupBy, SumField, array_facet, column_facet
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
    place,
    place_columns,
    quantity,
    ref,
    references,
    text,
    with_ids,
)
from db.geo import distance_order, geo_filters

STATUSES = ("announced", "active", "withdrawn")
ASSET_TYPES = (
    "aircraftCarrier",
    "warship",
    "submarine",
    "troops",
    "fighterJet",
    "bomber",
    "drone",
    "helicopter",
    "aircraft",
    "missileSystem",
    "airDefense",
    "armoredVehicle",
    "artillery",
    "other",
)

ASSET_FIELDS = (
    Field("assetType", enum(*ASSET_TYPES), required=True),
    Field("name", text(max_len=300)),
    Field("quantity", quantity()),
    Field("attributes", list_of(text(max_len=100), unique=True), default=list),
    Field("references", references(), default=list),
)


def _cross_check(values: dict[str, Any], checks: Checks) -> None:
    if values["startedOn"] and values["endedOn"] and values["endedOn"] < values["startedOn"]:
        checks.fail(("endedOn",), "INVALID_RANGE", "must not be before startedOn")


def _derive(columns: dict[str, Any]) -> None:
    assets = columns.get("assets") or []
    columns["asset_types"] = sorted({a["assetType"] for a in assets})
    refs = list(columns.get("refs") or [])
    for asset in assets:
        refs.extend(asset.get("references") or [])
    columns["article_ids"] = article_ids_of(refs)


TYPE = FactType(
    kind="deployment",
    table="deployments",
    alias="d",
    fields=(
        Field("deployer", ref("actor"), column="deployer_id"),
        Field("region", place(), store=place_columns("region")),
        Field("statedPurpose", text(), column="stated_purpose"),
        Field("status", enum(*STATUSES), default="announced"),
        Field("startedOn", date(), column="started_on"),
        Field("endedOn", date(), column="ended_on"),
        Field("assets", with_ids("asset", ASSET_FIELDS), default=list),
        Field("references", references(), column="refs", default=list),
    ),
    filters=(
        *common_filters("d"),
        FilterDef("deployer", ref("actor"), "d.deployer_id = {p}::text", "deployments by this actor"),
        FilterDef("status", enum(*STATUSES), "d.status = {p}::text"),
        FilterDef(
            "region",
            text(max_len=300),
            "lower(d.region_name) = lower({p}::text)",
            "region name (case-insensitive)",
        ),
        FilterDef(
            "assetType",
            enum(*ASSET_TYPES),
            "d.asset_types @> ARRAY[{p}::text]",
            "deployments with this asset type",
        ),
        article_filter("d", "deployments"),
        sourcing_filter("d", "deployments"),
        *date_range_filters("d", "started_on", ("startedFrom", "startedTo")),
        *geo_filters("d", "region_geojson", "deployments"),
    ),
    orders=(
        *common_orders("d"),
        OrderDef("startedOn", date_key("d", "started_on"), "date"),
        distance_order("d", "region_geojson"),
    ),
    cross_check=_cross_check,
    derive=_derive,
    # What search snippets are cut from: the text the ``search`` column (0001_core.sql) indexes.
    search_text="concat_ws(' — ', {a}.region_name, {a}.stated_purpose)",
    analytics=Analytics(
        facets=(
            column_facet("status", "status", values=STATUSES),
            column_facet("deployer", "deployer_id", relation="actor"),
            array_facet("assetType", "asset_types", values=ASSET_TYPES),
            column_facet("sourcing", "sourcing", values=SOURCINGS),
        ),
        dates=(DateField("startedOn", "{a}.started_on"),),
        sums=(
            SumField(
                "assets",
                "SELECT nullif(e -> 'quantity', 'null'::jsonb), e ->> 'assetType' FROM jsonb_array_elements({a}.assets) e",
                "the quantities of the deployments' assets (each asset counts once)",
            ),
        ),
        groups=(GroupBy("assetType", item=True), GroupBy("status", "{a}.status")),
        geometry=Geometry("region", "region_geojson"),
    ),
)
