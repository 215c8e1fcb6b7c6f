"""A deterministic synthetic corpus for benchmarks and pagination tests: the same ``seed`` gives the
same records, ids included. Claims quote their articles at exact offsets, so every reference
validates; records stream out as NDJSON in load order, so generating and loading stay flat in memory."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import IO, Any

import orjson

from db.ids import ALPHABET, PREFIXES

_WORDS = (
    "minister government army navy border talks sanctions ceasefire election protest court envoy treaty "
    "security capital region coast airspace missile fleet troops oil exports aid refugees summit vote "
    "parliament spokesperson agency report officials allies opposition president strike convoy port"
).split()
_KINDS = ("person", "organization", "government", "country", "mediaOutlet", "militaryUnit", "group")
_QUOTE_TYPES = ("direct", "indirect", "assertion", "analysis")
_STATUSES = ("reported", "reported", "reported", "corroborated", "disputed", "denied")
_ASSETS = ("aircraftCarrier", "warship", "submarine", "troops", "fighterJet", "drone")
_BASE_MS = 1_700_000_000_000  # 2023-11-14: ids sort by generation order from here


class _Ids:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.tick = 0

    def make(self, kind: str) -> str:
        self.tick += 1
        ms, rand = _BASE_MS + self.tick, self.rng.getrandbits(80)
        chars = []
        for value, length in ((ms, 10), (rand, 16)):
            part = []
            for _ in range(length):
                part.append(ALPHABET[value & 31])
                value >>= 5
            chars.append("".join(reversed(part)))
        return f"{PREFIXES[kind]}_{''.join(chars)}"


def _sentence(rng: random.Random) -> str:
    words = rng.choices(_WORDS, k=rng.randint(8, 16))
    return " ".join(words).capitalize() + "."


def records(articles: int, claims: int, *, seed: int = 42, incidents: int | None = None) -> Iterator[dict[str, Any]]:
    """Actors, then each article with its claims (spread evenly), then deployments and incidents
    (one of each per 100 articles, or ``incidents`` of each) with quantities and map points."""
    rng = random.Random(seed)
    ids = _Ids(rng)
    n_actors = max(10, articles // 50)
    actor_ids = [ids.make("actor") for _ in range(n_actors)]
    for i, actor_id in enumerate(actor_ids):
        yield {
            "object": "actor", "id": actor_id, "kind": _KINDS[i % len(_KINDS)], "name": f"Actor {i}",
            "aliases": [f"A{i}"], "country": rng.choice(("US", "VE", "CO", "BR", "CU")),
        }  # fmt: skip
    outlets = actor_ids[: max(1, n_actors // 10)]
    per_article = [claims // articles + (1 if i < claims % articles else 0) for i in range(articles)]
    first_refs: list[dict[str, Any]] = []
    # Each article is followed by its claims, so nothing but one article is held in memory; the
    # loader flushes pending articles before any claim batch that may cite them.
    for i in range(articles):
        article_id = ids.make("article")
        sentences = [_sentence(rng) for _ in range(max(3, per_article[i] + 2))]
        body, spans, pos = "", [], 0
        for s in sentences:
            spans.append((pos, pos + len(s)))
            body += s + " "
            pos = len(body)
        day = 1 + (i % 28)
        month = 1 + (i // 28) % 12
        yield {
            "object": "article", "id": article_id, "uri": f"urn:newsfacts:gen:{seed}:{i}",
            "headline": sentences[0][:120], "body": body, "language": "en",
            "publishedAt": f"2025-{month:02d}-{day:02d}T12:00:00Z", "outlet": rng.choice(outlets),
            "authors": [rng.choice(actor_ids)], "subjects": ["medtop:11000000"],
        }  # fmt: skip
        if len(first_refs) < max(1, articles // 100):
            start, end = spans[0]
            first_refs.append({"article": article_id, "charStart": start, "charEnd": end, "quoteText": body[start:end]})
        for k in range(per_article[i]):
            start, end = spans[k % len(spans)]
            quote = body[start:end]
            quote_type = rng.choice(_QUOTE_TYPES)
            yield {
                "object": "claim", "id": ids.make("claim"), "statement": quote, "quoteType": quote_type,
                "quote": quote if quote_type == "direct" else None,
                "speaker": rng.choice(actor_ids), "reportedBy": rng.choice(outlets),
                "subjects": [rng.choice(actor_ids)], "status": rng.choice(_STATUSES),
                "claimDate": f"2025-{1 + rng.randrange(12):02d}-{1 + rng.randrange(28):02d}",
                "references": [{"article": article_id, "charStart": start, "charEnd": end, "quoteText": quote}],
            }  # fmt: skip
    for i in range(len(first_refs) if incidents is None else incidents):
        ref = first_refs[i % len(first_refs)]
        yield _deployment(rng, ids.make("deployment"), rng.choice(actor_ids), ref)
        yield _incident(rng, ids.make("incident"), rng.choice(actor_ids), ref, i)


# Where the generated facts are: (name, lon, lat) of a region's centre; points scatter around it.
_REGIONS = (("Caribbean", -75.0, 15.0), ("Pacific", -150.0, 5.0), ("Baltic", 19.0, 57.0), ("Red Sea", 38.0, 20.0))
_INCIDENT_TYPES = ("strike", "strike", "seizure", "attack", "arrest")


def _point(rng: random.Random) -> tuple[str, dict[str, Any]]:
    name, lon, lat = rng.choice(_REGIONS)
    where = [round(lon + rng.uniform(-8, 8), 4), round(lat + rng.uniform(-5, 5), 4)]
    return name, {"type": "Point", "coordinates": where}


def _quantity(rng: random.Random, unit: str | None) -> dict[str, Any] | None:
    """A quantity of every approximation the arithmetic knows, as news states them."""
    n = rng.randint(1, 200)
    kind = rng.choice(("exact", "exact", "approximately", "atLeast", "atMost", "range", "unspecified", None))
    if kind is None:
        return None
    q: dict[str, Any] = {"approximation": kind, "unit": unit}
    if kind in ("exact", "approximately"):
        q["amount"] = n
    elif kind == "atLeast":
        q["lowerBound"] = n
    elif kind == "atMost":
        q["upperBound"] = n
    elif kind == "range":
        q["lowerBound"], q["upperBound"] = n, n + rng.randint(1, 50)
    return {k: v for k, v in q.items() if v is not None}


def _deployment(rng: random.Random, ident: str, deployer: str, ref: dict[str, Any]) -> dict[str, Any]:
    name, point = _point(rng)
    assets = []
    for asset_type in rng.sample(_ASSETS, rng.randint(1, 3)):
        unit = "personnel" if asset_type == "troops" else None
        asset: dict[str, Any] = {"assetType": asset_type, "references": [ref]}
        if (q := _quantity(rng, unit)) is not None:
            asset["quantity"] = q
        assets.append(asset)
    return {
        "object": "deployment", "id": ident, "deployer": deployer, "region": {"name": name, "geojson": point},
        "status": rng.choice(("announced", "active", "active", "withdrawn")), "assets": assets, "references": [ref],
        "startedOn": f"2025-{1 + rng.randrange(12):02d}-{1 + rng.randrange(28):02d}",
    }  # fmt: skip


def _incident(rng: random.Random, ident: str, actor: str, ref: dict[str, Any], i: int) -> dict[str, Any]:
    name, point = _point(rng)
    precise = rng.random() < 0.8
    record: dict[str, Any] = {
        "object": "incident", "id": ident, "incidentType": rng.choice(_INCIDENT_TYPES),
        "actors": [{"actor": actor, "role": "perpetrator"}], "location": {"name": name, "geojson": point},
        "occurredFrom": f"2025-{1 + i % 12:02d}-{1 + rng.randrange(28) if precise else 1:02d}",
        "occurredPrecision": "day" if precise else "month", "references": [ref],
    }  # fmt: skip
    for field, unit in (("count", "attacks"), ("fatalities", "people"), ("injuries", "people")):
        if (q := _quantity(rng, unit)) is not None:
            record[field] = q
    return record


def write_ndjson(stream: IO[bytes], articles: int, claims: int, *, seed: int = 42) -> int:
    """Write the corpus as NDJSON; returns the number of records."""
    n = 0
    for record in records(articles, claims, seed=seed):
        stream.write(orjson.dumps({k: v for k, v in record.items() if v is not None}) + b"\n")
        n += 1
    return n
