"""Collection metrics: the shared state read at scrape time, and this process's counters."""

from __future__ import annotations

from datetime import timedelta

from prometheus_client import CollectorRegistry, generate_latest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from openpost.config import Settings
from openpost.core.db import make_sessionmaker
from openpost.refresh import runner
from openpost.refresh.metrics import WORK, CollectionState
from openpost.refresh.models import PlatformState
from openpost.refresh.runner import Runtime
from tests import builders
from tests.refresh.conftest import NOW, Clock, track

MINUTE = timedelta(minutes=1)


def _samples(registry: CollectorRegistry) -> dict[str, float]:
    found = {}
    for line in generate_latest(registry).decode().splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            found[name] = float(value)
    return found


def test_the_shared_state_is_read_when_scraped(
    session: Session, engine: Engine, settings: Settings, now: Clock
) -> None:
    workspace = builders.make_workspace(session)
    integration = builders.make_integration(session, workspace, platform="bluesky")
    for n, due in enumerate((NOW - 10 * MINUTE, NOW - MINUTE, NOW + 60 * MINUTE)):
        track(
            session,
            integration,
            f"at://x/app.bsky.feed.post/{n}",
            published_at=NOW,
            next_due_at=due,
        )
    session.add_all(
        [
            PlatformState(
                key="mastodon:one.example/metrics",
                paused_until=NOW + 5 * MINUTE,
                pause_reason="rate_window_spent",
                reads_today=0,
            ),
            PlatformState(
                key="twitter",  # a pause that has ended is not reported
                paused_until=NOW - MINUTE,
                pause_reason="x_credits_depleted",
                reads_today=0,
            ),
            PlatformState(key="youtube", budget_day="2026-04-16", reads_today=321),
        ]
    )
    session.commit()
    registry = CollectorRegistry()
    state = CollectionState(make_sessionmaker(engine), settings, ttl=60)
    registry.register(state)

    samples = _samples(registry)
    assert samples["openpost_collection_due_targets"] == 2
    assert samples["openpost_collection_lag_seconds"] == 600
    assert (
        samples[
            'openpost_platform_paused{platform="mastodon",reason="rate_window_spent",'
            'scope="mastodon:one.example"}'
        ]
        == 1
    )
    assert not any(
        name.startswith('openpost_platform_paused{platform="twitter"') for name in samples
    )
    assert samples['openpost_platform_budget_spent{platform="youtube",unit="quota_units"}'] == 321
    assert (
        samples['openpost_platform_budget_limit{platform="youtube",unit="quota_units"}'] == 10_000
    )
    assert 'openpost_platform_budget_limit{platform="twitter",unit="posts"}' not in samples

    # Scrapes within the cache's lifetime do not query again.
    now.advance(20 * MINUTE)
    assert _samples(registry)["openpost_collection_lag_seconds"] == 600
    fresh = CollectorRegistry()
    fresh.register(CollectionState(make_sessionmaker(engine), settings, ttl=0))
    assert _samples(fresh)["openpost_collection_due_targets"] == 2
    assert _samples(fresh)["openpost_collection_lag_seconds"] == 1800


def test_a_capture_counts_batches_targets_and_snapshots(
    session: Session, rt: Runtime, now: Clock
) -> None:
    workspace = builders.make_workspace(session)
    integration = builders.make_integration(session, workspace, platform="bluesky", synthetic=True)
    for n in range(3):
        track(session, integration, f"at://x/app.bsky.feed.post/{n}", published_at=NOW - MINUTE)
    session.commit()

    def value(name: str, **labels: str) -> float:
        found = WORK.registry.get_sample_value(name, labels)
        return found or 0.0

    outcomes = ("ok", "not_found")
    before = [value("openpost_capture_batches_total", platform="synthetic", result="ok")]
    before += [
        value("openpost_capture_targets_total", platform="synthetic", outcome=o) for o in outcomes
    ]
    before += [value("openpost_snapshots_written_total", platform="synthetic")]
    summary = runner.sweep(rt, now.at)  # discovery (first readings), then the due targets
    assert summary.discovered > 0
    after = [value("openpost_capture_batches_total", platform="synthetic", result="ok")]
    after += [
        value("openpost_capture_targets_total", platform="synthetic", outcome=o) for o in outcomes
    ]
    after += [value("openpost_snapshots_written_total", platform="synthetic")]
    deltas = [a - b for a, b in zip(after, before, strict=True)]
    assert deltas == [
        summary.batches,
        summary.outcomes["ok"],
        summary.outcomes["not_found"],
        summary.written,
    ]
    assert summary.outcomes["not_found"] == 3  # ids the simulator does not know
