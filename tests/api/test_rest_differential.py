"""The planned REST read path answers exactly what the old one answered: generated REST requests
(lists and sub-collections x filters (any-of forms too) x sorts x expand x fields x formats x asOf x q with relevance
x cursors taken from earlier answers x anonymous, read and admin callers) over the varied corpus
(withheld and canceled articles, facts citing them, retractions, corrections), each sent over real
HTTP to the product and to a reference server whose read routes are the old path
(tests/api/rest_reference.py, mounted in front of the product's), must give the same status, the
same JSON (parsed: key order and whitespace may differ), and the same headers. Entity tags are the exception the bytes make: a list's tag and a
variant's hash the body, so they must have the same form, and each must answer its own
If-None-Match with a 304."""

from __future__ import annotations

import asyncio
import os
import random
import re
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
import uvicorn

from api.app import create_app
from api.cache.cdn import bounded
from api.cache.middleware import path_tags
from api.cache.tags import depends, ids_in
from api.embedded import free_port
from api.http_protocol import HTTP_PROTOCOL
from api.rest.params import filter_params
from api.settings import Settings
from db.pool import connect
from db.registry import fact_type
from tests import corpus
from tests.api import rest_reference
from tests.api.live_events import api_key
from tests.services import LiveServer, serving

# NEWSFACTS_REST_DIFF_REQUESTS trims the run while iterating; the suite runs all of them.
REQUESTS = int(os.environ.get("NEWSFACTS_REST_DIFF_REQUESTS", "900"))
COLLECTIONS = {"actor": "actors", "article": "articles", "claim": "claims", "deployment": "deployments",
               "incident": "incidents"}  # fmt: skip
ORDERS = {
    "actor": ["createdAt", "updatedAt"],
    "article": ["createdAt", "updatedAt", "publishedAt"],
    "claim": ["createdAt", "updatedAt", "claimDate"],
    "deployment": ["createdAt", "updatedAt", "startedOn", "distance"],
    "incident": ["createdAt", "updatedAt", "occurredFrom", "distance"],
}
EXPANDS = {
    "actor": [],
    "article": ["outlet", "authors", "basedOn"],
    "claim": ["speaker", "reportedBy", "subjects", "supersedes", "contradicts", "sameAs", "references.article"],
    "deployment": ["deployer", "references.article", "assets.references.article"],
    "incident": ["actors.actor", "references.article"],
}
FIELDS = {
    "actor": ["name", "kind", "aliases", "roles", "version", "updatedAt"],
    "article": ["headline", "outlet", "authors", "pubStatus", "body", "retractedAt"],
    "claim": ["statement", "speaker", "references", "sourcing", "status", "version", "subjects"],
    "deployment": ["deployer", "region", "assets", "references", "sourcing"],
    "incident": ["location", "actors", "references", "count", "sourcing"],
}
FORMATS = {"article": ["ninjs"], "claim": ["jsonld"], "deployment": ["geojson"], "incident": ["geojson"]}
ANY_OF = {kind: {n for n in filter_params(fact_type(kind)) if n.endswith("In")} for kind in COLLECTIONS}
HEADERS = ("content-type", "cache-control", "vary", "last-modified", "link")
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def varied(database_url: str) -> dict[str, Any]:
    """The module's database with tests/corpus.py's facts added; the values requests draw from."""

    async def build() -> dict[str, Any]:
        conn = await connect(database_url)
        try:
            await corpus.build(conn)
            ids: dict[str, list[str]] = {}
            for kind, table in COLLECTIONS.items():
                ids[kind] = [r["id"] for r in await conn.fetch(f"SELECT id FROM {table} ORDER BY md5(id) LIMIT 25")]
            recalled = await conn.fetch(
                "SELECT id FROM articles WHERE pub_status <> 'usable' OR retracted_at IS NOT NULL"
            )
            assert any(True for _ in recalled), "the corpus has withheld or canceled articles"
            ids["article"] += [r["id"] for r in recalled]
            for kind in ("claim", "deployment", "incident"):
                ids[kind] += [
                    r["id"] for r in await conn.fetch(f"SELECT id FROM {kind}s WHERE sourcing <> 'supported'")
                ]
            stamps = await conn.fetch("SELECT DISTINCT changed_at FROM revisions ORDER BY changed_at DESC LIMIT 6")
            values = {
                "claim": {
                    "status": await _distinct(conn, "claims", "status"),
                    "quoteType": await _distinct(conn, "claims", "quote_type"),
                    "sourcing": ["supported", "partlyWithdrawn", "withdrawn"],
                    "speaker": await _distinct(conn, "claims", "speaker_id"),
                    "article": ids["article"][:6] + [r["id"] for r in recalled],
                    "claimDateFrom": ["2024-01-01", "2025-06-01"],
                    "q": ["minister", "retreat", "Maduro", "nothingmatches"],
                },
                "article": {
                    "outlet": await _distinct(conn, "articles", "outlet_id"),
                    "pubStatus": ["usable", "withheld", "canceled"],
                    "subject": ["medtop:11000000"],
                    "q": ["convoy", "Maduro"],
                },
                "actor": {"kind": await _distinct(conn, "actors", "kind"), "country": ["VE", "US"], "q": ["Maduro"]},
                "deployment": {
                    "status": await _distinct(conn, "deployments", "status"),
                    "sourcing": ["supported", "partlyWithdrawn", "withdrawn"],
                    "near": ["-66,10,3000", "0,0,20000"],
                    "bbox": ["-90,0,-50,30"],
                    "q": ["troops", "Caribbean"],
                },
                "incident": {
                    "incidentType": await _distinct(conn, "incidents", "incident_type"),
                    "sourcing": ["supported", "withdrawn"],
                    "near": ["-66,10,3000", "180,0,100"],
                    "q": ["strike"],
                },
            }
        finally:
            await conn.close()
        times = ["2020-01-01T00:00:00Z", *(r["changed_at"].isoformat() for r in stamps)]
        return {"ids": ids, "values": values, "times": times}

    return asyncio.run(build())


async def _distinct(conn: Any, table: str, column: str) -> list[str]:
    rows = await conn.fetch(f"SELECT DISTINCT {column} AS v FROM {table} WHERE {column} IS NOT NULL LIMIT 6")
    return [str(r["v"]) for r in rows]


@pytest.fixture(scope="module")
def live(settings: Settings, varied: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(the product's URL, the reference server's URL), both over the varied database."""
    reference = create_app(settings)
    # Starlette tries routes in order: these answer the reads before the product's routes can.
    reference.router.routes[:0] = rest_reference.routes()
    config = uvicorn.Config(
        reference, host="127.0.0.1", port=free_port(), log_level="warning", lifespan="on",
        http=HTTP_PROTOCOL, server_header=False, access_log=False,
    )  # fmt: skip
    product = LiveServer(settings).start()
    try:
        with serving(config) as reference_url:
            yield product.url, reference_url
    finally:
        product.stop()


class Requests:
    """Generated REST reads; cursors come from answers already seen."""

    def __init__(self, rng: random.Random, varied: dict[str, Any]) -> None:
        self.rng = rng
        self.ids = varied["ids"]
        self.values = varied["values"]
        self.times = varied["times"]
        self.cursors: list[tuple[str, dict[str, str]]] = []  # (path, the query that issued it)

    def pick(self, options: list[Any]) -> Any:
        return self.rng.choice(options)

    def one(self) -> tuple[str, dict[str, str], dict[str, str]]:
        """(path, query parameters, extra headers)."""
        r = self.rng.random()
        if r < 0.12 and self.cursors:
            path, query = self.pick(self.cursors)
            return path, dict(query), {}
        if r < 0.42:
            return self._item()
        return self._list()

    def _item(self) -> tuple[str, dict[str, str], dict[str, str]]:
        kind = self.pick(list(COLLECTIONS))
        fact_id = (
            self.pick(self.ids[kind])
            if self.rng.random() < 0.93
            else self.pick(["clm_nope", "art_01K8B1E3F9FPCM47JBPJSG0VT0"])
        )
        query: dict[str, str] = {}
        self._shape(kind, query)
        if self.rng.random() < 0.3:
            query["asOf"] = self.pick(self.times)
        return f"/v1/{COLLECTIONS[kind]}/{fact_id}", query, self._accept(kind)

    def _list(self) -> tuple[str, dict[str, str], dict[str, str]]:
        r = self.rng.random()
        if r < 0.2:
            parent = self.pick(["article", "actor"])
            pid = (
                self.pick(self.ids[parent]) if self.rng.random() < 0.95 else f"{parent[:3]}_01K8B1E3F9FPCM47JBPJSG0VT0"
            )
            path, kind = f"/v1/{COLLECTIONS[parent]}/{pid}/claims", "claim"
        else:
            kind = self.pick(list(COLLECTIONS))
            path = f"/v1/{COLLECTIONS[kind]}"
        query: dict[str, str] = {}
        values = self.values[kind]
        for _ in range(self.rng.choice([0, 0, 1, 1, 2])):
            name = self.pick(list(values))
            if path.endswith("/claims") and path != "/v1/claims" and name in ("article", "speaker"):
                continue
            if f"{name}In" in ANY_OF[kind] and self.rng.random() < 0.3:
                # The any-of form: facts matching any of two values.
                query[f"{name}In"] = ",".join(str(v) for v in self.rng.sample(values[name], min(2, len(values[name]))))
            else:
                query[name] = str(self.pick(values[name]))
        if self.rng.random() < 0.5:
            query["limit"] = str(self.pick([1, 2, 3, 5, 20, 100]))
        r = self.rng.random()
        if "q" in query and r < 0.5:
            query["sort"] = "relevance"
        elif r < 0.6:
            order = self.pick(ORDERS[kind])
            if order == "distance" and "near" not in query:
                query["near"] = str(self.pick(values["near"]))
            query["sort"] = self.pick(["", "-"]) + order
        self._shape(kind, query)
        if self.rng.random() < 0.2:
            query["asOf"] = self.pick(self.times)
        if self.rng.random() < 0.04:
            query["cursor"] = self.pick(["bm90LWEtY3Vyc29y", "WyJyZWxldmFuY2UiLCJ4IiwiY2xtXyJd"])
        if self.rng.random() < 0.03:
            query[self.pick(["limit", "sort", "expand", "fields", "bogus"])] = "!!"
        return path, query, self._accept(kind)

    def _shape(self, kind: str, query: dict[str, str]) -> None:
        if EXPANDS[kind] and self.rng.random() < 0.45:
            query["expand"] = ",".join(self.rng.sample(EXPANDS[kind], self.rng.randint(1, len(EXPANDS[kind]))))
        if self.rng.random() < 0.3:
            query["fields"] = ",".join(self.rng.sample(FIELDS[kind], self.rng.randint(1, 3)))
        if kind in FORMATS and self.rng.random() < 0.15:
            query["format"] = self.pick(FORMATS[kind])
            if query["format"] in ("ninjs", "jsonld"):
                query.pop("fields", None)

    def _accept(self, kind: str) -> dict[str, str]:
        if kind in ("deployment", "incident") and self.rng.random() < 0.05:
            return {"Accept": "application/geo+json"}
        return {}


ETAG_FORMS = (re.compile(r'"l\.[0-9a-f]{24}"'), re.compile(r'"[a-z]{3}_[0-9A-Z]{26}\.v[0-9]+(\.[0-9a-f]{12})?"'))


def _etag_form(tag: str | None) -> str | None:
    if tag is None:
        return None
    for n, form in enumerate(ETAG_FORMS):
        if form.fullmatch(tag):
            plain = n == 1 and tag.count(".") == 1
            return f"form {n}" + (f" {tag}" if plain else "")  # a fact's own tag must be the same tag
    return f"unknown {tag}"


def _answer(r: httpx.Response, base: str) -> dict[str, Any]:
    """What must agree, with the server's own URL (in links and JSON-LD ids) as ``BASE``."""
    headers = {h: (v.replace(base, "BASE") if (v := r.headers.get(h)) else v) for h in HEADERS}
    # The compression middleware adds Accept-Encoding when a body is long enough to compress, and
    # PostgreSQL's JSON has spaces orjson's has not: near the threshold one is and one is not.
    headers["vary"] = (headers["vary"] or "").replace(", Accept-Encoding", "")
    return {
        "status": r.status_code,
        "body": orjson.loads(r.content.replace(base.encode(), b"BASE")) if r.content else None,
        "headers": headers,
        "etag": _etag_form(r.headers.get("etag")),
    }


def test_planned_rest_reads_answer_as_the_old_path(
    live: tuple[str, str], database_url: str, varied: dict[str, Any]
) -> None:
    keys = {scope: asyncio.run(api_key(database_url, scope)) for scope in ("read", "admin")}
    callers = {"anonymous": {}, **{scope: {"Authorization": f"Bearer {secret}"} for scope, secret in keys.items()}}
    gen = Requests(random.Random(25), varied)
    differences: list[str] = []
    seen = {"statuses": set(), "withheld": 0, "expanded": 0, "relevance": 0, "cursor": 0, "any-of": 0, "304": 0}
    product_url, reference_url = live
    with httpx.Client(base_url=product_url, timeout=60) as client, httpx.Client(timeout=60) as ref:
        for n in range(REQUESTS):
            path, query, extra = gen.one()
            caller = gen.pick(list(callers))
            headers = {**callers[caller], **extra}
            old = ref.get(reference_url + path, params=query, headers=headers)
            new = client.get(path, params=query, headers=headers)
            expected, got = _answer(old, reference_url), _answer(new, product_url)
            if expected != got:
                differences.append(f"{n} {caller} GET {path} {query} {headers}\n old {expected}\n new {got}")
                continue
            seen["statuses"].add(new.status_code)
            if new.status_code != 200:
                continue
            # The CDN tags name every fact id in the bytes sent (PostgreSQL found them, in the
            # read's statement), as a scan of the body finds them.
            scanned = bounded(depends(ids_in(new.content) | path_tags(path)))
            tags = (new.headers.get("surrogate-key"), new.headers.get("cache-tag"))
            if tags != ((" ".join(scanned), ",".join(scanned)) if scanned else (None, None)):
                differences.append(f"{n} {caller} GET {path} {query}: tags {tags}, the body's {scanned}")
            text = new.text
            seen["withheld"] += '"withheld"' in text.replace(" ", "")
            seen["expanded"] += "expand" in query
            seen["relevance"] += query.get("sort") == "relevance"
            seen["cursor"] += "cursor" in query
            seen["any-of"] += any(name.endswith("In") for name in query)
            body = new.json()
            if isinstance(body, dict) and body.get("nextCursor"):
                gen.cursors.append((path, {**query, "cursor": body["nextCursor"]}))
            # Each tag answers its own revalidation with a 304, on the planned path.
            if n % 7 == 0:
                again = client.get(path, params=query, headers={**headers, "If-None-Match": new.headers["etag"]})
                assert again.status_code == 304, (path, query)
                seen["304"] += 1
    assert not differences, f"{len(differences)} of {REQUESTS} differ:\n" + "\n".join(differences[:3])
    # The generator reached what it is meant to compare.
    assert {200, 400, 404} <= seen["statuses"], seen
    assert min(v for k, v in seen.items() if k != "statuses") > 0, seen
