"""Applies db/migrations/NNNN_name.sql in order, each in its own transaction, recording it in
schema_migrations. A transaction-level advisory lock makes concurrent starters queue instead of race:
the second one waits, then finds everything applied."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources

from db.errors import NewsfactsError
from db.pool import Conn

# Arbitrary constant shared by every newsfacts process: "nfmigr" in ASCII.
MIGRATION_LOCK_KEY = 0x6E666D696772
# Migrations are not requests: they may wait out another starter's migrations under the lock, or
# rewrite a large table. The pool's statement bounds (DB_STATEMENT_TIMEOUT_S) are lifted for them,
# on the server (SET LOCAL) and on this side (each statement's timeout).
MIGRATION_SECONDS = 3600.0


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def available() -> list[Migration]:
    """Every migration shipped with the package, in version order."""
    folder = resources.files("db") / "migrations"
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            version, _, rest = entry.name.partition("_")
            found.append(Migration(version, rest.removesuffix(".sql"), entry.read_text("utf-8")))
    return sorted(found, key=lambda m: m.version)


async def migrate(conn: Conn) -> list[str]:
    """Apply pending migrations; returns the versions applied by this call."""
    async with conn.transaction():
        await _unbounded(conn)
        # Under the lock too: two first-ever starters would otherwise race on CREATE TABLE.
        await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK_KEY, timeout=MIGRATION_SECONDS)
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                   version text PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now())""",
            timeout=MIGRATION_SECONDS,
        )
    applied: list[str] = []
    for migration in available():
        async with conn.transaction():
            await _unbounded(conn)
            await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK_KEY, timeout=MIGRATION_SECONDS)
            row = await conn.fetchrow("SELECT checksum FROM schema_migrations WHERE version = $1", migration.version)
            if row is not None:
                if row["checksum"] != migration.checksum:
                    raise NewsfactsError(
                        f"migration {migration.version}_{migration.name} changed after it was applied; "
                        "migrations are forward-only: add a new one instead"
                    )
                continue
            await conn.execute(migration.sql, timeout=MIGRATION_SECONDS)
            await conn.execute(
                "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                migration.version,
                migration.name,
                migration.checksum,
            )
            applied.append(migration.version)
    return applied


async def _unbounded(conn: Conn) -> None:
    await conn.execute("SET LOCAL statement_timeout = 0")
