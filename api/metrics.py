"""Prometheus metrics at /metrics: request counts and latency per route template and per GraphQL
operation, cache hits and misses, DB pool usage, and gauges other parts register (relay lag,
webhook queue depth). One registry per app, kept in State — no process-global registry."""

from __future__ import annotations

import asyncio
import bisect
import itertools
import re
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.metrics_core import HistogramMetricFamily
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Scope

from api.state import State, get_state
from db import stats
from db.errors import Unavailable, from_database
from db.pool import waits_of

_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)
_BUCKET_LABELS = [repr(b) for b in _BUCKETS] + ["+Inf"]  # "le" as prometheus_client writes it
# At most this long for the database's figures: a scraper's own timeout is often a few seconds.
SNAPSHOT_SECONDS = 2.0


class Metrics:
    """The app's metric families. ``collectors`` are async callbacks refreshing gauges at scrape time."""

    def child(self, family: Any, *labels: str) -> Any:
        """``family.labels(*labels)``, memoised (label values here come from bounded sets); for
        counters a _Tally in front of it."""
        key = (family, labels)
        found = self._children.get(key)
        if found is None:
            real = family.labels(*labels)
            found = self._children[key] = _Tally(real) if isinstance(family, Counter) else real
        return found

    def request(self, route: str, method: str, status: int, seconds: float) -> None:
        """One HTTP request: counted by route template, method and status, timed by the first two."""
        key = (route, method, status)
        found = self._requests.get(key)
        if found is None:
            found = self._requests[key] = (
                self.child(self.requests, route, method, str(status)),
                self.child(self.latency, route, method),
            )
        found[0].inc()
        found[1].observe(seconds)

    def graphql_operation(self, name: object, outcome: str, path: str, seconds: float) -> None:
        """One GraphQL operation over HTTP: timed by operation name and outcome, counted by the path
        that answered it (planned SQL or resolvers)."""
        key = (name, outcome, path)
        found = self._operations.get(key)
        if found is None:
            if len(self._operations) >= MAX_OPERATION_LABELS * 4:
                self._operations.clear()  # client-chosen names: the memo stays bounded too
            found = self._operations[key] = (
                self.child(self.graphql, operation_label(self, name), outcome),
                self.child(self.graphql_path, path),
            )
        found[0].observe(seconds)
        found[1].inc()

    def flush(self) -> None:
        """Hands every tally's pending counts to its prometheus child (before a scrape)."""
        for child in self._children.values():
            if isinstance(child, _Tally):
                child.flush()

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter("newsfacts_http_requests", "HTTP requests", ["route", "method", "status"], registry=r)
        self.latency = LatencyHistogram(
            "newsfacts_http_request_seconds", "HTTP request latency", ["route", "method"], registry=r
        )
        self.graphql = LatencyHistogram(
            "newsfacts_graphql_operation_seconds", "GraphQL operation latency", ["operation", "outcome"], registry=r
        )
        self.graphql_path = Counter(
            "newsfacts_graphql_operations", "GraphQL HTTP operations by path: planned SQL or per-field resolvers",
            ["path"], registry=r,
        )  # fmt: skip
        self.graphql_subscriptions = Counter(
            "newsfacts_graphql_subscription_executions",
            "GraphQL subscription executions by path (a shared one counts once for all its subscribers)",
            ["path"], registry=r,
        )  # fmt: skip
        self.cache = Counter("newsfacts_cache_lookups", "Response cache lookups", ["surface", "result"], registry=r)
        self.pool_size = Gauge("newsfacts_db_pool_connections", "DB pool connections", ["state"], registry=r)
        self.relay_lag = Gauge("newsfacts_event_relay_lag_events", "Committed events not yet relayed", registry=r)
        self.cache_lag = Gauge(
            "newsfacts_cache_invalidation_lag_events", "Events not yet applied to the cache", registry=r
        )
        self.webhook_queue = Gauge("newsfacts_webhook_queue_depth", "Webhook deliveries waiting", registry=r)
        self.webhook_failures = Gauge(
            "newsfacts_webhook_retrying_deliveries", "Pending webhook deliveries that failed at least once", registry=r
        )
        self.replica_lag = Gauge(
            "newsfacts_replica_lag_ms", "How far behind the primary each replica's replay is, as this process saw it",
            ["replica"], registry=r,
        )  # fmt: skip
        self.replica_up = Gauge(
            "newsfacts_replica_up",
            "1 while a replica answers and is within REPLICA_MAX_LAG_MS",
            ["replica"],
            registry=r,
        )
        self.reads = Counter(
            "newsfacts_db_reads", "Read-only connections handed out, by where they went", ["target"], registry=r
        )
        self.replica_waits = Counter(
            "newsfacts_replica_token_waits", "Reads that waited for a replica to replay a consistency token", registry=r
        )
        self.db_waits = Counter(
            "newsfacts_db_waits_abandoned",
            "Waits for PostgreSQL given up at their bound: 'acquire' past DB_ACQUIRE_TIMEOUT_S, 'statement' past "
            "DB_STATEMENT_TIMEOUT_S (or its request cancelled), its connection closed",
            ["wait"], registry=r,
        )  # fmt: skip
        self._db_waits_seen: dict[str, int] = {}
        self._reads_seen: dict[str, int] = {}
        self.collectors: list[Callable[[], Awaitable[None]]] = []
        # prometheus_client's labels() takes a lock and validates on every call: keep the children.
        self._children: dict[tuple[object, tuple[str, ...]], Any] = {}
        # The children one request or operation touches, by its labels' raw values: one look-up.
        self._requests: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self._operations: dict[tuple[object, str, str], tuple[Any, Any]] = {}
        self.operation_names: set[str] = set()


class _Tally:
    """Counts of one counter child, kept in a plain attribute and handed to prometheus_client at
    scrape time (Metrics.flush): its children take a lock and validate on every call, a few
    microseconds each, on the hot path of every request."""

    __slots__ = ("count", "real")

    def __init__(self, real: Any) -> None:
        self.real = real
        self.count = 0.0

    def inc(self, amount: float = 1) -> None:
        self.count += amount

    def flush(self) -> None:
        if self.count:
            count, self.count = self.count, 0.0
            self.real.inc(count)


class LatencyHistogram:
    """A histogram family (buckets _BUCKETS) counted in plain Python and exported when scraped,
    as a prometheus_client collector: its own Histogram takes a lock and walks the buckets in
    Python on every observation, two per request (about 2 us of ``{ __typename }``'s server CPU,
    even deferred to scrape time). One event loop observes and scrapes: no lock is needed."""

    def __init__(self, name: str, documentation: str, labelnames: list[str], registry: CollectorRegistry) -> None:
        self.name = name
        self.documentation = documentation
        self.labelnames = labelnames
        self.children: dict[tuple[str, ...], _Buckets] = {}
        registry.register(self)

    def labels(self, *values: str) -> _Buckets:
        found = self.children.get(values)
        if found is None:
            found = self.children[values] = _Buckets()
        return found

    def collect(self) -> Iterator[HistogramMetricFamily]:
        family = HistogramMetricFamily(self.name, self.documentation, labels=self.labelnames)
        for values, child in self.children.items():
            cumulative = list(itertools.accumulate(child.counts))
            family.add_metric(list(values), list(zip(_BUCKET_LABELS, cumulative, strict=True)), child.sum)
        yield family


class _Buckets:
    """One labelled histogram's observations: a count per bucket (the last one +Inf) and a sum."""

    __slots__ = ("counts", "sum")

    def __init__(self) -> None:
        self.counts = [0] * (len(_BUCKETS) + 1)
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(_BUCKETS, value)] += 1  # le: a value on a bound is in it
        self.sum += value


_ID_SEGMENT = re.compile(r"/[a-z]{3}_[0-9A-HJKMNP-TV-Z]{26}")


def route_label(scope: Scope) -> str:
    """The route template; cache hits never reach the router, so they are labelled by their path
    with ids folded to ``{id}`` (cacheable paths are a fixed family: labels stay bounded)."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str):
        return path
    if scope.get("newsfacts.cache") == "hit":
        return _ID_SEGMENT.sub("/{id}", scope["path"])
    return "unmatched"


_OPERATION_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
MAX_OPERATION_LABELS = 200


def operation_label(metrics: Metrics, name: object) -> str:
    """A bounded label for a client-chosen GraphQL operation name: the first MAX_OPERATION_LABELS
    well-formed names keep their own series, later ones share "other"."""
    if not isinstance(name, str) or not _OPERATION_NAME.fullmatch(name):
        return "anonymous"
    if name in metrics.operation_names or len(metrics.operation_names) < MAX_OPERATION_LABELS:
        metrics.operation_names.add(name)
        return name
    return "other"


async def start(state: State) -> None:
    """Lifespan hook: this app's metrics registry."""
    if state.metrics is None:
        state.metrics = Metrics()


async def metrics_endpoint(request: Request) -> Response:
    state = get_state(request)
    metrics = state.metrics
    assert metrics is not None, "the metrics lifespan hook has not run"
    metrics.pool_size.labels("total").set(state.pool.get_size())
    metrics.pool_size.labels("idle").set(state.pool.get_idle_size())
    _db_waits(metrics, state)
    try:
        # A scrape is most useful while the database is not answering: its figures are skipped
        # then (their gauges keep the last values) and everything else is still exported.
        async with asyncio.timeout(SNAPSHOT_SECONDS), state.pool.acquire() as conn:
            figures = await stats.snapshot(conn)
    except Exception as exc:
        if not isinstance(from_database(exc), Unavailable):
            raise
        figures = None
    if figures is not None:
        metrics.relay_lag.set(max(0, figures.last_sequence - figures.relay_published))
        metrics.webhook_queue.set(figures.webhook_pending)
        metrics.webhook_failures.set(figures.webhook_retrying)
        cache = state.cache
        if cache is not None:
            metrics.cache_lag.set(max(0, figures.last_sequence - cache.applied_seq))
    _read_routing(metrics, state)
    for collect in metrics.collectors:
        await collect()
    metrics.flush()  # last: the counts taken above are in this scrape, not the next
    return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)


def _db_waits(metrics: Metrics, state: State) -> None:
    """The waits for PostgreSQL this process gave up on, over the primary's and replicas' pools
    (db/pool.py counts them; counters take deltas)."""
    pools = [state.pool, *(r.pool for r in state.reads.replicas if r.pool is not None)]
    totals = {"acquire": 0, "statement": 0}
    for pool in pools:
        waits = waits_of(pool)
        totals["acquire"] += waits.acquire
        totals["statement"] += waits.statement
    for wait, count in totals.items():
        delta = count - metrics._db_waits_seen.get(wait, 0)
        if delta > 0:
            metrics.child(metrics.db_waits, wait).inc(delta)
        metrics._db_waits_seen[wait] = count


def _read_routing(metrics: Metrics, state: State) -> None:
    """Per-replica lag and health, and where reads went (the router counts; counters take deltas)."""
    router = state.reads
    counts = {"primary": router.primary_reads, **{r.name: r.reads for r in router.replicas}, "waits": router.waits}
    for target, count in counts.items():
        delta = count - metrics._reads_seen.get(target, 0)
        if delta > 0:
            (metrics.replica_waits if target == "waits" else metrics.child(metrics.reads, target)).inc(delta)
        metrics._reads_seen[target] = count
    for replica in router.replicas:
        usable = replica.healthy and replica.lag_ms <= router.max_lag_ms
        metrics.child(metrics.replica_up, replica.name).set(1 if usable else 0)
        metrics.child(metrics.replica_lag, replica.name).set(replica.lag_ms if replica.healthy else float("nan"))


routes = [Route("/metrics", metrics_endpoint, methods=["GET"])]
