"""Claims: who said what, quoted or paraphrased, reported by whom, about whom — with provenance."""

from __future__ import annotations

from typing import Any

from db.analytics import Analytics, DateField, array_facet, column_facet
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
from db.fields import Checks, Field, article_ids_of, date, enum, list_of, ref, references, text

QUOTE_TYPES = ("direct", "indirect", "assertion", "analysis")
STATUSES = ("reported", "corroborated", "disputed", "denied", "retracted")
PRECISIONS = ("day", "month", "year")


def _cross_check(values: dict[str, Any], checks: Checks) -> None:
    if values["quoteType"] == "direct" and not values["quote"]:
        checks.fail(("quote",), "REQUIRED", "a direct claim needs the verbatim quote")
    if values["claimDatePrecision"] and not values["claimDate"]:
        checks.fail(("claimDatePrecision",), "INVALID_VALUE", "needs a claimDate")


def _derive(columns: dict[str, Any]) -> None:
    if columns.get("claim_date") and not columns.get("claim_date_precision"):
        columns["claim_date_precision"] = "day"
    columns["article_ids"] = article_ids_of(columns.get("refs"))


TYPE = FactType(
    kind="claim",
    table="claims",
    alias="c",
    fields=(
        Field("statement", text(), required=True),
        Field("quote", text()),
        Field("quoteType", enum(*QUOTE_TYPES), column="quote_type", required=True),
        Field("speaker", ref("actor"), column="speaker_id"),
        Field("speakerDescription", text(max_len=1000), column="speaker_description"),
        Field("reportedBy", ref("actor"), column="reported_by_id"),
        Field("subjects", list_of(ref("actor"), unique=True), column="subject_ids", default=list),
        Field("claimDate", date(), column="claim_date"),
        Field("claimDatePrecision", enum(*PRECISIONS), column="claim_date_precision"),
        Field("status", enum(*STATUSES), default="reported"),
        Field("supersedes", list_of(ref("claim"), unique=True), column="supersedes_ids", default=list),
        Field("contradicts", list_of(ref("claim"), unique=True), column="contradicts_ids", default=list),
        Field("sameAs", list_of(ref("claim"), unique=True), column="same_as_ids", default=list),
        Field("references", references(), column="refs", default=list),
    ),
    filters=(
        *common_filters("c"),
        FilterDef("speaker", ref("actor"), "c.speaker_id = {p}::text", "claims made by this actor"),
        FilterDef("reportedBy", ref("actor"), "c.reported_by_id = {p}::text", "claims reported by this actor"),
        FilterDef(
            "subject", ref("actor"), 'c.subject_ids @> ARRAY[{p}::text COLLATE "default"]', "claims about this actor"
        ),
        article_filter("c", "claims"),
        sourcing_filter("c", "claims"),
        FilterDef("status", enum(*STATUSES), "c.status = {p}::text"),
        FilterDef("quoteType", enum(*QUOTE_TYPES), "c.quote_type = {p}::text"),
        *date_range_filters(
            "c",
            "claim_date",
            ("claimDateFrom", "claimDateTo"),
            ("claims dated on or after this day", "claims dated on or before this day"),
        ),
    ),
    orders=(*common_orders("c"), OrderDef("claimDate", date_key("c", "claim_date"), "date")),
    cross_check=_cross_check,
    derive=_derive,
    on_retract={"status": "retracted"},
    # What search snippets are cut from: the text the ``search`` column (0001_core.sql) indexes.
    search_text="{a}.statement || coalesce(' — ' || {a}.quote, '')",
    analytics=Analytics(
        facets=(
            column_facet("status", "status", values=STATUSES),
            column_facet("quoteType", "quote_type", values=QUOTE_TYPES),
            column_facet("speaker", "speaker_id", relation="actor"),
            column_facet("reportedBy", "reported_by_id", relation="actor"),
            array_facet("subjects", "subject_ids", relation="actor", filters=("subject",)),
            column_facet("sourcing", "sourcing", values=SOURCINGS),
        ),
        dates=(DateField("claimDate", "{a}.claim_date", precision="{a}.claim_date_precision"),),
    ),
)
