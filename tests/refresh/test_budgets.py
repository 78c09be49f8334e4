"""Daily budgets per platform: X's posts per UTC day, YouTube's quota units per Pacific day,
charged by the planner and by discovery, honoured by both, shown by the status."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from openpost.config import Settings
from openpost.core.db import make_sessionmaker
from openpost.integrations.models import Integration
from openpost.platforms.youtube.fake import DEFAULT_API_KEY, FakeChannel, FakeYouTube
from openpost.refresh import discovery, planner, ratestate, runner, service
from openpost.refresh.budgets import DailyBudget, budget_for
from openpost.refresh.models import PlatformState
from openpost.refresh.runner import Runtime
from tests import builders
from tests.refresh.conftest import NOW, Clock, track

H = timedelta(hours=1)
# NOW is 2026-04-16 10:00 UTC = 03:00 in Los Angeles (PDT): YouTube's quota day is the 16th
# and comes back at 07:00 UTC on the 17th.
PACIFIC_MIDNIGHT = datetime(2026, 4, 17, 7, 0, tzinfo=UTC)

X = DailyBudget.of("twitter", 3)
YOUTUBE = DailyBudget.of("youtube", 10_000)


@pytest.mark.parametrize(
    ("budget", "at", "day", "resets"),
    [
        (X, NOW, date(2026, 4, 16), datetime(2026, 4, 17, tzinfo=UTC)),
        (YOUTUBE, NOW, date(2026, 4, 16), PACIFIC_MIDNIGHT),
        # 06:59 UTC is still the 16th in Los Angeles; 07:00 is the 17th (PDT).
        (YOUTUBE, datetime(2026, 4, 17, 6, 59, tzinfo=UTC), date(2026, 4, 16), PACIFIC_MIDNIGHT),
        (YOUTUBE, PACIFIC_MIDNIGHT, date(2026, 4, 17), datetime(2026, 4, 18, 7, tzinfo=UTC)),
        # Winter (PST): midnight is 08:00 UTC.
        (
            YOUTUBE,
            datetime(2026, 11, 26, 7, 59, tzinfo=UTC),
            date(2026, 11, 25),
            datetime(2026, 11, 26, 8, tzinfo=UTC),
        ),
    ],
)
def test_budget_days(budget: DailyBudget, at: datetime, day: date, resets: datetime) -> None:
    assert budget.day(at) == day
    assert budget.resets_at(at) == resets


def test_x_bills_posts_once_a_day_and_youtube_bills_calls() -> None:
    read_today, read_yesterday = NOW - H, NOW - 11 * H
    assert [X.billable(t, NOW) for t in (None, read_today, read_yesterday)] == [True, False, True]
    assert (X.cost(120, 100), X.capacity(7, 100)) == (120, 7)
    assert all(YOUTUBE.billable(t, NOW) for t in (None, read_today, read_yesterday))
    assert [YOUTUBE.cost(n, 50) for n in (0, 1, 50, 51, 120)] == [0, 1, 1, 2, 3]
    assert YOUTUBE.capacity(3, 50) == 150
    assert (X.discovery_cost(posts=50, calls=1), YOUTUBE.discovery_cost(posts=50, calls=2)) == (
        50,
        2,
    )
    assert (X.discovery_reserve(50), YOUTUBE.discovery_reserve(50)) == (1, 2)


def test_budget_for_reads_the_settings(settings: Settings) -> None:
    tuned = settings.model_copy(
        update={"x_daily_read_budget": 500, "youtube_daily_quota_units": 2000}
    )
    assert budget_for(tuned, "twitter") == DailyBudget.of("twitter", 500)
    assert budget_for(tuned, "youtube") == DailyBudget.of("youtube", 2000)
    assert not budget_for(tuned, "bluesky").limited


@pytest.fixture
def youtube() -> FakeYouTube:
    return FakeYouTube()


def _runtime(settings: Settings, engine: Engine, fake: FakeYouTube, units: int) -> Runtime:
    tuned = settings.model_copy(
        update={
            "youtube_api_key": DEFAULT_API_KEY,
            "youtube_api_base_url": "http://youtube.test/youtube/v3",
            "youtube_daily_quota_units": units,
        }
    )
    return Runtime.from_settings(
        tuned, factory=make_sessionmaker(engine), transports={"youtube": fake.transport()}
    )


@pytest.fixture
def small_quota(
    collect_settings: Settings, engine: Engine, youtube: FakeYouTube, now: Clock
) -> Iterator[Runtime]:
    made = _runtime(collect_settings, engine, youtube, units=2)
    yield made
    made.close()


def _channel(session: Session, youtube: FakeYouTube) -> tuple[FakeChannel, Integration]:
    channel = youtube.add_channel("openpost", title="OpenPost")
    workspace = builders.make_workspace(session)
    found = builders.make_integration(
        session,
        workspace,
        platform="youtube",
        username="@openpost",
        external_account_id=channel.id,
    )
    return channel, found


def test_planner_spends_youtube_units_per_batch_freshest_first(
    session: Session, small_quota: Runtime, youtube: FakeYouTube
) -> None:
    _, channel = _channel(session, youtube)
    # 130 videos read before, all due: 2 units pay for 2 calls of 50 videos.
    ages = [timedelta(hours=2 + n) for n in range(130)]  # newest (freshest tier) first
    made = [
        track(
            session,
            channel,
            f"video{n:07d}",
            published_at=NOW - age,
            last_attempt_at=NOW - H,
            last_success_at=NOW - H,
        ).id
        for n, age in enumerate(ages)
    ]
    session.flush()

    result = planner.plan(
        session, small_quota.settings, small_quota.policy, small_quota.clients, NOW
    )
    chosen = [t.target_id for t in result.chosen["youtube"]]
    assert set(chosen) == set(made[:100])  # fresh (< 24 h) before recent, then newest
    assert result.over_budget == {"youtube": 30}
    assert result.spend == {"youtube": 2}
    batches = planner.claim(session, result, lease_until=NOW + H)
    assert [len(b.targets) for b in batches] == [50, 50]
    row = session.get(PlatformState, "youtube", populate_existing=True)
    assert row is not None
    assert (row.budget_day, row.reads_today) == ("2026-04-16", 2)

    # The rest waits for the quota to come back at Pacific midnight, not UTC midnight.
    def plan_at(at: datetime) -> planner.Plan:
        return planner.plan(
            session, small_quota.settings, small_quota.policy, small_quota.clients, at
        )

    later = plan_at(NOW + H / 2)  # the claimed 100 are leased for an hour
    assert (later.chosen, later.over_budget) == ({}, {"youtube": 30})
    utc_midnight = plan_at(datetime(2026, 4, 17, tzinfo=UTC))  # lease over: all 130 due
    assert (utc_midnight.chosen, utc_midnight.over_budget) == ({}, {"youtube": 130})
    after_reset = plan_at(PACIFIC_MIDNIGHT)
    assert (after_reset.spend, after_reset.over_budget) == ({"youtube": 2}, {"youtube": 30})


def test_units_counted_match_what_youtube_charged(
    session: Session,
    collect_settings: Settings,
    engine: Engine,
    youtube: FakeYouTube,
    now: Clock,
) -> None:
    channel, _ = _channel(session, youtube)
    for n in range(120):
        youtube.add_video(channel, published_at=NOW - timedelta(hours=1 + n), views=n)
    session.commit()
    rt = _runtime(collect_settings, engine, youtube, units=10_000)
    try:
        first = runner.sweep(rt, NOW)
        assert first.discovered == 50  # the newest 50: one playlist page + one videos call
        for _ in range(4):  # every 30 min, the fresh ones are read again
            now.advance(timedelta(minutes=31))
            runner.sweep(rt, now.at)
        row = session.get(PlatformState, "youtube", populate_existing=True)
        assert row is not None
        assert youtube.quota_used > 2
        assert row.reads_today == youtube.quota_used  # our count is Google's count
        status = service.collection_status(session, rt.settings, _workspace_of(session), now=now.at)
        (platform,) = status["platforms"]
        assert platform["daily_budget"] == {
            "unit": "quota_units",
            "day": "2026-04-16",
            "limit": 10_000,
            "spent": youtube.quota_used,
            "left": 10_000 - youtube.quota_used,
            "resets_at": "2026-04-17T07:00:00Z",
        }
    finally:
        rt.close()


def _workspace_of(session: Session) -> uuid.UUID:
    integration = session.query(Integration).filter_by(platform="youtube").one()
    return integration.workspace_id


def test_a_spent_quota_holds_discovery_until_the_pacific_reset(
    session: Session, small_quota: Runtime, youtube: FakeYouTube, now: Clock
) -> None:
    channel, _ = _channel(session, youtube)
    for n in range(3):
        youtube.add_video(channel, published_at=NOW - timedelta(hours=1 + n))
    session.add(PlatformState(key="youtube", budget_day="2026-04-16", reads_today=1))
    session.commit()

    # One unit left: a discovery needs two (a playlist page and a statistics call).
    assert runner.plan_discoveries(small_quota, NOW) == []
    assert youtube.calls() == []
    now.at = PACIFIC_MIDNIGHT
    jobs = runner.plan_discoveries(small_quota, now.at)
    assert len(jobs) == 1
    result = discovery.run(small_quota.factory, small_quota.clients, small_quota.policy, jobs[0])
    assert result.discovered == 3
    row = session.get(PlatformState, "youtube", populate_existing=True)
    assert row is not None
    assert (row.budget_day, row.reads_today) == ("2026-04-17", 2)
    assert len(youtube.calls()) == 2  # what Google charged: a playlist page, a videos call
    assert ratestate.reads_left(row, budget_for(small_quota.settings, "youtube"), now.at) == 0


def test_x_discovery_waits_for_a_spent_read_budget(
    session: Session, collect_settings: Settings, engine: Engine, now: Clock
) -> None:
    from openpost.platforms.x.fake import FakeX, seed
    from tests.refresh.conftest import make_runtime, x_integration

    fake = FakeX()
    account = seed(fake, posts=5)
    rt = make_runtime(collect_settings.model_copy(update={"x_daily_read_budget": 10}), engine, fake)
    x_integration(session, builders.make_workspace(session), account)
    session.add(PlatformState(key="twitter", budget_day="2026-04-16", reads_today=10))
    session.commit()
    assert runner.plan_discoveries(rt, NOW) == []
    assert runner.plan_discoveries(rt, datetime(2026, 4, 17, tzinfo=UTC)) != []
