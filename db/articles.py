"""Articles: the reports facts are drawn from, with outlet, authors and the outlets they relay."""

from __future__ import annotations

from typing import Any

from db.analytics import Analytics, DateField, array_facet, column_facet
from db.facts import FactType, FilterDef, OrderDef, common_filters, common_orders
from db.fields import (
    INVALID,
    MAX_BODY,
    Checks,
    Field,
    Path,
    enum,
    list_of,
    pattern_text,
    raw_text,
    ref,
    shape_of,
    text,
    timestamp,
    with_shape,
)

PUB_STATUSES = ("usable", "withheld", "canceled")
# IPTC Media Topics codes, with or without the "medtop:" scheme prefix (stored with it).
_SUBJECT_FORMAT = pattern_text(r"(medtop:)?[0-9]{8}", "an IPTC Media Topic code such as medtop:11000000")


def _subject(value: Any, path: Path, checks: Checks) -> Any:
    code = _SUBJECT_FORMAT(value, path, checks)
    return code if code is INVALID or code.startswith("medtop:") else f"medtop:{code}"


SUBJECT = with_shape(_subject, shape_of(_SUBJECT_FORMAT))


LANGUAGE = pattern_text(r"[a-zA-Z]{2,3}(-[a-zA-Z0-9]{1,8})*", "a BCP 47 tag such as en-GB", max_len=35)

_PUBLISHED_KEY = "coalesce(r.published_at, '0001-01-01T00:00:00Z'::timestamptz)"

TYPE = FactType(
    kind="article",
    table="articles",
    alias="r",
    fields=(
        Field("uri", text(max_len=2000), required=True),
        Field("url", pattern_text(r"https?://\S+", "an http(s) URL", max_len=2000)),
        Field("headline", text(max_len=1000), required=True),
        Field("summary", text()),
        Field("body", raw_text(max_len=MAX_BODY), default=""),
        Field("language", LANGUAGE, default="en"),
        Field("publishedAt", timestamp(), column="published_at"),
        Field("outlet", ref("actor"), column="outlet_id"),
        Field("authors", list_of(ref("actor"), unique=True), column="author_ids", default=list),
        Field("basedOn", list_of(ref("actor"), unique=True), column="based_on_ids", default=list),
        Field("subjects", list_of(SUBJECT, unique=True), default=list),
        Field("pubStatus", enum(*PUB_STATUSES), column="pub_status", default="usable"),
    ),
    filters=(
        *common_filters("r"),
        FilterDef("outlet", ref("actor"), "r.outlet_id = {p}::text", "articles published by this outlet"),
        FilterDef(
            "actor",
            ref("actor"),
            "(r.author_ids || r.based_on_ids || ARRAY[r.outlet_id]) @> ARRAY[{p}::text]",
            "articles this actor wrote, published or is relayed from",
        ),
        FilterDef(
            "subject",
            SUBJECT,
            "r.subjects @> ARRAY['medtop:' || replace({p}::text, 'medtop:', '')]",
            "IPTC Media Topic code",
        ),
        FilterDef("pubStatus", enum(*PUB_STATUSES), "r.pub_status = {p}::text"),
        FilterDef(
            "language", LANGUAGE, "r.language = {p}::text", "articles in this language (a BCP 47 tag, as stored)"
        ),
        FilterDef(
            "publishedFrom",
            timestamp(),
            f"{_PUBLISHED_KEY} >= ({{p}}::text)::timestamptz AND r.published_at IS NOT NULL",
        ),
        FilterDef(
            "publishedTo",
            timestamp(),
            f"{_PUBLISHED_KEY} < ({{p}}::text)::timestamptz AND r.published_at IS NOT NULL",
        ),
    ),
    orders=(*common_orders("r"), OrderDef("publishedAt", _PUBLISHED_KEY, "timestamptz")),
    # What search snippets are cut from: the text the ``search`` column (0001_core.sql) indexes.
    search_text="{a}.headline || ' — ' || coalesce({a}.summary || ' — ', '') || {a}.body",
    analytics=Analytics(
        facets=(
            column_facet("outlet", "outlet_id", relation="actor"),
            column_facet("language", "language"),
            array_facet("subjects", "subjects", filters=("subject",)),
        ),
        dates=(DateField("publishedAt", "{a}.published_at", timestamp=True),),
    ),
)
