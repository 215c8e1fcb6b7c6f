"""Industry formats beside our JSON: articles as IPTC ninjs 2.x, claims as schema.org ``Claim``
JSON-LD. Both are views of the canonical document with its relations expanded."""

from __future__ import annotations

from typing import Any

MEDIA_TYPES = {
    "json": "application/json",
    "ninjs": "application/ninjs+json",
    "jsonld": "application/ld+json",
    "geojson": "application/geo+json",  # api/rest/geojson.py
}
NINJS_SCHEMA = "http://www.iptc.org/std/ninjs/ninjs-schema_2.1.json"
MEDIATOPIC = "http://cv.iptc.org/newscodes/mediatopic/"
# What each format needs expanded to be written out.
NEEDS = {
    "ninjs": ["outlet", "authors", "basedOn"],
    "jsonld": ["speaker", "reportedBy", "subjects", "references.article"],
}

_SCHEMA_TYPES = {
    "person": "Person",
    "anonymousSource": "Person",
    "country": "Country",
    "government": "GovernmentOrganization",
    "mediaOutlet": "NewsMediaOrganization",
}


def _url(base: str, kind: str, ident: str) -> str:
    return f"{base}/v1/{kind}s/{ident}"


def _name(actor: Any) -> str | None:
    return actor.get("name") if isinstance(actor, dict) else None


def ninjs(doc: dict[str, Any], base: str) -> dict[str, Any]:
    """An article as an IPTC ninjs 2.1 news item."""
    authors = [a for a in doc.get("authors") or [] if isinstance(a, dict)]
    out: dict[str, Any] = {
        "$schema": NINJS_SCHEMA,
        "uri": doc.get("uri") or _url(base, "article", doc["id"]),
        "type": "text",
        "version": str(doc.get("version")),
        "firstcreated": doc.get("createdAt"),
        "versioncreated": doc.get("updatedAt"),
        "contentcreated": doc.get("publishedAt"),
        "pubstatus": doc.get("pubStatus") or "usable",
        "language": doc.get("language"),
        "headlines": [{"role": "main", "value": doc.get("headline")}] if doc.get("headline") else [],
        "descriptions": [{"role": "summary", "value": doc["summary"]}] if doc.get("summary") else [],
        "bodies": [{"role": "main", "contenttype": "text/plain", "value": doc["body"], "charcount": len(doc["body"])}]
        if doc.get("body")
        else [],
        "by": ", ".join(n for n in (_name(a) for a in authors) if n) or None,
        "people": [
            {"name": _name(a), "rel": "author", "uri": _url(base, "actor", a["id"])}
            for a in authors
            if a.get("kind") == "person"
        ],
        "subjects": [
            {"uri": MEDIATOPIC + code.removeprefix("medtop:"), "literal": code} for code in doc.get("subjects") or []
        ],
        "infosources": [
            {"name": _name(src), "role": role, "uri": _url(base, "actor", src["id"])}
            for role, sources in (("originator", [doc.get("outlet")]), ("source", doc.get("basedOn") or []))
            for src in sources
            if isinstance(src, dict)
        ],
        "altids": [{"role": "newsfacts", "value": doc["id"]}],
        "links": [{"rel": "self", "href": _url(base, "article", doc["id"]), "mimetype": "application/json"}]
        + ([{"rel": "canonical", "href": doc["url"], "mimetype": "text/html"}] if doc.get("url") else []),
    }
    return {k: v for k, v in out.items() if v not in (None, [])}


def _thing(actor: Any, base: str) -> dict[str, Any] | str:
    if not isinstance(actor, dict):
        return str(actor)
    thing = {
        "@type": _SCHEMA_TYPES.get(actor.get("kind", ""), "Organization"),
        "@id": _url(base, "actor", actor["id"]),
        "name": actor.get("name"),
    }
    if actor.get("wikidataId"):
        thing["sameAs"] = "https://www.wikidata.org/wiki/" + actor["wikidataId"]
    return thing


def claim_jsonld(doc: dict[str, Any], base: str) -> dict[str, Any]:
    """A claim as schema.org ``Claim``: who said it, when, about whom, and where it appeared (with the quote)."""
    appearances = []
    for ref in doc.get("references") or []:
        article = ref.get("article")
        work: dict[str, Any] = {"@type": "NewsArticle"}
        if isinstance(article, dict):
            work |= {"@id": _url(base, "article", article["id"]), "headline": article.get("headline")}
            if article.get("url"):
                work["url"] = article["url"]
            if article.get("publishedAt"):
                work["datePublished"] = article["publishedAt"]
        else:
            work["@id"] = _url(base, "article", str(article))
        work["hasPart"] = {"@type": "Quotation", "text": ref.get("quoteText")}
        appearances.append(work)
    speaker = doc.get("speaker")
    author: Any = _thing(speaker, base) if speaker else None
    if author is None and doc.get("speakerDescription"):
        author = {"@type": "Person", "description": doc["speakerDescription"]}
    out: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "Claim",
        "@id": _url(base, "claim", doc["id"]),
        "identifier": doc["id"],
        "text": doc.get("statement"),
        "author": author,
        "dateCreated": doc.get("claimDate"),
        "dateModified": doc.get("updatedAt"),
        "version": doc.get("version"),
        "creativeWorkStatus": doc.get("status"),
        "about": [_thing(s, base) for s in doc.get("subjects") or []],
        "publisher": _thing(doc["reportedBy"], base) if doc.get("reportedBy") else None,
        "appearance": appearances,
        "firstAppearance": appearances[0] if appearances else None,
    }
    return {k: v for k, v in out.items() if v not in (None, [])}


def render(kind: str, fmt: str, doc: dict[str, Any], base: str) -> dict[str, Any]:
    if fmt == "ninjs" and kind == "article":
        return ninjs(doc, base)
    if fmt == "jsonld" and kind == "claim":
        return claim_jsonld(doc, base)
    return doc
