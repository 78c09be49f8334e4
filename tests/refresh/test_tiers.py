"""The tier table of SPEC §5.1, at every bound and one second either side."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openpost.refresh.tiers import (
    DEFAULT_POLICY,
    Tier,
    TierPolicy,
    capture_schedule,
    interval_for,
    is_due,
    next_due_at,
    tier_for,
)

SECOND = timedelta(seconds=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
MINUTES_30 = timedelta(minutes=30)
PUBLISHED = datetime(2026, 4, 1, 9, 15, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("age", "tier", "interval"),
    [
        (-DAY, Tier.fresh, MINUTES_30),
        (-SECOND, Tier.fresh, MINUTES_30),
        (timedelta(0), Tier.fresh, MINUTES_30),
        (24 * HOUR - SECOND, Tier.fresh, MINUTES_30),
        (24 * HOUR, Tier.recent, 6 * HOUR),
        (24 * HOUR + SECOND, Tier.recent, 6 * HOUR),
        (7 * DAY - SECOND, Tier.recent, 6 * HOUR),
        (7 * DAY, Tier.long_tail, 24 * HOUR),
        (7 * DAY + SECOND, Tier.long_tail, 24 * HOUR),
        (90 * DAY - SECOND, Tier.long_tail, 24 * HOUR),
        (90 * DAY, Tier.frozen, None),
        (90 * DAY + SECOND, Tier.frozen, None),
        (3650 * DAY, Tier.frozen, None),
    ],
)
def test_tier_and_interval_at_each_bound(
    age: timedelta, tier: Tier, interval: timedelta | None
) -> None:
    assert tier_for(age) is tier
    assert interval_for(age) == interval


def test_tier_names_match_the_spec() -> None:
    assert [t.value for t in Tier] == ["fresh", "recent", "long-tail", "frozen"]


@pytest.mark.parametrize(
    ("last_attempt_age", "now_age", "due"),
    [
        # fresh: 30 minutes after the last attempt, not a second before
        (timedelta(0), MINUTES_30 - SECOND, False),
        (timedelta(0), MINUTES_30, True),
        (2 * HOUR, 2 * HOUR + MINUTES_30, True),
        # the tier in force *now* decides: read at 23:40, at 24:10 the 6 h interval applies
        (23 * HOUR + 40 * 60 * SECOND, 24 * HOUR + 10 * 60 * SECOND, False),
        (23 * HOUR + 40 * 60 * SECOND, 29 * HOUR + 40 * 60 * SECOND - SECOND, False),
        (23 * HOUR + 40 * 60 * SECOND, 29 * HOUR + 40 * 60 * SECOND, True),
        # still fresh a second before the bound
        (23 * HOUR, 24 * HOUR - SECOND, True),
        # recent
        (2 * DAY, 2 * DAY + 6 * HOUR - SECOND, False),
        (2 * DAY, 2 * DAY + 6 * HOUR, True),
        # long-tail
        (10 * DAY, 11 * DAY - SECOND, False),
        (10 * DAY, 11 * DAY, True),
        (89 * DAY - SECOND, 90 * DAY - SECOND, True),
        # frozen: never, however long ago the last attempt was
        (89 * DAY - SECOND, 90 * DAY, False),
        (50 * DAY, 90 * DAY, False),
        (50 * DAY, 400 * DAY, False),
    ],
)
def test_is_due(last_attempt_age: timedelta, now_age: timedelta, due: bool) -> None:
    assert is_due(PUBLISHED, PUBLISHED + last_attempt_age, PUBLISHED + now_age) is due


@pytest.mark.parametrize("age", [timedelta(0), 3 * DAY, 30 * DAY, 90 * DAY, 400 * DAY, -HOUR])
def test_a_never_attempted_target_is_due_at_once_whatever_its_age(age: timedelta) -> None:
    now = PUBLISHED + age
    assert is_due(PUBLISHED, None, now)
    assert next_due_at(PUBLISHED, None) == PUBLISHED


def test_future_published_at_counts_as_fresh() -> None:
    """Clock skew: a post stamped 10 minutes ahead is treated as age 0 (fresh)."""
    published = PUBLISHED + 10 * 60 * SECOND
    assert is_due(published, PUBLISHED, PUBLISHED + MINUTES_30)
    assert not is_due(published, PUBLISHED, PUBLISHED + MINUTES_30 - SECOND)
    assert next_due_at(published, PUBLISHED) == PUBLISHED + MINUTES_30


@pytest.mark.parametrize(
    ("last_attempt_age", "expected_age"),
    [
        (timedelta(0), MINUTES_30),
        (23 * HOUR + 29 * 60 * SECOND, 23 * HOUR + 59 * 60 * SECOND),
        (23 * HOUR + 30 * 60 * SECOND, 29 * HOUR + 30 * 60 * SECOND),
        (23 * HOUR + 40 * 60 * SECOND, 29 * HOUR + 40 * 60 * SECOND),
        (6 * DAY + 17 * HOUR, 6 * DAY + 23 * HOUR),
        (6 * DAY + 18 * HOUR, 7 * DAY + 18 * HOUR),
        (88 * DAY, 89 * DAY),
        (89 * DAY - SECOND, 90 * DAY - SECOND),
    ],
)
def test_next_due_at(last_attempt_age: timedelta, expected_age: timedelta) -> None:
    assert next_due_at(PUBLISHED, PUBLISHED + last_attempt_age) == PUBLISHED + expected_age


@pytest.mark.parametrize("last_attempt_age", [89 * DAY, 90 * DAY, 200 * DAY])
def test_next_due_at_is_none_once_frozen(last_attempt_age: timedelta) -> None:
    assert next_due_at(PUBLISHED, PUBLISHED + last_attempt_age) is None


def test_capture_schedule_of_a_whole_life() -> None:
    times = capture_schedule(PUBLISHED, PUBLISHED + 365 * DAY)
    ages = [t - PUBLISHED for t in times]
    fresh = [a for a in ages if a < DAY]
    recent = [a for a in ages if DAY <= a < 7 * DAY]
    long_tail = [a for a in ages if a >= 7 * DAY]
    assert fresh == [i * MINUTES_30 for i in range(48)]
    # last fresh reading at 23:30; 6 h later (29:30) is the first recent one
    assert recent == [29 * HOUR + 30 * 60 * SECOND + i * 6 * HOUR for i in range(24)]
    # last recent reading at 6 d 23:30 → next at 7 d 23:30, then daily until frozen
    assert long_tail[0] == 7 * DAY + 23 * HOUR + 30 * 60 * SECOND
    assert all(b - a == DAY for a, b in itertools.pairwise(long_tail))
    assert long_tail[-1] == 89 * DAY + 23 * HOUR + 30 * 60 * SECOND  # 90 d is frozen
    assert len(long_tail) == 83
    assert len(times) == 48 + 24 + 83


@pytest.mark.parametrize(
    ("until_age", "count"),
    [(-SECOND, 0), (timedelta(0), 1), (MINUTES_30 - SECOND, 1), (MINUTES_30, 2), (DAY, 48)],
)
def test_capture_schedule_stops_at_until_inclusive(until_age: timedelta, count: int) -> None:
    assert len(capture_schedule(PUBLISHED, PUBLISHED + until_age)) == count


@given(
    last=st.integers(min_value=0, max_value=100 * 86400),
    published_offset=st.integers(min_value=-3600, max_value=0),
)
def test_next_due_at_is_the_first_instant_is_due_holds(last: int, published_offset: int) -> None:
    published = PUBLISHED + timedelta(seconds=published_offset)
    attempt = PUBLISHED + timedelta(seconds=last)
    due = next_due_at(published, attempt)
    if due is None:
        later = [attempt + h * HOUR for h in range(0, 24 * 120, 7)]
        assert not any(is_due(published, attempt, moment) for moment in later)
    else:
        assert due > attempt
        assert is_due(published, attempt, due)
        assert not is_due(published, attempt, due - SECOND)


def test_a_custom_policy_moves_bounds_and_intervals() -> None:
    policy = TierPolicy(
        fresh_until=2 * HOUR,
        recent_until=DAY,
        long_tail_until=3 * DAY,
        fresh_every=10 * 60 * SECOND,
        recent_every=HOUR,
        long_tail_every=12 * HOUR,
    )
    assert tier_for(2 * HOUR, policy) is Tier.recent
    assert tier_for(3 * DAY, policy) is Tier.frozen
    assert interval_for(HOUR, policy) == 10 * 60 * SECOND
    times = capture_schedule(PUBLISHED, PUBLISHED + 10 * DAY, policy)
    assert times[:3] == [PUBLISHED + i * 10 * 60 * SECOND for i in range(3)]
    assert times[-1] - PUBLISHED < 3 * DAY
    assert TierPolicy() == DEFAULT_POLICY


@pytest.mark.parametrize(
    "fields",
    [
        {"fresh_until": 7 * DAY},
        {"long_tail_until": DAY},
        {"fresh_until": timedelta(0)},
        {"recent_every": timedelta(0)},
        {"fresh_every": -MINUTES_30},
    ],
)
def test_policy_rejects_nonsense(fields: dict[str, timedelta]) -> None:
    with pytest.raises(ValueError, match=r"tier bounds|intervals"):
        TierPolicy(**fields)
