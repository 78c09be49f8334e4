"""Collection metrics for Prometheus: what this process did, and the shared state.

Two kinds, because collection runs in several processes (``openpost serve``'s embedded
collector, any number of ``openpost worker``s):

- **Counters of this process's work** (``WORK``): capture batches by platform and result,
  snapshots written, platform requests, targets by outcome, capture and discovery
  durations. Each process exports its own; Prometheus sums them. ``openpost serve`` shows
  them at ``/metrics``; ``openpost worker --metrics-port`` serves them on its own port.
- **The shared state, read from the database at scrape time** (``CollectionState``): due
  targets, how late the oldest due one is (the collector's lag: the one number that says
  collection keeps up), pauses per platform and credential, and each daily budget's spend.
  Every process reports the same values; scrape one. Cached for ``ttl`` seconds so frequent
  scrapes cost one set of indexed queries.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from openpost.config import Settings
from openpost.core import clock
from openpost.core.db import transaction
from openpost.platforms.spec import CredentialKey
from openpost.platforms.specs import LIVE
from openpost.refresh import budgets, ratestate
from openpost.refresh.models import PlatformState, RefreshState

DURATIONS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class WorkMetrics:
    """Counters of the collection work done in this process."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.batches = Counter(
            "openpost_capture_batches_total",
            "Capture batches run, by platform and result (ok: the platform answered; "
            "failed: the whole call failed; paused: not sent, the platform was paused; "
            "stale: every target had been taken by another job).",
            ["platform", "result"],
            registry=self.registry,
        )
        self.targets = Counter(
            "openpost_capture_targets_total",
            "Targets captured, by platform and refresh outcome.",
            ["platform", "outcome"],
            registry=self.registry,
        )
        self.snapshots = Counter(
            "openpost_snapshots_written_total",
            "Snapshots appended, by platform (captures and discovery).",
            ["platform"],
            registry=self.registry,
        )
        self.requests = Counter(
            "openpost_platform_requests_total",
            "Requests sent to platforms by metric reads and discovery, by platform (every "
            "request: Mastodon's one-status-per-call fallback counts each read).",
            ["platform", "endpoint"],
            registry=self.registry,
        )
        self.discovered = Counter(
            "openpost_discovered_posts_total",
            "Posts found by discovery and tracked, by platform.",
            ["platform"],
            registry=self.registry,
        )
        self.capture_seconds = Histogram(
            "openpost_capture_seconds",
            "Time to capture one batch (platform call and database writes), by platform.",
            ["platform"],
            registry=self.registry,
            buckets=DURATIONS,
        )
        self.discovery_seconds = Histogram(
            "openpost_discovery_seconds",
            "Time to discover one account's new posts, by platform.",
            ["platform"],
            registry=self.registry,
            buckets=DURATIONS,
        )


WORK = WorkMetrics()


class _Forward(Collector):
    """Shows another registry's metrics in a registry (each metric lives in one)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry

    def collect(self) -> Iterator[Metric]:
        yield from self._registry.collect()


def register(
    registry: CollectorRegistry, factory: sessionmaker[Session], settings: Settings
) -> None:
    """Add this process's collection counters and the shared collection state."""
    registry.register(_Forward(WORK.registry))
    registry.register(CollectionState(factory, settings))


class CollectionState(Collector):
    """Gauges of the shared collection state, read from the database when scraped."""

    def __init__(
        self, factory: sessionmaker[Session], settings: Settings, *, ttl: float = 15.0
    ) -> None:
        self._factory = factory
        self._settings = settings
        self._ttl = ttl
        self._lock = threading.Lock()
        self._cached: tuple[float, list[Metric]] | None = None

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            if self._cached is None or time.monotonic() - self._cached[0] > self._ttl:
                self._cached = (time.monotonic(), self._read(clock.now()))
            yield from self._cached[1]

    def _read(self, now: datetime) -> list[Metric]:
        due = GaugeMetricFamily(
            "openpost_collection_due_targets", "Targets whose next reading is due now."
        )
        lag = GaugeMetricFamily(
            "openpost_collection_lag_seconds",
            "How long the oldest due target has waited (0 when nothing is due): stays "
            "near 0 while collection keeps up.",
        )
        paused = GaugeMetricFamily(
            "openpost_platform_paused",
            "1 for each pause in force, by platform, scope (the platform, or a credential "
            "such as mastodon:<instance>) and reason.",
            labels=["platform", "scope", "reason"],
        )
        spent = GaugeMetricFamily(
            "openpost_platform_budget_spent",
            "Spent of today's budget, in the platform's unit (posts per UTC day on X, quota "
            "units per Pacific day on YouTube).",
            labels=["platform", "unit"],
        )
        limit = GaugeMetricFamily(
            "openpost_platform_budget_limit",
            "The daily budget's limit in its unit (absent: no limit).",
            labels=["platform", "unit"],
        )
        with transaction(self._factory) as session:
            count, oldest = session.execute(
                select(func.count(), func.min(RefreshState.next_due_at)).where(
                    RefreshState.next_due_at <= now
                )
            ).one()
            rows = list(session.scalars(select(PlatformState)))
        due.add_metric([], float(count))
        lag.add_metric([], max((now - oldest).total_seconds(), 0.0) if oldest else 0.0)
        by_key = {row.key: row for row in rows}
        for row in rows:
            pause = ratestate.pause_of(row, now)
            if pause is None:
                continue
            scope = row.key.rsplit("/", 1)[0]
            platform = CredentialKey.parse(scope).platform
            paused.add_metric([platform, scope, pause.reason], 1.0)
        for platform in sorted(LIVE):
            budget = budgets.budget_for(self._settings, platform)
            used = ratestate.units_today(by_key.get(platform), budget, now)
            spent.add_metric([platform, budget.unit], float(used))
            if budget.limited:
                limit.add_metric([platform, budget.unit], float(budget.limit))
        return [due, lag, paused, spent, limit]
