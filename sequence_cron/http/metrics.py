"""Prometheus metrics for GET /metrics, kept in a registry of each HTTP application's own.

Tick, state and email counters are recorded by the job runner after each tick. Graph-cache counters
are read from the shared cache, and the due-state gauges from PostgreSQL, when a scrape arrives.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from loguru import logger
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from sequence_cron.services import Services
from sequence_cron.storage import store

TICK_OUTCOMES = ("succeeded", "failed", "skipped")
EMAIL_OUTCOMES = ("sent", "failed")
# Ticks stop taking new batches after MAX_TICK_SECONDS (50 s by default), so the buckets reach past it.
TICK_DURATION_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
# The due-state count runs while Prometheus waits for the scrape, whose default timeout is 10 s.
DUE_STATES_TIMEOUT_S = 2.0
# Scrapes within this many seconds share one due-state query, so frequent scrapes cannot load
# the database.
DUE_STATES_CACHE_S = 5.0
# The node timeout job's summary maps a node kind to the number of states it set to ERROR.
NODE_TIMEOUT_OUTCOME = "errored"


@dataclass(frozen=True)
class DueStates:
    count: int
    oldest_age_s: float


class Metrics:
    """The metrics of one service: counters fed by `record_tick` and values read at scrape time."""

    def __init__(self, services: Services, job_names: Iterable[str] = ()):
        self.services = services
        self.registry = CollectorRegistry()
        self.ticks = Counter(
            "sequence_cron_ticks",
            "Ticks by job and outcome: succeeded, failed, or skipped (not run because the previous tick "
            "was still running or another replica held the tick lock).",
            ["job", "outcome"],
            registry=self.registry,
        )
        self.tick_duration = Histogram(
            "sequence_cron_tick_duration_seconds",
            "Wall-clock duration of the ticks that ran, by job and outcome (succeeded or failed).",
            ["job", "outcome"],
            buckets=TICK_DURATION_BUCKETS,
            registry=self.registry,
        )
        self.last_success = Gauge(
            "sequence_cron_tick_last_success_timestamp_seconds",
            "Unix time at which the job's last successful tick finished.",
            ["job"],
            registry=self.registry,
        )
        self.states = Counter(
            "sequence_cron_states",
            "Campaign node states executed by successful ticks, by job, node kind and outcome "
            "(completed, timed_out, errored, stopped, waiting); a failed tick's states are not counted.",
            ["job", "node_kind", "outcome"],
            registry=self.registry,
        )
        self.emails = Counter(
            "sequence_cron_emails",
            "Emails by provider and outcome: sent (accepted by the provider) or failed (rejected, "
            "or no answer in time); messages that could not be rendered are errored states instead.",
            ["provider", "outcome"],
            registry=self.registry,
        )
        self.registry.register(ScrapeTimeCollector(self))
        self._due_states: DueStates | None = None
        self._due_states_failing = False
        self._due_states_cache: tuple[float, DueStates] | None = None

        # Series that exist from the start read 0 rather than missing, so rate() and alerts work at once.
        for job in job_names:
            for outcome in TICK_OUTCOMES:
                self.ticks.labels(job, outcome)
        for outcome in EMAIL_OUTCOMES:
            self.emails.labels(services.provider.name, outcome)

    def record_tick(self, job: str, outcome: str, duration_s: float | None, summary: dict | None) -> None:
        """Count one tick. The runner calls this after every tick, with `summary` set when it succeeded."""
        self.ticks.labels(job, outcome).inc()
        if duration_s is not None:
            self.tick_duration.labels(job, outcome).observe(duration_s)
        if outcome == "succeeded":
            self.last_success.labels(job).set(time.time())
        if summary is not None:
            self.record_summary(job, summary)

    def record_summary(self, job: str, summary: dict) -> None:
        for kind, counts in summary.get("by_node_kind", {}).items():
            if isinstance(counts, dict):
                for outcome, number in counts.items():
                    self.states.labels(job, kind, outcome).inc(number)
            else:
                self.states.labels(job, kind, NODE_TIMEOUT_OUTCOME).inc(counts)
        provider = self.services.provider.name
        if summary.get("emails_sent"):
            self.emails.labels(provider, "sent").inc(summary["emails_sent"])
        if summary.get("emails_failed"):
            self.emails.labels(provider, "failed").inc(summary["emails_failed"])

    async def render(self) -> bytes:
        """Return the exposition text, without the due-state gauges when their query fails."""
        due_states = await self.read_due_states()
        # No await between setting the snapshot and generating the text, so concurrent scrapes on
        # this event loop cannot see each other's snapshot.
        self._due_states = due_states
        try:
            return generate_latest(self.registry)
        finally:
            self._due_states = None

    async def read_due_states(self) -> DueStates | None:
        """Count the due states and measure the oldest one's age. Return None when the query fails or times out."""
        cached = self._due_states_cache
        if cached is not None and time.monotonic() - cached[0] < DUE_STATES_CACHE_S:
            return cached[1]
        due_states = await self._query_due_states()
        self._due_states_cache = None if due_states is None else (time.monotonic(), due_states)
        return due_states

    async def _query_due_states(self) -> DueStates | None:
        now = self.services.clock.now()
        try:
            async with asyncio.timeout(DUE_STATES_TIMEOUT_S):
                async with self.services.pool.acquire() as connection:
                    row = await store.count_due_states(connection, now)
        except Exception as error:  # A failed query leaves two gauges out, never the whole scrape.
            if not self._due_states_failing:
                problem = "timed out" if isinstance(error, TimeoutError) else f"{type(error).__name__}: {error}"
                logger.bind(event="metrics_due_states_failed").warning(
                    "the due-state metrics are left out of /metrics until their query succeeds: {}", problem
                )
                self._due_states_failing = True
            return None
        if self._due_states_failing:
            logger.bind(event="metrics_due_states_recovered").info("the due-state metrics are back in /metrics")
            self._due_states_failing = False
        return DueStates(count=row["due"], oldest_age_s=max(0.0, float(row["oldest_age_s"])))


class ScrapeTimeCollector:
    """Yields the values read when a scrape arrives: graph-cache statistics and the due-state gauges."""

    def __init__(self, metrics: Metrics):
        self.metrics = metrics

    def describe(self) -> list[Metric]:
        # Nothing to declare up front: the due-state gauges exist only in scrapes whose query succeeded.
        return []

    def collect(self) -> Iterator[Metric]:
        stats = self.metrics.services.graphs.stats
        lookups = CounterMetricFamily(
            "sequence_cron_graph_cache_lookups",
            "Campaign graph lookups in the cache: hit, miss (absent or expired) or rebuild (stale version).",
            labels=["result"],
        )
        lookups.add_metric(["hit"], stats.hits)
        lookups.add_metric(["miss"], stats.misses)
        lookups.add_metric(["rebuild"], stats.rebuilds)
        yield lookups
        yield CounterMetricFamily(
            "sequence_cron_graph_cache_evictions",
            "Campaign graphs evicted from the cache to keep it within GRAPH_CACHE_SIZE.",
            value=stats.evictions,
        )
        yield GaugeMetricFamily(
            "sequence_cron_graph_cache_size", "Campaign graphs in the cache.", value=len(self.metrics.services.graphs)
        )

        due_states = self.metrics._due_states
        if due_states is None:
            return
        yield GaugeMetricFamily(
            "sequence_cron_due_states",
            "Campaign node states due now: PENDING, never attempted, run time passed, campaign RUNNING.",
            value=due_states.count,
        )
        yield GaugeMetricFamily(
            "sequence_cron_oldest_due_state_age_seconds",
            "Seconds since the run time of the oldest due state; 0 when none is due.",
            value=due_states.oldest_age_s,
        )
