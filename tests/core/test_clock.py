"""``clock.now()``: timezone-aware UTC to the second, swappable for tests and ``--now``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest

from openpost.core import clock


@pytest.fixture
def restore_clock() -> Iterator[None]:
    yield
    clock.set_clock(None)


def test_now_is_aware_utc_to_the_second() -> None:
    before = datetime.now(UTC) - timedelta(seconds=1)
    now = clock.now()
    assert now.tzinfo is not None
    assert now.utcoffset() == timedelta(0)
    assert now.microsecond == 0
    assert before <= now <= datetime.now(UTC)


def test_a_swapped_clock_is_normalised(restore_clock: None) -> None:
    clock.set_clock(
        lambda: datetime(2026, 4, 16, 12, 0, 0, 999_999, tzinfo=timezone(timedelta(hours=2)))
    )
    assert clock.now() == datetime(2026, 4, 16, 10, 0, 0, tzinfo=UTC)
    assert clock.now().tzinfo == UTC


def test_set_clock_none_restores_the_real_clock(restore_clock: None) -> None:
    clock.set_clock(lambda: datetime(2000, 1, 1, tzinfo=UTC))
    assert clock.now().year == 2000
    clock.set_clock(None)
    assert abs(clock.now() - datetime.now(UTC)) < timedelta(seconds=2)
