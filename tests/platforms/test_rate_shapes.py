"""The rate and budget shapes the platforms share: windows reported as a percentage used
(Meta's usage headers), rolling windows without a reset time, app-wide windows, throttling
signalled by an error code in a 400 body, and per-day budgets in a platform's own day."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import httpx
import pytest

from openpost.platforms.base import RateWindow, windows_of
from openpost.platforms.http import error_code_in_body, usage_window
from openpost.platforms.spec import per_day_in

NOW = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)


def test_a_percentage_window_has_100_units_and_what_is_left() -> None:
    window = RateWindow.from_usage(27.4)
    assert (window.limit, window.remaining, window.spent) == (100, 72, False)
    assert window.pause_until(NOW) is None


def test_a_fully_used_percentage_window_pauses_until_access_is_regained() -> None:
    regain = NOW + timedelta(minutes=12)
    window = RateWindow.from_usage(104.0, regain_at=regain, scope="app")
    assert (window.remaining, window.spent, window.scope) == (0, True, "app")
    assert window.pause_until(NOW) == regain


def test_a_spent_rolling_window_without_reset_pauses_for_its_length() -> None:
    window = RateWindow(limit=200, remaining=0, reset_at=None, rolling=timedelta(hours=24))
    assert window.pause_until(NOW) == NOW + timedelta(hours=24)
    assert RateWindow(200, 0, None).pause_until(NOW) is None  # nothing says how long
    assert RateWindow(200, 0, NOW - timedelta(seconds=1)).pause_until(NOW) is None  # reset passed


@pytest.mark.parametrize(
    ("header", "remaining", "regain"),
    [
        ('{"call_count": 28, "total_cputime": 25, "total_time": 61}', 39, None),
        (
            '{"type": "instagram", "call_count": 100, "total_cputime": 9, "total_time": 9,'
            ' "estimated_time_to_regain_access": 15}',
            0,
            NOW + timedelta(minutes=15),
        ),
        ('{"call_count": 0}', 100, None),
    ],
)
def test_usage_headers_give_the_window_of_their_most_used_measure(
    header: str, remaining: int, regain: datetime | None
) -> None:
    window = usage_window(header, NOW, scope="app")
    assert window is not None
    assert (window.limit, window.remaining, window.reset_at, window.scope) == (
        100,
        remaining,
        regain,
        "app",
    )


@pytest.mark.parametrize(
    "header", [None, "", "not json", "[1, 2]", '{"call_count": "28"}', '{"call_count": true}']
)
def test_unreadable_usage_headers_give_no_window(header: str | None) -> None:
    assert usage_window(header, NOW) is None


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"error": {"message": "(#4) Application request limit reached", "code": 4}}', (4, None)),
        (b'{"error": {"code": 80002, "error_subcode": 2446079}}', (80002, 2446079)),
        (b'{"error": "Invalid API key"}', (None, None)),
        (b'{"error": {"code": "4"}}', (None, None)),
        (b"<html>busy</html>", (None, None)),
    ],
)
def test_error_codes_are_read_from_a_json_error_body(
    body: bytes, expected: tuple[int | None, int | None]
) -> None:
    assert error_code_in_body(httpx.Response(400, content=body)) == expected


class _OneWindow:
    def rate_window(self) -> RateWindow | None:
        return RateWindow(10, 3, None)


class _TwoWindows(_OneWindow):
    def rate_windows(self) -> list[RateWindow]:
        return [RateWindow(10, 3, None), RateWindow.from_usage(50, scope="app")]


class _NoWindow:
    def rate_window(self) -> RateWindow | None:
        return None


def test_windows_of_a_client_are_its_one_window_or_its_several() -> None:
    assert windows_of(_OneWindow()) == (RateWindow(10, 3, None),)  # type: ignore[arg-type]
    assert [w.scope for w in windows_of(_TwoWindows())] == ["credential", "app"]  # type: ignore[arg-type]
    assert windows_of(_NoWindow()) == ()  # type: ignore[arg-type]


def test_a_budget_day_in_the_platforms_own_zone() -> None:
    rule = per_day_in("America/Los_Angeles", "quota_units", lambda _settings: 100)
    # 06:59 UTC on 3 December is still 2 December in Los Angeles (PST, UTC-8).
    late = datetime(2026, 12, 3, 6, 59, tzinfo=UTC)
    assert rule.day_of(late) == date(2026, 12, 2)
    assert rule.resets_at(late) == datetime(2026, 12, 3, 8, 0, tzinfo=UTC)
    summer = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)  # PDT, UTC-7
    assert rule.resets_at(summer) == datetime(2026, 7, 2, 7, 0, tzinfo=UTC)


def test_windows_of_takes_every_window_of_one_answer_but_not_per_endpoint_maps() -> None:
    from datetime import timedelta

    from openpost.platforms.base import RateWindow, windows_of

    app = RateWindow(100, 0, None, "app", rolling=timedelta(hours=1))
    page = RateWindow(100, 40, None, "credential", rolling=timedelta(hours=24))

    class Meta:
        def rate_window(self) -> RateWindow:
            return page

        def rate_windows(self) -> list[RateWindow]:
            return [app, page]

    class PerEndpoint:  # X: the last window of each endpoint, not of one answer
        def rate_window(self) -> RateWindow:
            return page

        def rate_windows(self) -> dict[str, RateWindow]:
            return {"users": app, "tweets": page}

    class One:
        def rate_window(self) -> None:
            return None

    assert windows_of(Meta()) == (app, page)  # type: ignore[arg-type]
    assert windows_of(PerEndpoint()) == (page,)  # type: ignore[arg-type]
    assert windows_of(One()) == ()  # type: ignore[arg-type]
