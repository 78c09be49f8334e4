"""Collection policy: the X cap and window at their bounds, settings, backoff with jitter."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from openpost.config import Settings
from openpost.refresh.policy import CollectionPolicy

T0 = datetime(2026, 4, 1, 0, 0, 0, tzinfo=UTC)
H = timedelta(hours=1)
POLICY = CollectionPolicy.from_settings(Settings(env="test"))


def seeded(seed: int) -> random.Random:
    return random.Random(seed)  # noqa: S311 - seeded, so that jitter can be tested


@pytest.mark.parametrize(
    ("platform", "age", "rank", "allowed"),
    [
        ("twitter", 0 * H, 1, True),
        ("twitter", 71 * H + timedelta(minutes=59, seconds=59), 50, True),
        ("twitter", 72 * H, 1, False),  # the window is [0, 72 h)
        ("twitter", 1 * H, 51, False),  # the 51st newest post is outside the cap
        ("twitter", 1 * H, None, True),  # rank unknown: only the window applies
        ("bluesky", 500 * H, 5000, True),  # no cap on other platforms
        ("mastodon", 72 * H, None, True),
    ],
)
def test_refreshable(platform: str, age: timedelta, rank: int | None, allowed: bool) -> None:
    assert POLICY.refreshable(platform, T0, T0 + age, rank) is allowed


@pytest.mark.parametrize(
    ("platform", "attempt_age", "expected_age"),
    [
        ("twitter", 0 * H, timedelta(minutes=30)),  # fresh: every 30 min
        ("twitter", 23 * H + timedelta(minutes=40), 29 * H + timedelta(minutes=40)),
        ("twitter", 65 * H, 71 * H),  # recent: every 6 h, still inside 72 h
        ("twitter", 66 * H, None),  # the next read would fall at 72 h: frozen now
        ("twitter", 70 * H, None),
        ("bluesky", 66 * H, 72 * H),  # other platforms keep the tier schedule
        ("bluesky", 8 * 24 * H, 9 * 24 * H),  # long-tail: daily
        ("bluesky", 89 * 24 * H + H, None),  # the next read would be in the frozen tier
    ],
)
def test_next_due_applies_window(
    platform: str, attempt_age: timedelta, expected_age: timedelta | None
) -> None:
    expected = None if expected_age is None else T0 + expected_age
    assert POLICY.next_due(platform, T0, T0 + attempt_age) == expected


def test_settings_drive_the_policy() -> None:
    settings = Settings(
        env="test",
        x_max_posts_per_integration=10,
        x_freshness_window_hours=24,
        refresh_fresh_minutes=10,
        tier_fresh_hours=2,
    )
    policy = CollectionPolicy.from_settings(settings)
    assert policy.caps["twitter"].max_posts == 10
    assert policy.refreshable("twitter", T0, T0 + 24 * H, 1) is False
    assert policy.refreshable("twitter", T0, T0 + H, 11) is False
    assert policy.next_due("bluesky", T0, T0) == T0 + timedelta(minutes=10)
    assert policy.next_due("bluesky", T0, T0 + 2 * H) == T0 + 8 * H  # recent from 2 h on


@pytest.mark.parametrize(
    ("failures", "low", "high"),
    [
        (1, 30, 60),
        (2, 60, 120),
        (3, 120, 240),
        (9, 7680, 15360),
        (12, 10800, 21600),  # capped at retry_max (6 h), jitter kept
        (400, 10800, 21600),
    ],
)
def test_backoff_doubles_with_jitter(failures: int, low: int, high: int) -> None:
    delays = {POLICY.backoff(failures, seeded(seed)).total_seconds() for seed in range(200)}
    assert min(delays) >= low
    assert max(delays) <= high
    assert len(delays) > 20  # jittered, not one fixed delay


def test_jitter_spreads_resumption() -> None:
    moments = {POLICY.jitter(T0, seeded(seed)) for seed in range(100)}
    assert min(moments) >= T0
    assert max(moments) <= T0 + timedelta(seconds=30)
    assert len(moments) > 5
