"""A load killed mid-way and run again ends with every record loaded exactly once: each batch is one
transaction, records with ids are refused as taken the second time, and records without ids get
the ids they were minted the first time (db/load/minting.py). The loader is a real `newsfacts
load` process, killed with SIGKILL."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import orjson

from db import generate
from db.pool import connect
from tests.services import run

NEWSFACTS = str(Path(sys.executable).parent / "newsfacts")
URL_VARIABLES = ("DATABASE_URL", "REDIS_URL", "TEST_DATABASE_URL", "TEST_REDIS_URL")


def corpus(path: Path) -> list[dict[str, Any]]:
    """A generated corpus of its own seed in which every fifth claim gives no id."""
    seed = random.randrange(1_000_000, 2**31)
    records = []
    for n, record in enumerate(generate.records(40, 2_400, seed=seed)):
        if record["object"] == "claim" and n % 5 == 0:
            del record["id"]
        records.append({k: v for k, v in record.items() if v is not None})
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    return records


def test_a_load_killed_midway_and_run_again_loads_every_record_exactly_once(database_url: str, tmp_path: Path) -> None:
    path = tmp_path / "corpus.ndjson"
    records = corpus(path)
    articles = [r["id"] for r in records if r["object"] == "article"]
    env = {**{k: v for k, v in os.environ.items() if k not in URL_VARIABLES}, "DATABASE_URL": database_url}
    command = [NEWSFACTS, "load", str(path), "--quiet", "--batch-size", "40"]

    async def claims_stored() -> int:
        conn = await connect(database_url)
        try:
            return int(await conn.fetchval("SELECT count(*) FROM claims WHERE article_ids && $1::text[]", articles))
        finally:
            await conn.close()

    loader = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while run(claims_stored()) < 200:  # a few batches in, far from the end
            assert loader.poll() is None, loader.stderr.read() if loader.stderr else b""
            assert time.monotonic() < deadline, "the load stored nothing in two minutes"
            time.sleep(0.02)
        loader.send_signal(signal.SIGKILL)
    finally:
        loader.wait(timeout=30)
        if loader.stderr is not None:
            loader.stderr.close()
    assert loader.returncode == -signal.SIGKILL
    claims = sum(r["object"] == "claim" for r in records)
    first = run(claims_stored())
    assert 200 <= first < claims

    again = subprocess.run(command, env=env, capture_output=True, timeout=300, check=False)
    report = orjson.loads(again.stdout)
    # What the first run stored is refused as taken, and only that.
    assert {r["code"] for r in report["rejected"]} <= {"CONFLICT"}, report["rejected"][:3]
    assert all(r["message"].endswith("with this id already exists") for r in report["rejected"])
    assert report["totalLoaded"] + report["rejectedCount"] == len(records)
    assert again.returncode == (2 if report["rejectedCount"] else 0)

    async def check() -> None:
        conn = await connect(database_url)
        try:
            facts = await conn.fetch(
                "SELECT id, 'actor' AS kind FROM actors WHERE id = ANY($1::text[])"
                " UNION ALL SELECT id, 'article' FROM articles WHERE id = ANY($2::text[])"
                " UNION ALL SELECT id, 'claim' FROM claims WHERE article_ids && $2::text[]"
                " UNION ALL SELECT id, 'deployment' FROM deployments WHERE article_ids && $2::text[]"
                " UNION ALL SELECT id, 'incident' FROM incidents WHERE article_ids && $2::text[]",
                [r["id"] for r in records if r["object"] == "actor"],
                articles,
            )
            assert Counter(f["kind"] for f in facts) == Counter(r["object"] for r in records)
            ids = [f["id"] for f in facts]
            given = {r["id"] for r in records if "id" in r}
            assert given <= set(ids) and len(set(ids)) == len(ids)
            for table, column in (("revisions", "fact_id"), ("events", "object_id")):
                counted = await conn.fetch(
                    f"SELECT {column} AS id, count(*) AS n FROM {table} WHERE {column} = ANY($1::text[]) GROUP BY 1",
                    ids,
                )
                assert {r["id"]: r["n"] for r in counted} == dict.fromkeys(ids, 1), table
            for kind in ("actors", "articles", "claims", "deployments", "incidents"):
                counted = await conn.fetch(
                    f"SELECT h.id, count(*) AS n FROM {kind}_history h WHERE h.id = ANY($1::text[]) GROUP BY 1", ids
                )
                assert all(r["n"] == 1 for r in counted), kind
            assert sum([len(await conn.fetch(
                f"SELECT 1 FROM {kind}_history WHERE id = ANY($1::text[])", ids
            )) for kind in ("actors", "articles", "claims", "deployments", "incidents")]) == len(ids)  # fmt: skip
            # Events follow the input within each kind, across the two runs.
            position = {r["id"]: n for n, r in enumerate(records) if "id" in r}
            for kind in ("actor", "article", "claim"):
                rows = await conn.fetch(
                    "SELECT object_id FROM events WHERE object_id = ANY($1::text[]) AND type = $2 ORDER BY sequence",
                    ids,
                    f"{kind}.created",
                )
                order = [position[r["object_id"]] for r in rows if r["object_id"] in position]
                assert order == sorted(order), kind
        finally:
            await conn.close()

    run(check())
