"""Rate windows as the shared rate state records them: the tightest window of the credential
used, a spent window of the whole app pausing the platform, and rolling windows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from openpost.platforms.base import RateWindow
from openpost.refresh import ratestate

NOW = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
OWNER = "instagram:user:0b6c"  # an owner's token: one account


def paused(session: Session, platform: str, key: str, now: datetime) -> ratestate.Pause | None:
    return ratestate.active_pause(session, platform, key, ratestate.METRICS, now)


def test_the_tightest_window_of_the_credential_is_kept(session: Session) -> None:
    windows = [RateWindow(200, 150, None), RateWindow(100, 4, NOW + timedelta(hours=1))]
    ratestate.record_success(session, "instagram", OWNER, ratestate.METRICS, windows, NOW)
    row = ratestate.states(session, [ratestate.endpoint_key(OWNER, ratestate.METRICS)])
    kept = row[ratestate.endpoint_key(OWNER, ratestate.METRICS)]
    assert (kept.rate_limit, kept.rate_remaining) == (100, 4)
    assert ratestate.active_pause(session, "instagram", OWNER, ratestate.METRICS, NOW) is None


def test_a_spent_app_window_pauses_every_credential_of_the_platform(session: Session) -> None:
    regain = NOW + timedelta(minutes=20)
    windows = [RateWindow(100, 40, None), RateWindow.from_usage(100, regain_at=regain, scope="app")]
    ratestate.record_success(session, "instagram", OWNER, ratestate.METRICS, windows, NOW)
    other_account = "instagram:user:9f1e"
    pause = ratestate.active_pause(session, "instagram", other_account, ratestate.METRICS, NOW)
    assert pause is not None
    assert (pause.until, pause.reason) == (regain, ratestate.RATE_WINDOW_SPENT)
    # Another platform is not held.
    assert (
        ratestate.active_pause(session, "threads", "threads:user:1", ratestate.METRICS, NOW) is None
    )
    # After access is regained, a successful call ends the pause.
    later = regain + timedelta(seconds=1)
    ratestate.record_success(
        session, "instagram", OWNER, ratestate.METRICS, RateWindow.from_usage(3, scope="app"), later
    )
    assert (
        ratestate.active_pause(session, "instagram", other_account, ratestate.METRICS, later)
        is None
    )


def test_an_app_window_not_spent_pauses_nothing(session: Session) -> None:
    window = RateWindow.from_usage(95, scope="app")
    ratestate.record_success(session, "facebook", "facebook:user:1", ratestate.METRICS, window, NOW)
    assert (
        ratestate.active_pause(session, "facebook", "facebook:user:2", ratestate.METRICS, NOW)
        is None
    )


def test_a_spent_rolling_window_pauses_the_credential_for_its_length(session: Session) -> None:
    window = RateWindow(limit=4800, remaining=0, reset_at=None, rolling=timedelta(hours=24))
    ratestate.record_success(session, "threads", "threads:user:7", ratestate.METRICS, window, NOW)
    pause = ratestate.active_pause(session, "threads", "threads:user:7", ratestate.METRICS, NOW)
    assert pause is not None
    assert pause.until == NOW + timedelta(hours=24)
