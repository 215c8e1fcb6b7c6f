"""All configuration, read from the environment in one place (``Settings.from_environ``) and passed
explicitly everywhere else. Nothing reads os.environ at import time."""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path

from db.pool import Timeouts

log = logging.getLogger("newsfacts.settings")


def _bool(value: str) -> bool:
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"not a boolean: {value!r}")


def _list(value: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in value.split(",") if item.strip())


LOOPBACK_NETWORKS = ("127.0.0.0/8", "::1/128")
# Requests a window in development: more than a person makes by hand or in a quickstart loop, so the
# limit never silently eats a step there; the limiter and its headers still work as in production.
DEVELOPMENT_RATE_LIMIT = 10_000

# Old variable → the one that replaced it (its value in milliseconds, converted), or None when it
# has no meaning any more: the client-side statement bound is DB_STATEMENT_TIMEOUT_S itself now.
DEPRECATED: dict[str, str | None] = {
    "DB_ACQUIRE_TIMEOUT_MS": "DB_ACQUIRE_TIMEOUT_S",
    "DB_STATEMENT_TIMEOUT_MS": "DB_STATEMENT_TIMEOUT_S",
    "DB_COMMAND_TIMEOUT_MS": None,
}


@dataclass(frozen=True)
class Settings:
    """Every setting, its environment variable (upper-cased name) and its default.

    The configuration page (docs/operations/index.md) lists the same names; tests/api/test_settings.py keeps them in step."""

    database_url: str | None = None
    redis_url: str | None = None
    # Streaming replicas for read-only work (api/reads/); empty: every read runs on the primary.
    database_replica_urls: tuple[str, ...] = ()
    replica_max_lag_ms: int = 2_000
    replica_wait_ms: int = 250
    replica_poll_ms: int = 200
    data_dir: Path = Path(".data")
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    environment: str = "development"
    log_level: str = "info"
    db_pool_min: int = 1
    db_pool_max: int = 10
    # Bounds on every wait for PostgreSQL, in seconds (db/pool.py Timeouts): for a pool connection,
    # and for each statement's answer. DB_ACQUIRE_TIMEOUT_MS / DB_STATEMENT_TIMEOUT_MS are their
    # deprecated names (milliseconds); DB_COMMAND_TIMEOUT_MS is ignored (see DEPRECATED).
    db_acquire_timeout_s: float = 5.0
    db_statement_timeout_s: float = 5.0
    max_body_bytes: int = 2_000_000
    anonymous_reads: bool = True
    graphiql: bool | None = None
    introspection: bool | None = None
    graphql_max_cost: int = 5_000
    graphql_max_depth: int = 12
    graphql_persisted_only: bool = False
    # Answer GraphQL reads from planned SQL (api/graphql/endpoint.py); false runs every operation
    # on the per-field resolvers (the reference path, and the baseline of bench/bench_graphql.py).
    graphql_planner: bool = True
    cors_origins: tuple[str, ...] = ()
    # In development, with no CORS_ORIGINS, any http://localhost / 127.0.0.1 / [::1] origin (any
    # port) is allowed, so a page on a local dev server can call the API and open its event stream.
    cors_local_origins: bool | None = None
    # Lifetime of a stream token (POST /v1/events/tokens), the EventSource credential that keeps
    # API keys out of URLs.
    stream_token_seconds: int = 300
    # None: the defaults per environment (anonymous_rate_limit, key_rate_limit below).
    rate_limit_anonymous: int | None = None
    rate_limit_key: int | None = None
    rate_limit_window_seconds: int = 60
    event_retention_days: int = 30
    cache_enabled: bool = True
    cache_ttl_seconds: int = 300
    cache_local_entries: int = 2_000
    event_stream_maxlen: int = 100_000
    event_heartbeat_seconds: int = 15
    subscriptions_per_connection: int = 25
    # None: the development defaults (loopback networks allowed, plain http to loopback receivers,
    # so a receiver on this machine works out of the box); elsewhere none and https only.
    webhook_allowed_networks: tuple[str, ...] | None = None
    webhook_require_https: bool | None = None
    # Run webhook delivery inside `newsfacts serve` (a `newsfacts worker` child process); None: in
    # development only. Production runs workers apart, so they scale and restart on their own.
    webhook_worker_in_server: bool | None = None
    webhook_max_payload_bytes: int = 256_000
    webhook_timeout_ms: int = 15_000
    # Seconds before each attempt (the first is immediate): Standard Webhooks' schedule, ≈ 2.8 days.
    webhook_retry_schedule: tuple[str, ...] = (
        "0", "5", "300", "1800", "7200", "18000", "36000", "36000", "36000", "36000", "36000", "36000",
    )  # fmt: skip
    webhook_retry_after_max_seconds: int = 36_000
    webhook_disable_after_hours: int = 120
    webhook_secret_grace_hours: int = 24
    # id:base64key entries sealing stored signing secrets; the first seals, all open (api/webhooks/keyring.py).
    webhook_secret_keys: tuple[str, ...] = ()
    webhook_concurrency: int = 128
    webhook_endpoint_concurrency: int = 4
    # The most deliveries one claim statement leases, and the most outcomes one record statement stores.
    webhook_batch_size: int = 64
    # How long a finished attempt may wait for others before its batch of outcomes is recorded.
    webhook_flush_ms: int = 5
    public_url: str = ""

    @property
    def production(self) -> bool:
        return self.environment == "production"

    @property
    def development(self) -> bool:
        return self.environment == "development"

    @property
    def db_timeouts(self) -> Timeouts:
        return Timeouts(statement_s=self.db_statement_timeout_s, acquire_s=self.db_acquire_timeout_s)

    @property
    def anonymous_rate_limit(self) -> int:
        """RATE_LIMIT_ANONYMOUS, or 60 a window; in development DEVELOPMENT_RATE_LIMIT, since there
        everything on the machine (a shell loop, /docs' "Try it", the explorer) is one 127.0.0.1."""
        if self.rate_limit_anonymous is not None:
            return self.rate_limit_anonymous
        return DEVELOPMENT_RATE_LIMIT if self.development else 60

    @property
    def key_rate_limit(self) -> int:
        """RATE_LIMIT_KEY, or 600 a window (DEVELOPMENT_RATE_LIMIT in development)."""
        if self.rate_limit_key is not None:
            return self.rate_limit_key
        return DEVELOPMENT_RATE_LIMIT if self.development else 600

    @property
    def webhook_networks(self) -> tuple[str, ...]:
        """WEBHOOK_ALLOWED_NETWORKS, or by default loopback in development and nothing elsewhere."""
        if self.webhook_allowed_networks is not None:
            return self.webhook_allowed_networks
        return LOOPBACK_NETWORKS if self.development else ()

    @property
    def webhook_http_allowed(self) -> str:
        """Which receivers may use plain http: "any" (WEBHOOK_REQUIRE_HTTPS=false), "loopback" (the
        development default) or "none"."""
        if self.webhook_require_https is None:
            return "loopback" if self.development else "none"
        return "none" if self.webhook_require_https else "any"

    @property
    def webhook_worker_enabled(self) -> bool:
        return self.development if self.webhook_worker_in_server is None else self.webhook_worker_in_server

    @property
    def cors_local_origins_enabled(self) -> bool:
        if self.cors_local_origins is None:
            return self.development and not self.cors_origins
        return self.cors_local_origins

    @property
    def graphiql_enabled(self) -> bool:
        return (not self.production) if self.graphiql is None else self.graphiql

    @property
    def introspection_enabled(self) -> bool:
        return (not self.production) if self.introspection is None else self.introspection

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Settings from ``environ`` (default: os.environ); a bad value names its variable."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for old, new in DEPRECATED.items():
            if env.get(old):
                log.warning("%s is deprecated: %s", old, f"use {new}" if new else "ignored")
                if new and not env.get(new):
                    try:
                        values[new.lower()] = _duration(str(float(env[old]) / 1000))
                    except ValueError as exc:
                        raise ValueError(f"environment variable {old}: {exc}") from None
        for f in fields(cls):
            name = f.name.upper()
            raw = env.get(name)
            if raw is None or raw == "":
                continue
            try:
                values[f.name] = _parse(f.type, raw)
            except ValueError as exc:
                raise ValueError(f"environment variable {name}: {exc}") from None
        return cls(**values)  # type: ignore[arg-type]


def _duration(value: str) -> float:
    seconds = float(value)
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(f"must be a positive number of seconds: {value!r}")
    return seconds


def _parse(annotation: object, raw: str) -> object:
    kind = str(annotation)
    if "bool" in kind:
        return _bool(raw)
    if kind in ("int", "int | None"):
        return int(raw)
    if kind == "float":
        return _duration(raw)
    if "tuple" in kind:
        return _list(raw)
    if "Path" in kind:
        return Path(raw)
    return raw
