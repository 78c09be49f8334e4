"""YouTube quota arithmetic: units per call, the Pacific day and its reset, DST days."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from openpost.platforms.youtube.quota import (
    QuotaMeter,
    discovery_units,
    next_quota_reset,
    quota_cost,
    quota_day,
    quota_day_start,
    units_for,
)


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


@pytest.mark.parametrize(
    ("now", "reset"),
    [
        # Winter (PST, UTC-8): midnight Pacific is 08:00 UTC.
        (utc(2026, 1, 15, 12, 0), utc(2026, 1, 16, 8, 0)),
        (utc(2026, 1, 15, 7, 59, 59), utc(2026, 1, 15, 8, 0)),
        (utc(2026, 1, 15, 8, 0), utc(2026, 1, 16, 8, 0)),  # the reset itself starts a day
        # Summer (PDT, UTC-7): 07:00 UTC.
        (utc(2026, 7, 4, 6, 59), utc(2026, 7, 4, 7, 0)),
        (utc(2026, 7, 4, 7, 0), utc(2026, 7, 5, 7, 0)),
        # Spring forward (Sunday 8 March 2026, 02:00 PST → 03:00 PDT): a 23-hour day that
        # began at 08:00 UTC and ends at 07:00 UTC.
        (utc(2026, 3, 8, 7, 30), utc(2026, 3, 8, 8, 0)),
        (utc(2026, 3, 8, 8, 0), utc(2026, 3, 9, 7, 0)),
        (utc(2026, 3, 8, 12, 0), utc(2026, 3, 9, 7, 0)),
        # Fall back (Sunday 1 November 2026, 02:00 PDT → 01:00 PST): a 25-hour day that
        # began at 07:00 UTC and ends at 08:00 UTC.
        (utc(2026, 11, 1, 6, 59), utc(2026, 11, 1, 7, 0)),
        (utc(2026, 11, 1, 7, 0), utc(2026, 11, 2, 8, 0)),
        (utc(2026, 11, 1, 9, 30), utc(2026, 11, 2, 8, 0)),  # the repeated 01:xx hour
        # New Year in Los Angeles is 08:00 UTC on 1 January.
        (utc(2026, 12, 31, 23, 0), utc(2027, 1, 1, 8, 0)),
    ],
)
def test_the_quota_resets_at_the_next_pacific_midnight(now: datetime, reset: datetime) -> None:
    assert next_quota_reset(now) == reset
    assert next_quota_reset(now).tzinfo is UTC
    assert now < reset <= now + timedelta(hours=25)


def test_day_lengths_across_the_clock_changes() -> None:
    def length(day: date) -> timedelta:
        start = quota_day_start(datetime(day.year, day.month, day.day, 20, tzinfo=UTC))
        return next_quota_reset(start) - start

    assert length(date(2026, 3, 8)) == timedelta(hours=23)
    assert length(date(2026, 11, 1)) == timedelta(hours=25)
    assert length(date(2026, 6, 1)) == timedelta(hours=24)


def test_the_quota_day_is_the_pacific_date() -> None:
    assert quota_day(utc(2026, 4, 16, 6, 59)) == date(2026, 4, 15)  # still the 15th in LA
    assert quota_day(utc(2026, 4, 16, 7, 0)) == date(2026, 4, 16)
    tokyo = timezone(timedelta(hours=9))
    assert quota_day(datetime(2026, 4, 16, 10, 0, tzinfo=tokyo)) == date(2026, 4, 15)
    assert quota_day_start(utc(2026, 4, 16, 12, 0)) == utc(2026, 4, 16, 7, 0)
    with pytest.raises(ValueError, match="timezone-aware"):
        quota_day(datetime(2026, 4, 16, 12, 0))  # noqa: DTZ001 - the refusal under test


def test_every_call_costs_one_unit_whatever_it_carries() -> None:
    assert quota_cost(0) == 0
    assert quota_cost(7) == 7
    assert [units_for(n) for n in (0, 1, 49, 50, 51, 100, 101, 10_000)] == [
        0, 1, 1, 1, 2, 2, 3, 200,
    ]  # fmt: skip
    assert units_for(60, batch_size=20) == 3
    assert discovery_units(50) == 2  # one playlist page, one videos.list
    assert discovery_units(120) == 6
    for function in (quota_cost, units_for, discovery_units):
        with pytest.raises(ValueError, match="cannot be negative"):
            function(-1)
    with pytest.raises(ValueError, match="1 to 50"):
        units_for(10, batch_size=51)


def test_the_meter_counts_by_pacific_day_and_starts_afresh() -> None:
    meter = QuotaMeter(daily_units=100)
    morning = utc(2026, 4, 16, 15, 0)
    for _ in range(3):
        meter.spend(morning)
    meter.refund(morning)
    state = meter.state(morning)
    assert (state.day, state.units_spent, state.units_left) == (date(2026, 4, 16), 2, 98)
    assert state.resets_at == utc(2026, 4, 17, 7, 0)
    meter.mark_exhausted(morning)
    assert meter.state(morning).exhausted
    assert meter.state(morning).units_left == 0
    just_before = utc(2026, 4, 17, 6, 59)
    assert meter.state(just_before).units_spent == 2
    after = meter.state(utc(2026, 4, 17, 7, 0))
    assert (after.day, after.units_spent, after.exhausted) == (date(2026, 4, 17), 0, False)
    meter.refund(utc(2026, 4, 17, 7, 0))
    assert meter.state(utc(2026, 4, 17, 7, 0)).units_spent == 0  # never below zero
    with pytest.raises(ValueError, match="at least 1"):
        QuotaMeter(daily_units=0)
