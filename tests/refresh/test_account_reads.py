"""Account reads on the collection path (SPEC §9.4): read at connect, then daily, in batches
of the platform's account endpoint (N accounts: ⌈N/batch⌉ requests, counted on the fakes),
through the same rate windows and budgets as post reads, never for paused or
needs_refresh integrations."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from openpost.accounts.models import AccountReadState, AccountSnapshot
from openpost.config import Settings
from openpost.core.db import make_sessionmaker
from openpost.integrations.models import Integration
from openpost.platforms.bluesky.fake import FakeBluesky
from openpost.platforms.mastodon.fake import FakeMastodon
from openpost.platforms.x.fake import FakeX
from openpost.platforms.youtube.fake import DEFAULT_API_KEY, FakeYouTube
from openpost.refresh import account_capture, ratestate, runner
from openpost.refresh.models import PlatformState
from openpost.refresh.runner import Runtime
from openpost.workspaces.models import Workspace
from tests import builders
from tests.refresh.conftest import Clock, make_runtime, no_discovery_today, x_integration
from tests.refresh.test_user_tokens import CLIENT_ID, SECRET, connect


def _snapshots(session: Session, integration: Integration) -> list[AccountSnapshot]:
    session.expire_all()
    return list(
        session.scalars(
            select(AccountSnapshot)
            .where(AccountSnapshot.integration_id == integration.id)
            .order_by(AccountSnapshot.captured_at)
        )
    )


def _x_accounts(session: Session, fake_x: FakeX, n: int, **fields: object) -> list[Integration]:
    workspace = builders.make_workspace(session)
    made = []
    for i in range(n):
        account = fake_x.add_account(f"acct{i}")
        fake_x.set_account_counts(
            account, followers_count=100 + i, following_count=i, tweet_count=7 * i
        )
        integration = x_integration(session, workspace, account, **fields)
        no_discovery_today(session, integration, account_read=True)
        made.append(integration)
    session.commit()
    return made


def _users_calls(fake_x: FakeX) -> int:
    return sum(1 for r in fake_x.requests if r.endpoint == "users_lookup")


@pytest.mark.parametrize("n", [1, 100, 101, 250])
def test_n_x_accounts_cost_ceil_n_over_100_requests(
    session: Session, fake_x: FakeX, rt: Runtime, now: Clock, n: int
) -> None:
    made = _x_accounts(session, fake_x, n)
    summary = runner.sweep(rt, now())
    assert _users_calls(fake_x) == math.ceil(n / 100)
    assert summary.account_requests == math.ceil(n / 100)
    assert summary.account_snapshots == n
    first = _snapshots(session, made[-1])
    assert [(s.followers, s.following, s.posts) for s in first] == [
        (100 + n - 1, n - 1, 7 * (n - 1))
    ]
    assert first[0].platform_data["followers_count"] == 100 + n - 1


def test_read_at_connect_then_daily_not_twice_a_day(
    session: Session, fake_x: FakeX, rt: Runtime, now: Clock
) -> None:
    (integration,) = _x_accounts(session, fake_x, 1)
    runner.sweep(rt, now())
    now.advance(timedelta(hours=6))
    runner.sweep(rt, now())
    assert len(_snapshots(session, integration)) == 1
    assert _users_calls(fake_x) == 1
    now.advance(timedelta(hours=19))
    fake_x.set_account_counts(fake_x.accounts[integration.external_account_id], followers_count=90)
    runner.sweep(rt, now())
    assert [s.followers for s in _snapshots(session, integration)] == [100, 90]


def test_paused_and_needs_refresh_integrations_are_not_read(
    session: Session, fake_x: FakeX, rt: Runtime, now: Clock
) -> None:
    off, refused, on = _x_accounts(session, fake_x, 3)
    off.analytics_enabled = False
    refused.status = "needs_refresh"
    session.commit()
    runner.sweep(rt, now())
    assert _users_calls(fake_x) == 1
    ids = fake_x.requests[-1].params["ids"].split(",")
    assert ids == [on.external_account_id]
    assert _snapshots(session, off) == []
    assert _snapshots(session, refused) == []


def test_an_unknown_account_is_not_found_and_writes_nothing(
    session: Session, fake_x: FakeX, rt: Runtime, now: Clock
) -> None:
    (real,) = _x_accounts(session, fake_x, 1)
    workspace = session.get(Workspace, real.workspace_id)
    assert workspace is not None
    ghost = builders.make_integration(
        session, workspace, platform="twitter", username="ghost", external_account_id="999"
    )
    no_discovery_today(session, ghost, account_read=True)
    session.commit()
    runner.sweep(rt, now())
    assert _users_calls(fake_x) == 1
    assert _snapshots(session, ghost) == []
    state = session.get(AccountReadState, ghost.id)
    assert state is not None
    assert state.outcome == "not_found"
    assert len(_snapshots(session, real)) == 1


def test_a_spent_rate_window_pauses_account_reads_until_its_reset(
    session: Session, fake_x: FakeX, rt: Runtime, now: Clock
) -> None:
    made = _x_accounts(session, fake_x, 3)
    fake_x.set_rate_limit("users_lookup", 0)
    runner.sweep(rt, now())
    assert _users_calls(fake_x) == 1  # refused with 429: the key pauses
    row = session.get(PlatformState, ratestate.endpoint_key("twitter", "accounts"))
    assert row is not None
    assert row.paused_until is not None
    before = len(fake_x.requests)
    runner.sweep(rt, now())
    assert len([r for r in fake_x.requests[before:] if r.endpoint == "users_lookup"]) == 0
    assert all(_snapshots(session, i) == [] for i in made)


def test_account_reads_count_against_the_daily_budget(
    collect_settings: Settings, engine: Engine, session: Session, fake_x: FakeX, now: Clock
) -> None:
    """X bills each resource read: an account read is one unit of the post budget, and a
    spent budget holds account reads back."""
    settings = collect_settings.model_copy(update={"x_daily_read_budget": 2})
    rt = make_runtime(settings, engine, fake_x)
    _x_accounts(session, fake_x, 3)
    summary = runner.sweep(rt, now())
    assert summary.account_snapshots == 2
    row = session.get(PlatformState, "twitter")
    assert row is not None
    assert row.reads_today == 2
    session.expire_all()
    due = session.scalar(
        select(func.count())
        .select_from(AccountReadState)
        .where(AccountReadState.next_due_at <= now())
    )
    assert due == 1


def test_synthetic_accounts_have_deterministic_plausible_curves(
    session: Session, rt: Runtime, now: Clock
) -> None:
    workspace = builders.make_workspace(session, mode="test")
    made = []
    for platform in ("twitter", "bluesky", "youtube", "mastodon"):
        integration = builders.make_integration(
            session, workspace, platform=platform, synthetic=True
        )
        no_discovery_today(session, integration, account_read=True)
        made.append(integration)
    session.commit()
    for _ in range(3):
        runner.sweep(rt, now())
        now.advance(timedelta(days=1))
    for integration in made:
        followers = [s.followers for s in _snapshots(session, integration)]
        assert len(followers) == 3
        assert all(f is not None and f > 0 for f in followers)
        assert followers[2] >= followers[0] * 0.98  # growing, give or take a bad day
    youtube = _snapshots(session, made[2])
    assert all(s.following is None for s in youtube)  # YouTube reports none: null, not 0


# ---- the open platforms: batches of their account endpoints ------------------------------

OPEN_SETTINGS = {
    "bluesky_api_base_url": "http://bsky.test",
    "mastodon_api_base_url": "http://127.0.0.1:8083",
    "mastodon_allow_private_addresses": True,
    "youtube_api_base_url": "http://youtube.test/youtube/v3",
    "youtube_api_key": DEFAULT_API_KEY,
}


def _open_runtime(settings: Settings, engine: Engine, platform: str, fake: object) -> Runtime:
    made = Runtime.from_settings(
        settings.model_copy(update=OPEN_SETTINGS),
        factory=make_sessionmaker(engine),
        transports={platform: fake.transport()},  # type: ignore[attr-defined]
    )
    _opened.append(made)
    return made


_opened: list[Runtime] = []


@pytest.fixture(autouse=True)
def _close_open_runtimes() -> Iterator[None]:
    yield
    while _opened:
        _opened.pop().close()


def _connect(session: Session, platform: str, accounts: list[tuple[str, str]]) -> list[Integration]:
    workspace = builders.make_workspace(session)
    made = []
    for username, external in accounts:
        integration = builders.make_integration(
            session, workspace, platform=platform, username=username, external_account_id=external
        )
        no_discovery_today(session, integration, account_read=True)
        made.append(integration)
    session.commit()
    return made


@pytest.mark.parametrize("n", [3, 26, 51])
def test_bluesky_reads_25_profiles_per_request(
    session: Session, collect_settings: Settings, engine: Engine, now: Clock, n: int
) -> None:
    fake = FakeBluesky()
    actors = [fake.add_account(f"user{i}.bsky.social") for i in range(n)]
    for i, actor in enumerate(actors):
        actor.followers, actor.follows = 10 * i, i
    made = _connect(session, "bluesky", [(a.handle, a.did) for a in actors])
    summary = runner.sweep(_open_runtime(collect_settings, engine, "bluesky", fake), now())
    calls = [r for r in fake.requests if r.endpoint == "app.bsky.actor.getProfiles"]
    assert len(calls) == math.ceil(n / 25)
    assert summary.account_snapshots == n
    (last,) = _snapshots(session, made[-1])
    assert (last.followers, last.following, last.posts) == (10 * (n - 1), n - 1, 0)
    assert last.platform_data == {"followersCount": 10 * (n - 1), "followsCount": n - 1,
                                  "postsCount": 0}  # fmt: skip


@pytest.mark.parametrize("n", [2, 50, 51])
def test_youtube_reads_50_channels_per_unit_charged_to_the_quota(
    session: Session, collect_settings: Settings, engine: Engine, now: Clock, n: int
) -> None:
    fake = FakeYouTube()
    channels = [fake.add_channel(f"chan{i}") for i in range(n)]
    for i, channel in enumerate(channels):
        channel.subscribers = 1000 + i
    channels[0].hidden_subscribers = True
    made = _connect(session, "youtube", [(f"chan{i}", c.id) for i, c in enumerate(channels)])
    settings = collect_settings.model_copy(update={"youtube_daily_quota_units": 10_000})
    summary = runner.sweep(_open_runtime(settings, engine, "youtube", fake), now())
    calls = [r for r in fake.requests if r.endpoint == "channels.list"]
    assert len(calls) == math.ceil(n / 50)
    assert fake.quota_used == math.ceil(n / 50)
    assert summary.account_snapshots == n
    row = session.get(PlatformState, "youtube")
    assert row is not None
    assert row.reads_today == math.ceil(n / 50)  # the shared count, in quota units
    (hidden,) = _snapshots(session, made[0])
    assert hidden.followers is None  # hidden: unknown, not 0
    assert hidden.following is None  # YouTube has no following count
    assert hidden.posts == 0
    (shown,) = _snapshots(session, made[-1])
    assert shown.followers == 1000 + n - 1


def test_mastodon_reads_one_account_per_request(
    session: Session, collect_settings: Settings, engine: Engine, now: Clock
) -> None:
    fake = FakeMastodon()
    found = [fake.add_account(f"user{i}") for i in range(3)]
    for i, account in enumerate(found):
        account.followers, account.following = 5 + i, 2 * i
    fake.add_status(found[2], created_at=now() - timedelta(hours=1))
    made = _connect(session, "mastodon", [(f"{a.username}@one.example", a.id) for a in found])
    summary = runner.sweep(_open_runtime(collect_settings, engine, "mastodon", fake), now())
    assert [r.endpoint for r in fake.requests].count("account") == 3
    assert summary.account_requests == 3
    (last,) = _snapshots(session, made[2])
    assert (last.followers, last.following, last.posts) == (7, 4, 1)
    assert last.platform_data == {"followers_count": 7, "following_count": 4,
                                  "statuses_count": 1}  # fmt: skip


def test_a_repeated_job_writes_nothing_twice(
    session: Session, fake_x: FakeX, rt: Runtime, now: Clock
) -> None:
    (integration,) = _x_accounts(session, fake_x, 1)
    (job,) = runner.plan_account_reads(rt, now())
    first = account_capture.run(rt.factory, rt.clients, rt.policy, job)
    again = account_capture.run(rt.factory, rt.clients, rt.policy, job)
    assert (first.written, first.stale) == (1, 0)
    assert (again.written, again.stale, again.requests) == (0, 1, 0)  # no call either
    assert _users_calls(fake_x) == 1
    assert len(_snapshots(session, integration)) == 1


@pytest.fixture
def oauth_settings(collect_settings: Settings, fake_x: FakeX) -> Settings:
    fake_x.add_oauth_client(CLIENT_ID, SECRET, "https://analytics.example.com/cb")
    return collect_settings.model_copy(
        update={
            "x_client_id": CLIENT_ID,
            "x_client_secret": SECRET,
            "public_base_url": "https://analytics.example.com",
        }
    )


def _due_now(session: Session, integration: Integration, at: datetime) -> None:
    state = session.get(AccountReadState, integration.id)
    assert state is not None
    state.next_due_at = at
    session.commit()


def test_an_owner_token_reads_its_own_account_with_that_token(
    session: Session, engine: Engine, oauth_settings: Settings, fake_x: FakeX, now: Clock
) -> None:
    owner = fake_x.add_account("openpost")
    fake_x.set_account_counts(owner, followers_count=77)
    integration, _ = connect(session, oauth_settings, fake_x, owner)
    _due_now(session, integration, now())
    runner.sweep(make_runtime(oauth_settings, engine, fake_x), now())
    (call,) = fake_x.calls("users_lookup")
    assert call.context == f"user:{owner.id}"
    assert [s.followers for s in _snapshots(session, integration)] == [77]


def test_a_refused_owner_token_makes_the_integration_needs_refresh(
    session: Session, engine: Engine, oauth_settings: Settings, fake_x: FakeX, now: Clock
) -> None:
    owner = fake_x.add_account("openpost")
    fake_x.oauth.refused_error = "invalid_grant"
    integration, before = connect(session, oauth_settings, fake_x, owner)
    fake_x.oauth.refresh_tokens[before["refresh_token"]].used = True  # revoked by the owner
    now.advance(timedelta(hours=2))  # the access token has expired: a refresh is needed
    _due_now(session, integration, now())
    rt = make_runtime(oauth_settings, engine, fake_x)
    runner.sweep(rt, now())
    session.expire_all()
    refreshed = session.get(Integration, integration.id)
    assert refreshed is not None
    state = session.get(AccountReadState, integration.id)
    assert state is not None
    assert refreshed.status == "needs_refresh"
    assert (state.outcome, state.error_code) == ("permission_required", "x_token_refused")
    assert fake_x.calls("users_lookup") == []  # never read with a dead token
    now.advance(timedelta(days=2))
    runner.sweep(rt, now())
    assert fake_x.calls("users_lookup") == []  # needs_refresh: not read until reconnected


def test_an_integration_paused_after_planning_is_not_read(
    session: Session, fake_x: FakeX, rt: Runtime, now: Clock
) -> None:
    first, second = _x_accounts(session, fake_x, 2)
    (job,) = runner.plan_account_reads(rt, now())
    session.get(Integration, first.id).analytics_enabled = False  # type: ignore[union-attr]
    session.commit()
    result = account_capture.run(rt.factory, rt.clients, rt.policy, job)
    assert (result.written, result.stale) == (1, 1)
    (call,) = fake_x.calls("users_lookup")
    assert call.params["ids"] == second.external_account_id
