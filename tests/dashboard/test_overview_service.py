"""analytics.overview: the figures behind the dashboard, checked against the API's."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from openpost.analytics import growth, overview
from tests.builders import add_snapshot, make_integration, make_key, make_post, make_workspace


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def test_local_days_follow_daylight_saving() -> None:
    starts = overview.local_day_starts("Europe/Berlin", date(2026, 3, 28), date(2026, 3, 30))
    assert starts == [
        utc(2026, 3, 27, 23),  # CET, UTC+1
        utc(2026, 3, 28, 23),
        utc(2026, 3, 29, 22),  # the 29th has 23 hours; CEST, UTC+2, from here
        utc(2026, 3, 30, 22),
    ]
    autumn = overview.local_day_starts("Europe/Berlin", date(2026, 10, 25), date(2026, 10, 25))
    assert autumn[1] - autumn[0] == timedelta(hours=25)


def _scope(workspace_id, start, end, **kw):  # type: ignore[no-untyped-def]
    return overview.Scope(workspace_id=workspace_id, start=start, end=end, **kw)


def test_daily_series_buckets_by_local_day_across_dst(session: Session) -> None:
    ws = make_workspace(session, timezone="Europe/Berlin")
    x = make_integration(session, ws, platform="twitter")
    bsky = make_integration(session, ws, platform="bluesky")
    post, (tx, tb) = make_post(session, ws, [x, bsky], published_at=utc(2026, 3, 28, 9))
    # 00:30 local on the 29th (CET) and on the 30th (CEST): a fixed UTC+1 would misfile the second.
    add_snapshot(session, tx, utc(2026, 3, 28, 23, 30), impressions=100, likes=10)
    add_snapshot(session, tx, utc(2026, 3, 29, 22, 30), impressions=160, likes=9)
    add_snapshot(session, tx, utc(2026, 3, 29, 23, 0), impressions=160, likes=9)
    add_snapshot(session, tb, utc(2026, 3, 28, 12), impressions=None, likes=4)
    add_snapshot(session, tb, utc(2026, 3, 29, 12), impressions=None, likes=4)
    session.flush()
    days = [date(2026, 3, 28), date(2026, 3, 29), date(2026, 3, 30)]
    scope = _scope(ws.id, utc(2026, 3, 27, 23), utc(2026, 3, 30, 22))
    series = growth.daily_series(session, scope, days, "Europe/Berlin")
    assert series.days == ["2026-03-28", "2026-03-29", "2026-03-30"]
    assert series.platforms == ["bluesky", "twitter"]
    # Each change is spread over its interval by local day (SPEC §9.3). X's first reading
    # covers 09:00-23:30 UTC: 14 h on the 28th, 0.5 h on the 29th (which starts at 23:00
    # UTC). Its second covers 23 h, 0.5 of them on the 30th (CEST: from 22:00 UTC): a
    # fixed UTC+1 would misfile them. The third lies within the 30th.
    assert series.values["impressions"]["twitter"] == [96, 4 + 58, 2 + 0]
    assert series.values["likes"]["twitter"] == [9, 1 - 1, 0 + 0]
    assert series.values["impressions"]["bluesky"] == [None, None, None]  # never reported
    assert series.values["likes"]["bluesky"] == [4 + 0, 0, None]  # 0 is a measured zero
    assert series.totals["likes"] == [13, 0, 0]
    assert series.totals["impressions"] == [96, 62, 2]
    assert series.estimated_days == [True, True, True]
    del post


def test_range_totals_are_the_apis_totals_summed(client: TestClient, session: Session) -> None:
    ws = make_workspace(session)
    key = make_key(session, ws)
    x = make_integration(session, ws, platform="twitter")
    bsky = make_integration(session, ws, platform="bluesky")
    now = datetime.now(UTC).replace(microsecond=0)
    p1, (t1x, t1b) = make_post(session, ws, [x, bsky], published_at=now - timedelta(days=2))
    p2, (t2x,) = make_post(session, ws, [x], published_at=now - timedelta(days=3))
    old, (t3x,) = make_post(session, ws, [x], published_at=now - timedelta(days=12))
    add_snapshot(session, t1x, now - timedelta(days=1), impressions=100, likes=5)
    add_snapshot(session, t1x, now - timedelta(hours=1), impressions=130, likes=7)
    add_snapshot(session, t1b, now - timedelta(hours=2), impressions=None, likes=3)
    add_snapshot(session, t2x, now - timedelta(hours=3), impressions=50, likes=0)
    add_snapshot(session, t3x, now - timedelta(days=9), impressions=40, likes=2)
    session.commit()

    scope = _scope(ws.id, now - timedelta(days=7), now + timedelta(seconds=1))
    result = overview.range_totals(
        session, scope, now - timedelta(days=14), now - timedelta(days=7)
    )
    api_totals, api_delta = [], []
    for post in (p1, p2):
        body = client.get(
            f"/v1/analytics/post/{post.id}", headers={"Authorization": f"Bearer {key}"}
        ).json()["data"]
        api_totals.append(body["totals"])
        api_delta.append(body["delta"])
    for metric in ("impressions", "likes", "comments", "shares"):
        assert result.totals[metric] == sum(t[metric] for t in api_totals if t[metric] is not None)
        assert result.since_previous_reading[metric] == sum(
            d[metric] for d in api_delta if d[metric] is not None
        )
    assert result.totals["impressions"] == 180
    assert result.since_previous_reading["impressions"] == 30 + 50
    assert result.previous_period["impressions"] == 40
    assert result.change["impressions"] == 140
    assert result.change_percent["impressions"] == 350.0
    assert result.reporting["impressions"] == 2  # bluesky does not report impressions
    assert (result.posts, result.targets, result.previous_posts) == (2, 3, 1)

    only_bluesky = overview.range_totals(
        session,
        _scope(ws.id, scope.start, scope.end, platform="bluesky"),
        now - timedelta(days=14),
        now - timedelta(days=7),
    )
    assert only_bluesky.totals["impressions"] is None  # "—", never 0
    assert only_bluesky.change["impressions"] is None
    del old


def test_posts_page_sorts_filters_and_pages(session: Session) -> None:
    ws = make_workspace(session)
    x = make_integration(session, ws, platform="twitter")
    bsky = make_integration(session, ws, platform="bluesky")
    now = datetime.now(UTC).replace(microsecond=0)
    posts = {}
    for name, integration, impressions, hours in (
        ("alpha", x, 300, 1),
        ("beta", x, 900, 2),
        ("gamma", bsky, None, 3),
        ("delta 100%_", x, 10, 4),
    ):
        post, (target,) = make_post(
            session, ws, [integration], content=name, published_at=now - timedelta(hours=hours)
        )
        add_snapshot(session, target, now - timedelta(minutes=10), impressions=impressions)
        posts[name] = post.id
    session.flush()
    scope = _scope(ws.id, now - timedelta(days=1), now + timedelta(seconds=1))

    def names(**kw):  # type: ignore[no-untyped-def]
        page = overview.posts_page(session, scope, **kw)
        return [row.content for row in page.rows]

    assert names() == ["alpha", "beta", "gamma", "delta 100%_"]  # newest published first
    assert names(sort="impressions") == ["beta", "alpha", "delta 100%_", "gamma"]
    assert names(sort="impressions", descending=False) == ["delta 100%_", "alpha", "beta", "gamma"]
    assert names(sort="impressions", per_page=2, page=2) == ["delta 100%_", "gamma"]
    assert names(search="100%") == ["delta 100%_"]  # LIKE wildcards are literal
    assert names(search="ALPHA") == ["alpha"]
    page = overview.posts_page(session, _scope(ws.id, scope.start, scope.end, platform="bluesky"))
    assert [row.content for row in page.rows] == ["gamma"]
    assert page.total == 1
    assert page.rows[0].totals["impressions"] is None
    assert overview.posts_page(session, scope, per_page=3).pages == 2
