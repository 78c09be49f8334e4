"""The rate windows the fakes share, checked directly where a fake's own tests would not
notice a slip: a window starting on the second or to the microsecond, closing some only."""

from __future__ import annotations

from datetime import timedelta

from openpost.platforms.fakes.base import RateWindows
from tests.platforms.support import NOW

LATE = NOW + timedelta(milliseconds=700)


def test_a_whole_second_window_resets_on_the_second_it_started_in() -> None:
    windows = RateWindows[str](timedelta(seconds=10), whole_seconds=True)
    first, allowed = windows.spend("a", 1, LATE)
    assert (first.reset, first.reset_epoch, allowed) == (
        NOW + timedelta(seconds=10),
        int(NOW.timestamp()) + 10,
        True,
    )
    assert windows.spend("a", 1, NOW + timedelta(seconds=9, milliseconds=999))[1] is False
    renewed, allowed = windows.spend("a", 1, NOW + timedelta(seconds=10))
    assert (renewed.remaining, allowed) == (0, True)


def test_an_exact_window_resets_to_the_microsecond() -> None:
    windows = RateWindows[None](timedelta(seconds=10))
    assert windows.spend(None, 1, LATE)[0].reset == LATE + timedelta(seconds=10)
    assert windows.spend(None, 1, NOW + timedelta(seconds=10))[1] is False
    assert windows.spend(None, 1, LATE + timedelta(seconds=10))[1] is True


def test_forget_closes_only_the_windows_picked_and_the_new_limit_applies() -> None:
    windows = RateWindows[tuple[str, str]](timedelta(minutes=15))
    for key in [("lookup", "app"), ("lookup", "user:1"), ("timeline", "app")]:
        windows.spend(key, 2, NOW)
    windows.forget(lambda key: key[0] == "lookup")
    assert windows.spend(("lookup", "app"), 5, NOW)[0].remaining == 4
    assert windows.spend(("lookup", "user:1"), 5, NOW)[0].remaining == 4
    kept, allowed = windows.spend(("timeline", "app"), 5, NOW)
    assert (kept.limit, kept.remaining, allowed) == (2, 0, True)  # still the old window
    windows.forget()
    assert windows.spend(("timeline", "app"), 3, NOW)[0].remaining == 2
