"""Planned mutation payloads answer exactly what the resolvers answer. Two servers — one with the
planner, one with resolvers only — each over its own identical copy of the module's database,
take the same sequence of mutations (creates, updates, corrections, retractions, refusals as
userErrors, scope errors, several root fields, generated payload selections with fragments,
aliases, directives and nested connections). Each pair of responses must be identical once the
ids and timestamps the writes generate are renamed by order of first appearance (the same write
makes a different ULID and clock reading on each server) and the consistency token is dropped.
/metrics must count as planned exactly the mutations meant to be planned."""

from __future__ import annotations

import asyncio
import dataclasses
import random
import re
import uuid
from collections.abc import Iterator
from typing import Any

import asyncpg
import httpx
import orjson
import pytest
from graphql import get_named_type

from api.settings import Settings
from schema import build_schema
from tests.api.live_events import api_key, bearer
from tests.schema.query_gen import Corpus, Generator
from tests.services import LiveServer

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

ARTICLE = "art_01K8B1E3F9FPCM47JBPJSG0VT9"
SPEAKER = "act_01K8B1E2G4CV8AYVXXYVX5Y92G"
QUOTE = {
    "article": ARTICLE,
    "charStart": 805,
    "charEnd": 892,
    "quoteText": "the largest US military buildup in the Caribbean since the Cuban Missile Crisis of 1962",
}
GENERATED = 80
_ID = re.compile(r"\b(?:act|art|clm|dep|inc|evt|ast|whe|key)_[0-9A-HJKMNP-TV-Z]{26}\b")
_TIME = re.compile(r"\b\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)")
_PLANNED = re.compile(rb'^newsfacts_graphql_operations_total\{path="planned"\} ([0-9.e+]+)$', re.M)


@dataclasses.dataclass
class Side:
    """One server and what its writes made: the ids it returned, by step name."""

    server: LiveServer
    made: dict[str, str] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class Step:
    name: str
    query: str
    variables: dict[str, Any] = dataclasses.field(default_factory=dict)
    key: str = "write"  # write | read | none
    planned: bool = True
    keep: str | None = None  # a path to the id to remember under ``name``, e.g. "createClaim.claim.id"


def _with_database(url: str, name: str) -> str:
    """``url`` naming database ``name`` (its query string, the socket directory, kept)."""
    base, _, query = url.partition("?")
    return f"{base.rsplit('/', 1)[0]}/{name}" + (f"?{query}" if query else "")


def _database(url: str) -> str:
    return url.partition("?")[0].rsplit("/", 1)[1]


def _clone(server_url: str, source: str, target: str) -> None:
    async def run() -> None:
        admin = await asyncpg.connect(server_url)
        try:
            await admin.execute(f'CREATE DATABASE "{target}" TEMPLATE "{source}"')
        finally:
            await admin.close()
        conn = await asyncpg.connect(_with_database(server_url, target))
        try:  # as tests/conftest.py does: each copy relays its events to a Redis Stream of its own
            await conn.execute("UPDATE relay_state SET stream = 'newsfacts:events:' || md5(random()::text)")
        finally:
            await conn.close()

    asyncio.run(run())


@pytest.fixture(scope="module")
def keys(database_url: str) -> dict[str, str]:
    """A write key and a read key, made before the copy so both databases know them."""
    return {scope: asyncio.run(api_key(database_url, scope)) for scope in ("write", "read")}


@pytest.fixture(scope="module")
def two_sides(
    settings: Settings, database_url: str, postgres_server_url: str, keys: dict[str, str]
) -> Iterator[tuple[Side, Side]]:
    """A planned server over the module's database and a resolvers one over an identical copy."""
    source = _database(database_url)
    copy = f"{source}_r{uuid.uuid4().hex[:6]}"
    _clone(postgres_server_url, source, copy)
    copy_url = _with_database(database_url, copy)
    planned = LiveServer(dataclasses.replace(settings, graphql_planner=True)).start()
    resolved = LiveServer(dataclasses.replace(settings, database_url=copy_url, graphql_planner=False)).start()
    try:
        yield Side(planned), Side(resolved)
    finally:
        planned.stop()
        resolved.stop()


def _normalised(body: Any, names: dict[str, str]) -> Any:
    """The response with generated ids and timestamps renamed by order of first appearance (a
    seed id is renamed too, identically on both sides), and the consistency token dropped."""
    if isinstance(body, dict):
        return {k: _normalised(v, names) for k, v in body.items() if k != "consistencyToken"}
    if isinstance(body, list | tuple):
        return [_normalised(v, names) for v in body]
    if isinstance(body, str):
        out = _ID.sub(lambda m: names.setdefault(m.group(0), f"<id{len(names)}>"), body)
        return _TIME.sub(lambda m: names.setdefault(m.group(0), f"<time{len(names)}>"), out)
    return body


def _resolve_refs(value: Any, made: dict[str, str]) -> Any:
    """Variables naming an earlier step's id as ``@step`` get this side's id for it."""
    if isinstance(value, dict):
        return {k: _resolve_refs(v, made) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve_refs(v, made) for v in value]
    if isinstance(value, str) and value.startswith("@"):
        return made[value[1:]]
    return value


def _send(side: Side, step: Step, keys: dict[str, str]) -> tuple[int, Any]:
    headers = {"content-type": "application/json", **(bearer(keys[step.key]) if step.key in keys else {})}
    body = orjson.dumps({"query": step.query, "variables": _resolve_refs(step.variables, side.made)})
    response = httpx.post(side.server.url + "/graphql", content=body, headers=headers, timeout=30)
    found = response.json()
    if step.keep is not None and found.get("data"):
        value: Any = found["data"]
        for part in step.keep.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if value is not None:
            side.made[step.name] = value
    return response.status_code, found


def _planned_count(server: LiveServer) -> float:
    found = _PLANNED.search(httpx.get(server.url + "/metrics", timeout=10).content)
    return float(found.group(1)) if found else 0.0


CLAIM_SELECTION = """claim { id __typename statement quote quoteType status version createdAt updatedAt retractedAt
  speaker { id name kind claimsAsSpeaker(first: 3) { totalCount nodes { id statement } pageInfo { hasNextPage } } }
  reportedBy { name } subjects { id name }
  references { charStart charEnd quoteText article { id headline } }
  revisions { version changeKind reason } }
userErrors { path code message } __typename"""


def _fixed_steps() -> list[Step]:
    actor = {"kind": "PERSON", "name": "Differential Person", "aliases": ["D. Person"], "country": "VE"}
    claim = {
        "statement": "A differential claim quoting the seed article.",
        "quoteType": "INDIRECT",
        "speaker": "@person",
        "reportedBy": SPEAKER,
        "subjects": [SPEAKER, "@person"],
        "references": [QUOTE],
    }
    return [
        Step(
            "person",
            """mutation($input: CreateActorInput!) { createActor(input: $input, reason: "diff") {
              actor { id name kind aliases country description version roles { title organization { id } }
                      claimsAsSpeaker(first: 2) { totalCount nodes { id } } articles(first: 1) { totalCount } }
              userErrors { path code message } } }""",
            {"input": actor},
            keep="createActor.actor.id",
        ),
        Step(
            "claim",
            f"mutation($input: CreateClaimInput!) {{ createClaim(input: $input) {{ {CLAIM_SELECTION} }} }}",
            {"input": claim},
            keep="createClaim.claim.id",
        ),
        Step(
            "bad-quote",
            f"mutation($input: CreateClaimInput!) {{ createClaim(input: $input) {{ {CLAIM_SELECTION} }} }}",
            {"input": {**claim, "references": [{**QUOTE, "quoteText": "not what the article says at all"}]}},
        ),
        Step(
            "bad-fields",
            'mutation { createClaim(input: {statement: "", quoteType: DIRECT, speaker: "act_nope"}) '
            "{ claim { id } userErrors { path code message } } }",
        ),
        Step(
            "update",
            f"mutation($id: ID!) {{ updateClaim(id: $id, patch: {{status: DISPUTED}}, expectedVersion: 1) "
            f"{{ {CLAIM_SELECTION} }} }}",
            {"id": "@claim"},
        ),
        Step(
            "stale",
            "mutation($id: ID!) { updateClaim(id: $id, patch: {status: DENIED}, expectedVersion: 1) "
            "{ claim { id } userErrors { path code message } } }",
            {"id": "@claim"},
        ),
        Step(
            "correct",
            f"""mutation($id: ID!, $patch: ClaimPatch!) {{
              correctClaim(id: $id, patch: $patch, reason: "misquoted") {{ ...P }} }}
            fragment P on ClaimPayload {{ {CLAIM_SELECTION} }}""",
            {"id": "@claim", "patch": {"statement": "A corrected differential claim.", "sameAs": ["@claim"]}},
        ),
        Step(
            "missing",
            'mutation { updateActor(id: "act_01K8B1E2G4CV8AYVXXYVX5Y9ZZ", patch: {description: "x"}) '
            "{ actor { id } userErrors { path code message } } }",
        ),
        Step(
            "two-and-typename",
            """mutation Two($id: ID!) {
              first: createActor(input: {kind: ORGANIZATION, name: "Second Org"}) { actor { id name } userErrors { code } }
              second: correctActor(id: $id, patch: {description: "corrected"}, reason: "typo") {
                actor { id description version claimsAsSubject(first: 5) { totalCount nodes { id } } } }
              __typename
              alias: __typename }""",
            {"id": "@person"},
        ),
        Step(
            "deployment",
            """mutation($input: CreateDeploymentInput!) { createDeployment(input: $input) {
              deployment { id status statedPurpose startedOn deployer { id name } region { name geojson }
                assets { assetType name attributes quantity { amount lowerBound approximation unit originalText }
                         references { quoteText article { id } } }
                references { charStart quoteText } }
              userErrors { path code message } } }""",
            {
                "input": {
                    "deployer": SPEAKER,
                    "status": "ACTIVE",
                    "statedPurpose": "differential",
                    "region": {"name": "Caribbean", "geojson": {"type": "Point", "coordinates": [-66.0, 14.5]}},
                    "assets": [
                        {
                            "assetType": "TROOPS",
                            "name": "troops",
                            "attributes": ["marines"],
                            "quantity": {"lowerBound": 4000, "approximation": "AT_LEAST", "unit": "troops"},
                            "references": [QUOTE],
                        },
                        {"assetType": "WARSHIP", "quantity": {"approximation": "UNSPECIFIED"}},
                    ],
                    "references": [QUOTE],
                }
            },
            keep="createDeployment.deployment.id",
        ),
        Step(
            "incident",
            """mutation($input: CreateIncidentInput!) { createIncident(input: $input) {
              incident { id incidentType description occurredFrom occurredPrecision
                actors { role actor { id name } } location { name } count { amount approximation }
                fatalities { lowerBound approximation } injuries { amount } references { quoteText } }
              userErrors { path code message } } }""",
            {
                "input": {
                    "incidentType": "strike",
                    "description": "a differential strike",
                    "actors": [{"actor": SPEAKER, "role": "PERPETRATOR"}, {"actor": "@person", "role": "WITNESS"}],
                    "occurredFrom": "2025-09-02",
                    "occurredPrecision": "DAY",
                    "fatalities": {"lowerBound": 11, "approximation": "AT_LEAST"},
                    "references": [QUOTE],
                }
            },
        ),
        Step(
            "article",
            """mutation($input: CreateArticleInput!) { createArticle(input: $input) {
              article { id uri headline language outlet { id name } authors { id } claims(first: 2) { totalCount }
                        actors { id } }
              userErrors { path code message } } }""",
            {
                "input": {
                    "uri": "urn:newsfacts:differential:1",
                    "headline": "A differential article",
                    "body": "Officials said the convoy turned back at dawn.",
                    "language": "en",
                    "outlet": SPEAKER,
                    "authors": ["@person"],
                }
            },
            keep="createArticle.article.id",
        ),
        Step(
            "quote-only",
            f'mutation($a: ID!) {{ createClaim(input: {{statement: "The convoy turned back.", quoteType: DIRECT, '
            f'speaker: "{SPEAKER}", references: [{{article: $a, quoteText: "the convoy turned back"}}]}}) '
            f"{{ {CLAIM_SELECTION} }} }}",
            {"a": "@article"},
        ),
        Step(
            "retract",
            'mutation($id: ID!) { retractClaim(id: $id, reason: "duplicate") { claim { id status retractedAt '
            "revisions { version changeKind } } userErrors { path code } } }",
            {"id": "@claim"},
        ),
        Step(
            "retract-again",
            "mutation($id: ID!) { retractClaim(id: $id) { claim { id } userErrors { path code message } } }",
            {"id": "@claim"},
        ),
        Step(
            "anonymous",
            'mutation { createActor(input: {kind: PERSON, name: "Nobody"}) { actor { id } } }',
            key="none",
        ),
        Step(
            "read-scope-stops-the-rest",
            'mutation { a: createActor(input: {kind: PERSON, name: "Reader"}) { actor { id } } '
            'b: createActor(input: {kind: PERSON, name: "Reader 2"}) { actor { id } } }',
            key="read",
        ),
        # Left to the resolvers (and still identical): a root under @include, a webhook mutation,
        # variables that do not coerce.
        Step(
            "directive-on-root",
            'mutation($yes: Boolean!) { createActor(input: {kind: PERSON, name: "Maybe"}) @include(if: $yes) '
            "{ actor { name } } }",
            {"yes": True},
            planned=False,
        ),
        Step(
            "webhook",
            'mutation { createWebhookEndpoint(input: {url: "ftp://nowhere", enabledEvents: ["claim.created"]}) '
            "{ userErrors { path code } } }",
            planned=False,
        ),
        Step(
            "bad-variables",
            "mutation($input: CreateActorInput!) { createActor(input: $input) { actor { id } } }",
            {"input": {"name": "no kind"}},
            planned=False,
        ),
    ]


def _generated_steps(seed: int) -> list[Step]:
    """Random payload selections (the read path's own generator, tests/schema/query_gen.py) on
    each kind's create, update, correct and retract."""
    schema = build_schema()._schema
    corpus = Corpus({"actor": [SPEAKER], "article": [ARTICLE], "claim": [], "deployment": [], "incident": []},
                    [], ["Maduro"], ["2020-01-01T00:00:00Z"])  # fmt: skip
    rng = random.Random(seed)
    gen = Generator(schema, corpus, seed)
    steps: list[Step] = []
    for n in range(GENERATED):
        kind = rng.choice(["actor", "claim", "claim", "deployment", "incident"])
        cap = kind.capitalize()
        verb = rng.choice(["create", "create", "update", "correct", "retract"]) if n > 5 else "create"
        gen.variables, gen.var_defs, gen.fragments, gen.aliases, gen.plannable = {}, [], {}, 0, True
        payload = get_named_type(schema.mutation_type.fields[f"create{cap}"].type)  # type: ignore[union-attr]
        selection = gen._selection(payload, 1)
        made = [s for s in steps if s.keep and s.keep.startswith(f"create{cap}.")]
        if verb != "create" and not made:
            verb = "create"
        if verb == "create":
            inputs = {
                "actor": f'{{kind: PERSON, name: "Generated {n}"}}',
                "claim": f'{{statement: "Generated claim {n}.", quoteType: ASSERTION, speaker: "{SPEAKER}", '
                f'subjects: ["{SPEAKER}"], references: [{{article: "{ARTICLE}", quoteText: "{QUOTE["quoteText"]}"}}]}}',
                "deployment": f'{{deployer: "{SPEAKER}", statedPurpose: "generated {n}", '
                "assets: [{assetType: DRONE, quantity: {amount: 3, approximation: EXACT}}]}",
                "incident": f'{{incidentType: "raid", actors: [{{actor: "{SPEAKER}", role: TARGET}}]}}',
            }
            call = f"create{cap}(input: {inputs[kind]})"
            # Whatever the generator selected, the new id under an alias of its own, for later steps.
            selection = "{ keptId: " + kind + " { id } " + selection[1:]
            keep = f"create{cap}.keptId.id"
        else:
            target = rng.choice(made).name
            gen.var_defs.append("$target: ID!")
            gen.variables["target"] = f"@{target}"
            patch = {
                "actor": '{description: "generated"}',
                "claim": "{status: CORROBORATED}",
                "deployment": "{status: WITHDRAWN}",
                "incident": '{description: "generated"}',
            }[kind]
            call = {
                "update": f"update{cap}(id: $target, patch: {patch})",
                "correct": f'correct{cap}(id: $target, patch: {patch}, reason: "generated")',
                "retract": f"retract{cap}(id: $target)",
            }[verb]
            keep = None
        head = f"mutation G({', '.join(gen.var_defs)})" if gen.var_defs else "mutation G"
        text = f"{head} {{ {call} {selection} }}" + "".join(f" {f}" for f in gen.fragments.values())
        steps.append(Step(f"g{n}", text, dict(gen.variables), planned=gen.plannable, keep=keep))
    return steps


def test_planned_mutations_answer_what_the_resolvers_answer(two_sides: tuple[Side, Side], keys: dict[str, str]) -> None:
    planned, resolved = two_sides
    names: tuple[dict[str, str], dict[str, str]] = ({}, {})
    before = _planned_count(planned.server)
    steps = _fixed_steps() + _generated_steps(seed=10)
    failures = []
    for step in steps:
        ours = _send(planned, step, keys)
        reference = _send(resolved, step, keys)
        a, b = _normalised(ours, names[0]), _normalised(reference, names[1])
        if a != b:
            failures.append(
                f"{step.name}: {step.query}\n  variables {step.variables}\n  planned   {a}\n  resolvers {b}"
            )
    assert not failures, f"{len(failures)} of {len(steps)} differ:\n" + "\n".join(failures[:5])
    assert _planned_count(planned.server) - before == sum(s.planned for s in steps), "a silent fallback"
    assert _planned_count(resolved.server) == 0
    # The writes happened alike: the same steps made an id on each side, most creates did.
    assert planned.made.keys() == resolved.made.keys()
    assert len(planned.made) >= sum(1 for s in steps if s.keep) * 3 // 4
