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


def records(articles: int, claims: int, *, seed: int = 42) -> Iterator[dict[str, Any]]:
    """Actors, then each article with its claims (spread evenly), then deployments and incidents."""
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
    for i, ref in enumerate(first_refs):
        yield {
            "object": "deployment", "id": ids.make("deployment"), "deployer": rng.choice(actor_ids),
            "region": {"name": rng.choice(("Caribbean", "Pacific", "Baltic", "Red Sea"))}, "status": "active",
            "assets": [{"assetType": rng.choice(_ASSETS), "quantity": {"amount": rng.randint(1, 20), "approximation": "exact"},
                        "references": [ref]}],
            "references": [ref],
        }  # fmt: skip
        yield {
            "object": "incident", "id": ids.make("incident"), "incidentType": "strike",
            "actors": [{"actor": rng.choice(actor_ids), "role": "perpetrator"}],
            "fatalities": {"lowerBound": rng.randint(1, 100), "approximation": "atLeast"},
            "occurredFrom": f"2025-{1 + i % 12:02d}-01", "references": [ref],
        }  # fmt: skip


def write_ndjson(stream: IO[bytes], articles: int, claims: int, *, seed: int = 42) -> int:
    """Write the corpus as NDJSON; returns the number of records."""
    n = 0
    for record in records(articles, claims, seed=seed):
        stream.write(orjson.dumps({k: v for k, v in record.items() if v is not None}) + b"\n")
        n += 1
    return n
