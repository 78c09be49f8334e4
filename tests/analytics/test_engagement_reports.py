"""The tag report and the posting-time view on hand-made data: medians, sample sizes,
null vs 0, the reading nearest to 24 h, the workspace's local weekday and hour."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from openpost.analytics import engagement_reports as reports
from openpost.analytics.overview import Scope
from tests import builders

NOW = datetime(2026, 4, 16, 10, 0, tzinfo=UTC)  # a Thursday


def scope_of(workspace_id: object, days: int = 60, **kw: object) -> Scope:
    return Scope(workspace_id=workspace_id, start=NOW - timedelta(days=days), end=NOW, **kw)  # type: ignore[arg-type]


def test_tag_report_medians_totals_and_rates(session: Session) -> None:
    workspace = builders.make_workspace(session)
    x = builders.make_integration(session, workspace, platform="twitter")
    sky = builders.make_integration(session, workspace, platform="bluesky")
    published = NOW - timedelta(days=3)

    def post(tags: list[str], *readings: tuple[int, dict[str, int | None]]) -> None:
        _, targets = builders.make_post(
            session, workspace, [x, sky], published_at=published, tags=tags
        )
        for index, counters in readings:
            builders.add_snapshot(session, targets[index], NOW - timedelta(hours=1), **counters)

    # launch: 3 posts (engagements 12, 40+9=49, and one without counters)
    post(["launch", "tips"], (0, {"impressions": 400, "likes": 10, "comments": 2, "shares": 0}))
    post(
        ["launch"],
        (0, {"impressions": 1000, "likes": 30, "comments": 5, "shares": 5}),
        (1, {"impressions": None, "likes": 9, "comments": 0, "shares": None}),
    )
    post(["launch"], (0, {"impressions": 50, "likes": None, "comments": None, "shares": None}))
    post([], (1, {"impressions": None, "likes": 0, "comments": 0, "shares": 0}))  # measured 0
    session.flush()

    report = reports.tag_report(session, scope_of(workspace.id))
    assert report.posts == 4
    by_tag = {row.tag: row for row in report.tags}
    assert [row.tag for row in report.tags] == ["launch", "tips"]  # most posts first
    launch = by_tag["launch"]
    assert (launch.posts, launch.reporting) == (3, 2)
    assert launch.total_engagements == 61
    assert launch.median_engagements == 30.5  # median of 12 and 49; the null post left out
    # Σ engagements ÷ Σ impressions over targets reporting both: (12 + 40) / (400 + 1000)
    assert launch.engagement_rate == round(52 / 1400, 6)
    assert launch.impressions == 1400
    tips = by_tag["tips"]
    assert (tips.posts, tips.total_engagements, tips.median_engagements) == (1, 12, 12.0)
    assert tips.engagement_rate == 0.03
    untagged = report.untagged
    assert untagged is not None
    assert (untagged.posts, untagged.total_engagements, untagged.median_engagements) == (1, 0, 0.0)
    assert untagged.engagement_rate is None  # Bluesky reports no views
    # the platform filter narrows the targets: only X's counters remain
    only_x = reports.tag_report(session, scope_of(workspace.id, platform="twitter"))
    assert {r.tag: r.total_engagements for r in only_x.tags} == {"launch": 52, "tips": 12}
    assert reports.tag_report(session, scope_of(workspace.id, days=1)).tags == []


def test_posting_times_compares_posts_at_24_hours(session: Session) -> None:
    workspace = builders.make_workspace(session, timezone="Europe/Berlin")
    x = builders.make_integration(session, workspace, platform="twitter")
    # Mondays at 09:15 in Berlin, six weeks running: across the change to summer time
    # (2026-03-29), so the UTC hour differs (08:15, then 07:15) and the local hour does not.
    berlin = ZoneInfo("Europe/Berlin")
    mondays = [datetime(2026, 3, 30, 9, 15, tzinfo=berlin) - timedelta(weeks=w) for w in range(6)]
    assert {m.astimezone(UTC).hour for m in mondays} == {7, 8}
    for week, when in enumerate(mondays):
        _, (target,) = builders.make_post(session, workspace, [x], published_at=when)
        early = {"impressions": 10, "likes": 1, "comments": 0, "shares": 0}
        builders.add_snapshot(session, target, when + timedelta(hours=20), **early)
        # nearest to 24 h: 25 h, engagements 10 * (week + 1)
        at_age = {"impressions": 100, "likes": 10 * (week + 1), "comments": 0, "shares": 0}
        builders.add_snapshot(session, target, when + timedelta(hours=25), **at_age)
        late = {"impressions": 900, "likes": 500, "comments": 0, "shares": 0}
        builders.add_snapshot(session, target, when + timedelta(hours=40), **late)  # outside
    # three posts on Tuesdays at 14:xx local: too few to show
    for week in range(3):
        when = datetime(2026, 4, 14, 14, 5, tzinfo=berlin) - timedelta(weeks=week)
        _, (target,) = builders.make_post(session, workspace, [x], published_at=when)
        builders.add_snapshot(session, target, when + timedelta(hours=23), likes=3)
    # read only at 3 days: no reading near 24 h, so not measured
    when = datetime(2026, 4, 1, 8, 0, tzinfo=UTC)
    _, (target,) = builders.make_post(session, workspace, [x], published_at=when)
    builders.add_snapshot(session, target, when + timedelta(days=3), likes=99)
    session.flush()

    times = reports.posting_times(session, scope_of(workspace.id), "Europe/Berlin")
    assert (times.posts, times.measured) == (10, 9)
    monday = times.cells[0][9]
    assert (monday.posts, monday.too_few) == (6, False)
    assert monday.median_engagements == 35.0  # median of 10, 20, …, 60 (the 25 h readings)
    tuesday = times.cells[1][14]
    assert (tuesday.posts, tuesday.too_few, tuesday.median_engagements) == (3, True, None)
    assert times.weekdays[1].too_few
    assert times.hours[9].posts == 6
    # 14:00 Berlin holds the three Tuesdays; every other cell is empty
    filled = {(d, h) for d, row in enumerate(times.cells) for h, c in enumerate(row) if c.posts}
    assert filled == {(0, 9), (1, 14)}
    body = times.as_json()
    assert body["min_posts"] == reports.MIN_POSTS
    assert {c["weekday"] for c in body["cells"]} == {"Monday", "Tuesday"}
    # a lower threshold shows the Tuesdays: each post's only reading, at 23 h
    low = reports.posting_times(session, scope_of(workspace.id), "Europe/Berlin", min_posts=3)
    assert low.cells[1][14].median_engagements == 4.0  # likes 3 + comments 1 (builder default)


def test_posting_times_sums_targets_and_keeps_nulls_out(session: Session) -> None:
    workspace = builders.make_workspace(session)
    x = builders.make_integration(session, workspace, platform="twitter")
    sky = builders.make_integration(session, workspace, platform="bluesky")
    when = datetime(2026, 4, 6, 18, 30, tzinfo=UTC)  # Monday 18:xx UTC
    _, (tx, ts) = builders.make_post(session, workspace, [x, sky], published_at=when)
    builders.add_snapshot(session, tx, when + timedelta(hours=24), likes=5, comments=0, shares=0)
    builders.add_snapshot(session, ts, when + timedelta(hours=30), likes=2, comments=1, shares=None)
    _, (only_views,) = builders.make_post(session, workspace, [x], published_at=when)
    builders.add_snapshot(
        session,
        only_views,
        when + timedelta(hours=24),
        impressions=10,
        likes=None,
        comments=None,
        shares=None,
    )
    session.flush()
    times = reports.posting_times(session, scope_of(workspace.id), "UTC", min_posts=1)
    cell = times.cells[0][18]
    assert cell.posts == 1  # the post reporting no engagement counters is not a zero
    assert cell.median_engagements == 8.0  # 5 on X + 3 on Bluesky
    assert times.measured == 1
    assert times.posts == 2


def test_reading_at_age_is_the_nearest_in_the_band_on_random_data(session: Session) -> None:
    """The two index probes (last before 24 h, first from 24 h) give what the definition
    gives over every reading: the one nearest to 24 h within ±12 h, ties to the earlier."""
    rng = random.Random(20261204)  # noqa: S311 - test data, not secrets
    workspace = builders.make_workspace(session)
    x = builders.make_integration(session, workspace, platform="twitter")
    expected: dict[uuid.UUID, int | None] = {}
    for n in range(40):
        published = NOW - timedelta(days=5, minutes=n * 17)
        post, (target,) = builders.make_post(session, workspace, [x], published_at=published)
        offsets = rng.sample(range(-16 * 60, 16 * 60 + 1, 30), rng.randint(0, 6))
        if n % 5 == 0:  # a tie: as far before 24 h as after it
            offsets += [-90, 90]
        if n % 7 == 0:  # the band's edges count
            offsets = [-12 * 60, 12 * 60 + 30]
        readings = []
        for offset in set(offsets):
            at = published + timedelta(hours=24, minutes=offset)
            likes = rng.randint(0, 50)
            builders.add_snapshot(session, target, at, likes=likes, comments=1, shares=0)
            readings.append((abs(offset), at, likes + 1))
        band = [r for r in readings if r[0] <= 12 * 60]
        if band:
            expected[post.id] = min(band)[2]
    session.flush()

    measured = reports.engagement_at_age(reports.readings_at_age(session, scope_of(workspace.id)))
    assert {uuid.UUID(str(post)): value for post, (_, value) in measured.items()} == expected
    assert len(expected) > 20
