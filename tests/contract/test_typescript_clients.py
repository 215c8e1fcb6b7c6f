"""A TypeScript partner's view of both contracts, with the generators such a partner uses (pinned in
tests/clients/package.json): openapi-typescript types the live /openapi.json for openapi-fetch, and
GraphQL Code Generator's client preset (tests/clients/graphql/codegen.ts, the file docs/graphql/codegen.md includes) types the live schema by introspection. Each program under tests/clients/*/src makes the common
calls with no casts; it must compile under tsc --strict with no error, and then run against the
live server and report what it read."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from api.settings import Settings
from tests.api.live_events import api_key
from tests.services import LiveServer

CLIENTS = Path(__file__).resolve().parents[1] / "clients"
MODULES = CLIENTS / "node_modules"
TIMEOUT = 180  # seconds per generator or compiler run: far above their few seconds, never a hang
pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def node() -> str:
    """Node.js and the pinned generators (`make test` runs npm ci in tests/clients)."""
    found = shutil.which("node")
    assert found is not None, "the TypeScript client tests need Node.js 20+ (apt-get install nodejs npm)"
    assert (MODULES / "openapi-typescript").is_dir(), "run `make test` (it runs npm ci in tests/clients)"
    return found


@pytest.fixture(scope="module")
def server(settings: Settings) -> Iterator[LiveServer]:
    """The app over real HTTP; webhook endpoints may point at this machine (the program registers one)."""
    live = LiveServer(replace(settings, webhook_allowed_networks=("127.0.0.0/8",), webhook_require_https=False))
    live.start()
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture(scope="module")
def keys(database_url: str) -> dict[str, str]:
    """A write key and an admin key of the module's database."""
    return {scope: asyncio.run(api_key(database_url, scope)) for scope in ("write", "admin")}


def project(tmp_path: Path, client: str) -> Path:
    """A partner's project in a temp dir: the program's sources, our tsconfig, the pinned packages."""
    shutil.copytree(CLIENTS / client / "src", tmp_path / "src")
    shutil.copy(CLIENTS / "tsconfig.json", tmp_path / "tsconfig.json")
    (tmp_path / "package.json").write_text('{"type": "module"}\n')
    (tmp_path / "node_modules").symlink_to(MODULES)
    return tmp_path


def run(node: str, script: str, *args: str, cwd: Path, env: dict[str, str] | None = None) -> str:
    """A package's command under node; its output, which must come with exit status 0."""
    result = subprocess.run(
        [node, str(MODULES / script), *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    return output


def compile_errors(node: str, folder: Path, wrong: str) -> list[str]:
    """tsc --strict over the project plus ``wrong`` (src/wrong.ts: uses the types must refuse), in one
    run; its error lines. It emits out/ all the same, for the program to be run."""
    (folder / "src" / "wrong.ts").write_text(wrong)
    result = subprocess.run(
        [node, str(MODULES / "typescript/bin/tsc"), "-p", "."],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    return [line for line in result.stdout.splitlines() if "error TS" in line]


def run_program(node: str, folder: Path, env: dict[str, str]) -> dict[str, Any]:
    printed = run(node, str(folder / "out" / "program.js"), cwd=folder, env=env)
    report: dict[str, Any] = json.loads(printed.strip().splitlines()[-1])
    return report


def test_the_rest_client_compiles_strictly_and_runs(
    node: str, server: LiveServer, keys: dict[str, str], tmp_path: Path
) -> None:
    folder = project(tmp_path, "rest")
    run(node, "openapi-typescript/bin/cli.js", server.url + "/openapi.json", "-o", "src/api.d.ts", cwd=folder)
    types = (folder / "src" / "api.d.ts").read_text()
    # What the newcomer met: schemas with nothing in them (`Record<string, never>`), and answers typed
    # as a union with their NDJSON string.
    assert re.findall(r"^ +\S+: Record<string, never>", types, flags=re.M) == []
    assert '"application/x-ndjson": string' not in types

    # The program compiles with no error, and the types are strict, not merely permissive: the
    # wrong uses beside it are the only errors.
    wrong = (
        'import type { components } from "./api.js";\n'
        'declare const claim: components["schemas"]["Claim"];\n'
        "export const n: number = claim.statement;\n"
        'export const kind: "actor" = claim.object;\n'
    )
    errors = compile_errors(node, folder, wrong)
    assert len(errors) == 2 and all(e.startswith("src/wrong.ts") and "TS2322" in e for e in errors), errors

    env = {"NEWSFACTS_URL": server.url, "NEWSFACTS_KEY": keys["write"], "NEWSFACTS_ADMIN": keys["admin"]}
    report = run_program(node, folder, env)
    assert report["listed"] == 5 and report["speakers"] and report["headlines"] and report["nextCursor"]
    assert report["created"].startswith("clm_") and report["replayed"] is True
    assert (report["version"], report["status"]) == (2, "corroborated")
    assert [h.split(":")[:2] for h in report["history"]] == [["1", "created"], ["2", "updated"]]
    assert report["eventTypes"] == ["claim.created:claim", "claim.updated:claim"]
    assert report["points"] == [[-75, 15]]  # the seed deployment's region, a GeoJSON Point
    assert report["secretPrefix"] == "whsec_" and report["endpointListed"] is True
    endpoint = (report["endpointEvents"], report["endpointStatus"], report["deletedStatus"])
    assert endpoint == (["claim.created"], "disabled", 204)
    assert report["problemCode"] == "NOT_FOUND"


def test_the_graphql_client_maps_every_scalar_compiles_strictly_and_runs(
    node: str, server: LiveServer, keys: dict[str, str], tmp_path: Path
) -> None:
    folder = project(tmp_path, "graphql")
    codegen = str(CLIENTS / "graphql" / "codegen.ts")
    env = {"NEWSFACTS_GRAPHQL_URL": server.url + "/graphql"}
    run(node, "@graphql-codegen/cli/cjs/bin.js", "--config", codegen, cwd=folder, env=env)
    generated = (folder / "src" / "gql" / "graphql.ts").read_text()
    # The custom scalars as codegen.ts maps them (strictScalars there fails generation on an unmapped
    # one, which would otherwise come out as `unknown`).
    for typed in ("claimDate: string | null", "createdAt: string", "snapshot: JsonValue", "geojson: JsonValue | null"):
        assert typed in generated, typed

    wrong = (
        'import type { ClaimQuery } from "./gql/graphql.js";\n'
        "declare const result: ClaimQuery;\n"
        "export const day: number | null | undefined = result.claim?.claimDate;\n"
    )
    errors = compile_errors(node, folder, wrong)
    assert len(errors) == 1 and errors[0].startswith("src/wrong.ts") and "TS2322" in errors[0], errors

    report = run_program(node, folder, {**env, "NEWSFACTS_KEY": keys["write"]})
    assert "everything is on the table" in report["statement"] and report["reportedBy"] == "The Atlantic"
    assert report["created"].startswith("20") and report["quoteType"] == "DIRECT"
    assert {"id", "object", "statement"} <= set(report["snapshotKeys"])
    assert report["found"] and all(f.split(":")[0] in ("claim", "article", "deployment") for f in report["found"])
    assert report["createdClaim"].startswith("clm_") and report["createdDay"] == "2025-10-06"
    assert report["errors"] == []
