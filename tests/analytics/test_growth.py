"""analytics.growth: each reading's change spread over the time it covers (SPEC §9.3)."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from openpost.analytics import growth
from openpost.analytics.overview import Scope, local_day_starts
from tests.builders import add_snapshot, make_integration, make_post, make_workspace


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def days_from(first: date, count: int) -> list[date]:
    return [first + timedelta(days=i) for i in range(count)]


def every_post(workspace_id, end):  # type: ignore[no-untyped-def]
    return Scope(workspace_id=workspace_id, start=growth.EARLIEST, end=end)


def test_a_post_discovered_ten_days_late_spreads_its_first_reading(session: Session) -> None:
    ws = make_workspace(session)
    x = make_integration(session, ws, platform="twitter")
    _, (target,) = make_post(session, ws, [x], published_at=utc(2026, 4, 1))
    # First read ten days after publication, at midnight: ten whole days behind it.
    add_snapshot(session, target, utc(2026, 4, 11), impressions=1003, likes=10, comments=None)
    add_snapshot(session, target, utc(2026, 4, 11, 12), impressions=1103, likes=9, comments=None)
    session.flush()
    days = days_from(date(2026, 4, 1), 11)
    series = growth.daily_series(session, every_post(ws.id, utc(2026, 4, 12)), days, "UTC")
    impressions = series.values["impressions"]["twitter"]
    # floor(1003 * k / 10) cumulative: 100 or 101 a day, 1003 in all, then +100 measured.
    assert impressions[:10] == [100, 100, 100, 101, 100, 100, 101, 100, 100, 101]
    assert sum(impressions[:10]) == 1003
    assert impressions[10] == 100
    assert series.values["likes"]["twitter"] == [1] * 10 + [-1]
    assert series.values["comments"]["twitter"] == [None] * 11  # never reported
    assert series.estimated["twitter"] == [True] * 10 + [False]
    assert series.estimated_days == [True] * 10 + [False]
    assert series.range_growth()["impressions"] == 1103
    assert series.range_growth()["comments"] is None


def test_the_old_rule_would_have_put_it_all_on_one_day(session: Session) -> None:
    """The demo's symptom: a late first reading is not growth of the day it was read."""
    ws = make_workspace(session)
    x = make_integration(session, ws, platform="twitter")
    _, (target,) = make_post(session, ws, [x], published_at=utc(2026, 3, 2, 6))
    add_snapshot(session, target, utc(2026, 4, 1, 6), impressions=30_000, likes=300)
    session.flush()
    days = days_from(date(2026, 3, 26), 7)  # the range's last week only
    series = growth.daily_series(session, every_post(ws.id, utc(2026, 4, 2)), days, "UTC")
    # 30 days at 1,000 a day; the week shows its own part, not the 30,000.
    assert series.values["impressions"]["twitter"] == [1000, 1000, 1000, 1000, 1000, 1000, 250]
    # 300 likes: 10 a day, and the last 6 h take 3 (cumulative floor: 297 → 300).
    assert series.values["likes"]["twitter"] == [10, 10, 10, 10, 10, 10, 3]
    assert all(series.estimated_days)


def test_a_reading_within_one_day_is_measured_not_estimated(session: Session) -> None:
    ws = make_workspace(session, timezone="Europe/Berlin")
    bsky = make_integration(session, ws, platform="bluesky")
    # Published and first read at the same instant (the demo's first reading): a point.
    _, (target,) = make_post(session, ws, [bsky], published_at=utc(2026, 5, 4, 8))
    add_snapshot(session, target, utc(2026, 5, 4, 8), impressions=None, likes=0)
    add_snapshot(session, target, utc(2026, 5, 4, 8, 30), impressions=None, likes=5)
    add_snapshot(session, target, utc(2026, 5, 4, 14, 30), impressions=None, likes=9)
    # 14:30 UTC on the 4th to 14:30 UTC on the 5th crosses Berlin's midnight (22:00 UTC).
    add_snapshot(session, target, utc(2026, 5, 5, 14, 30), impressions=None, likes=33)
    session.flush()
    days = days_from(date(2026, 5, 4), 2)
    series = growth.daily_series(session, every_post(ws.id, utc(2026, 5, 6)), days, "Europe/Berlin")
    # 24 h of +24: 7.5 h before Berlin midnight (7 likes), 16.5 h after (17).
    assert series.values["likes"]["bluesky"] == [9 + 7, 17]
    assert series.values["impressions"]["bluesky"] == [None, None]
    assert series.estimated["bluesky"] == [True, True]


def test_a_day_with_only_same_day_readings_is_not_estimated(session: Session) -> None:
    ws = make_workspace(session)
    x = make_integration(session, ws, platform="twitter")
    _, (target,) = make_post(session, ws, [x], published_at=utc(2026, 5, 4, 8))
    add_snapshot(session, target, utc(2026, 5, 4, 9), impressions=100)  # 08:00-09:00
    add_snapshot(session, target, utc(2026, 5, 4, 20), impressions=150)
    session.flush()
    days = days_from(date(2026, 5, 3), 3)
    scope = every_post(ws.id, utc(2026, 5, 7))
    series = growth.daily_series(session, scope, days, "UTC")
    assert series.values["impressions"]["twitter"] == [None, 150, None]
    assert series.estimated["twitter"] == [False, False, False]
    # 20:00 to 01:00 crosses midnight: 4 h of +40 on the 4th (32), 1 h on the 5th (8).
    add_snapshot(session, target, utc(2026, 5, 5, 1), impressions=190)
    session.flush()
    series = growth.daily_series(session, scope, days, "UTC")
    assert series.values["impressions"]["twitter"] == [None, 182, 8]
    assert series.estimated["twitter"] == [False, True, True]


def test_intervals_reaching_past_the_range_keep_only_their_part(session: Session) -> None:
    ws = make_workspace(session)
    x = make_integration(session, ws, platform="twitter")
    _, (target,) = make_post(session, ws, [x], published_at=utc(2026, 6, 1))
    add_snapshot(session, target, utc(2026, 6, 1), impressions=0)
    add_snapshot(session, target, utc(2026, 6, 5), impressions=400)  # 100 a day
    session.flush()
    days = days_from(date(2026, 6, 2), 2)  # only the 2nd and 3rd
    series = growth.daily_series(session, every_post(ws.id, utc(2026, 6, 6)), days, "UTC")
    assert series.values["impressions"]["twitter"] == [100, 100]
    assert series.range_growth()["impressions"] == 200


def test_posts_published_before_the_range_count_in_an_every_post_scope(session: Session) -> None:
    ws = make_workspace(session)
    x = make_integration(session, ws, platform="twitter")
    _, (old,) = make_post(session, ws, [x], published_at=utc(2026, 1, 1))
    add_snapshot(session, old, utc(2026, 1, 1), impressions=0)
    add_snapshot(session, old, utc(2026, 6, 2, 6), impressions=50)
    add_snapshot(session, old, utc(2026, 6, 2, 7), impressions=80)
    session.flush()
    days = days_from(date(2026, 6, 2), 1)
    published_in_range = Scope(ws.id, utc(2026, 6, 2), utc(2026, 6, 3))
    assert growth.daily_series(session, published_in_range, days, "UTC").values["impressions"] == {}
    series = growth.daily_series(session, every_post(ws.id, utc(2026, 6, 3)), days, "UTC")
    # 0 → 50 over five months: the 2nd's 6 hours are 0.08 of a like, and the cumulative
    # floor gives them the last unit (49 → 50); 50 → 80 lies within the day.
    assert series.values["impressions"]["twitter"] == [1 + 30]


def test_other_workspaces_never_count(session: Session) -> None:
    ws, other = make_workspace(session), make_workspace(session)
    x_other = make_integration(session, other, platform="twitter")
    _, (target,) = make_post(session, other, [x_other], published_at=utc(2026, 6, 1))
    add_snapshot(session, target, utc(2026, 6, 2), impressions=10)
    session.flush()
    series = growth.daily_series(
        session, every_post(ws.id, utc(2026, 6, 3)), [date(2026, 6, 1)], "UTC"
    )
    assert series.platforms == []


BOUNDS = local_day_starts("Europe/Berlin", date(2026, 3, 25), date(2026, 4, 4))


@given(
    change=st.integers(min_value=-(10**12), max_value=10**12),
    start=st.integers(min_value=0, max_value=14 * 86_400_000_000),
    length=st.integers(min_value=1, max_value=14 * 86_400_000_000),
)
def test_spread_preserves_the_sum_and_the_proportion(change: int, start: int, length: int) -> None:
    origin = BOUNDS[0] - timedelta(days=2)
    a = origin + timedelta(microseconds=start)
    b = a + timedelta(microseconds=length)
    shares = growth.spread(change, a, b, BOUNDS)
    inside = sum(
        (
            max(timedelta(0), min(b, BOUNDS[i + 1]) - max(a, BOUNDS[i]))
            for i in range(len(BOUNDS) - 1)
        ),
        timedelta(0),
    )
    if a >= BOUNDS[0] and b <= BOUNDS[-1]:
        assert sum(shares.values()) == change  # the whole interval is inside: exact
    for day, share in shares.items():
        overlap = min(b, BOUNDS[day + 1]) - max(a, BOUNDS[day])
        assert abs(share - change * (overlap / (b - a))) < 2
    assert abs(sum(shares.values()) - change * (inside / (b - a))) < 2


def test_spread_over_random_cuts_adds_up() -> None:
    rng = random.Random(7)  # noqa: S311 - reproducible test data, not secrets
    for _ in range(500):
        change = rng.randint(-5000, 10**9)
        a = BOUNDS[0] + timedelta(seconds=rng.randint(0, 3 * 86400))
        b = a + timedelta(seconds=rng.randint(1, 6 * 86400))
        assert sum(growth.spread(change, a, b, BOUNDS).values()) == change
