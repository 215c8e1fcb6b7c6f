"""The peer server for the GraphQL benchmark: PostGraphile 4.14.1 (npm) over the bench database.
Installs it into the gitignored bench/.peer/, adds to the bench database (never to our migrations)
what it needs to see our relations, and builds its command line. ``python -m bench.peer`` installs."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from bench.http import pin

VERSION = "4.14.1"  # the reference: 5.x (grafast) used more CPU per request on these queries
PREFIX = Path(__file__).resolve().parent / ".peer"
CLI = PREFIX / "node_modules" / "postgraphile" / "cli.js"

# Our relations are id columns and arrays without FOREIGN KEY constraints, which PostGraphile
# cannot see. A smart comment declares claims.speaker_id -> actors.id (both directions, named as
# ours: Claim.speaker, Actor.claimsAsSpeaker), and a computed column gives Article.claims (the
# claims citing it, by id, as our relation orders them). STABLE SQL, so PostgreSQL inlines it.
SQL = """
COMMENT ON TABLE claims IS
  E'@foreignKey (speaker_id) references actors (id)|@fieldName speaker|@foreignFieldName claimsAsSpeaker';
CREATE OR REPLACE FUNCTION articles_claims(a articles) RETURNS SETOF claims LANGUAGE sql STABLE AS $$
    SELECT * FROM claims c WHERE c.article_ids @> ARRAY[a.id::text] ORDER BY c.id
$$;
"""


def installed_version() -> str | None:
    manifest = PREFIX / "node_modules" / "postgraphile" / "package.json"
    if not manifest.exists():
        return None
    version: str = json.loads(manifest.read_text())["version"]
    return version


def ensure_installed() -> Path:
    """postgraphile@VERSION under bench/.peer/ (npm, installed once); returns the CLI script."""
    if installed_version() == VERSION:
        return CLI
    if not shutil.which("npm") or not shutil.which("node"):
        raise SystemExit("the GraphQL benchmark's peer needs Node.js (20+) and npm: apt-get install -y nodejs npm")
    PREFIX.mkdir(exist_ok=True)
    cmd = ["npm", "install", "--prefix", str(PREFIX), "--save-exact", "--no-audit", "--no-fund", "--loglevel=error"]
    subprocess.run([*cmd, f"postgraphile@{VERSION}"], check=True)
    if installed_version() != VERSION:
        raise SystemExit(f"npm did not install postgraphile {VERSION} under {PREFIX}")
    return CLI


def command(database_url: str, port: int, *, pool_size: int) -> list[str]:
    """One PostGraphile process pinned to core 0, options chosen to keep it lean and comparable:
    no watch mode, no GraphiQL, no query log, no mutations (a read benchmark), JSON as JSON, plain
    column ids (the default; ``--classic-ids`` would rename them ``rowId``)."""
    node = shutil.which("node") or "node"
    return [
        *pin(0), node, str(CLI),
        "--connection", database_url, "--schema", "public",
        "--host", "127.0.0.1", "--port", str(port), "--max-pool-size", str(pool_size),
        "--disable-graphiql", "--disable-query-log", "--disable-default-mutations",
        "--dynamic-json", "--no-setof-functions-contain-nulls", "--legacy-relations", "omit",
    ]  # fmt: skip


if __name__ == "__main__":
    print(ensure_installed())
