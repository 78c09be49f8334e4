"""Discovery through the fake X: the 50 newest posts first, then only what is new."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from openpost.analytics.models import Snapshot
from openpost.core import clock
from openpost.integrations.models import Integration
from openpost.platforms.x.fake import FakeAccount, FakeMedia, FakeX, seed
from openpost.posts.models import Post, PostTarget
from openpost.refresh import discovery, runner
from openpost.refresh.models import DiscoveryState, RefreshState
from openpost.refresh.runner import Runtime
from tests import builders
from tests.refresh.conftest import NOW, Clock, track, x_integration

H = timedelta(hours=1)


def discover(rt: Runtime) -> list[discovery.DiscoveryResult]:
    jobs = runner.plan_discoveries(rt, clock.now())
    return [discovery.run(rt.factory, rt.clients, rt.policy, job) for job in jobs]


@pytest.fixture
def account(fake_x: FakeX) -> FakeAccount:
    return seed(fake_x, posts=60)  # @openpost: a post every 4 hours, newest 1 h old


@pytest.fixture
def integration(session: Session, account: FakeAccount) -> Integration:
    workspace = builders.make_workspace(session)
    found = x_integration(session, workspace, account)
    session.commit()
    return found


def tracked(session: Session, integration: Integration) -> list[Any]:
    return list(
        session.execute(
            select(PostTarget.platform_post_id, PostTarget.published_at, Post.source, Post.content)
            .join(Post, Post.id == PostTarget.post_id)
            .where(PostTarget.integration_id == integration.id)
            .order_by(PostTarget.published_at.desc())
        ).all()
    )


def test_first_discovery_imports_the_50_newest(
    session: Session,
    rt: Runtime,
    fake_x: FakeX,
    account: FakeAccount,
    integration: Integration,
    now: Clock,
) -> None:
    (result,) = discover(rt)
    assert (result.discovered, result.snapshots, result.outcome) == (50, 50, "ok")
    rows = tracked(session, integration)
    newest = sorted(
        (p for p in fake_x.posts.values() if p.author_id == account.id),
        key=lambda p: p.created_at,
        reverse=True,
    )[:50]
    assert [r.platform_post_id for r in rows] == [p.id for p in newest]
    assert {r.source for r in rows} == {"discovered"}
    assert rows[0].content == newest[0].text
    # the counters that came with the read are each target's first snapshot
    first = newest[0]
    target_id = session.scalar(select(PostTarget.id).where(PostTarget.platform_post_id == first.id))
    snapshot = session.execute(
        select(Snapshot.impressions, Snapshot.likes, Snapshot.capture_key).where(
            Snapshot.post_target_id == target_id
        )
    ).one()
    assert snapshot == (
        first.public_metrics["impression_count"],
        first.public_metrics["like_count"],
        "discovery",
    )
    state = session.get(DiscoveryState, integration.id)
    assert state is not None
    assert state.since_id == first.id
    assert state.next_due_at == NOW + timedelta(minutes=60)
    # never more posts read than the cap: X bills each one
    assert sum(int(c.params["max_results"]) for c in fake_x.calls("user_tweets")) == 50


def test_discovery_keeps_media_previews_from_xs_image_host_only(
    session: Session,
    rt: Runtime,
    fake_x: FakeX,
    account: FakeAccount,
    integration: Integration,
) -> None:
    newest = sorted(
        (p for p in fake_x.posts.values() if p.author_id == account.id),
        key=lambda p: p.created_at,
        reverse=True,
    )
    photo, elsewhere = newest[0], newest[1]
    photo.media = [FakeMedia("3_9", "photo", "https://pbs.twimg.com/media/p.jpg")]
    elsewhere.media = [FakeMedia("3_8", "photo", "https://images.example.net/p.jpg")]
    discover(rt)
    previews = dict(
        session.execute(
            select(PostTarget.platform_post_id, PostTarget.preview_url).where(
                PostTarget.integration_id == integration.id
            )
        ).all()
    )
    assert previews[photo.id] == "https://pbs.twimg.com/media/p.jpg"
    assert previews[elsewhere.id] is None  # not X's image host: not kept
    assert sum(url is not None for url in previews.values()) == 1


def test_discovered_posts_follow_the_schedule_and_window(
    session: Session, rt: Runtime, integration: Integration, now: Clock
) -> None:
    discover(rt)
    states = session.execute(
        select(PostTarget.published_at, RefreshState.outcome, RefreshState.next_due_at)
        .join(RefreshState, RefreshState.post_target_id == PostTarget.id)
        .where(PostTarget.integration_id == integration.id)
    ).all()
    for published_at, outcome, next_due_at in states:
        age = NOW - published_at
        if age < 66 * H:  # a read at least 6 h before the 72 h window closes is still due
            assert outcome == "ok", age
            assert next_due_at is not None
        else:
            assert (outcome, next_due_at) == ("frozen", None), age


def test_then_only_what_is_new(
    session: Session,
    rt: Runtime,
    fake_x: FakeX,
    account: FakeAccount,
    integration: Integration,
    now: Clock,
) -> None:
    discover(rt)
    since = session.get(DiscoveryState, integration.id).since_id  # type: ignore[union-attr]
    now.advance(30 * timedelta(minutes=1))
    assert discover(rt) == []  # not due yet
    fresh = fake_x.add_post(account, text="brand new", likes=3)
    now.advance(30 * timedelta(minutes=1))
    (result,) = discover(rt)
    assert result.discovered == 1
    call = fake_x.calls("user_tweets")[-1]
    assert call.params["since_id"] == since
    assert tracked(session, integration)[0].platform_post_id == fresh.id
    session.expire_all()
    assert session.get(DiscoveryState, integration.id).since_id == fresh.id  # type: ignore[union-attr]


def test_posts_already_tracked_are_not_imported_twice(
    session: Session,
    rt: Runtime,
    fake_x: FakeX,
    account: FakeAccount,
    integration: Integration,
    now: Clock,
) -> None:
    newest = max(
        (p for p in fake_x.posts.values() if p.author_id == account.id), key=lambda p: p.created_at
    )
    track(session, integration, newest.id, published_at=newest.created_at)
    session.commit()
    (result,) = discover(rt)
    assert result.discovered == 49
    count = session.scalar(
        select(func.count()).select_from(PostTarget).where(PostTarget.platform_post_id == newest.id)
    )
    assert count == 1


@pytest.mark.parametrize(
    ("change", "outcome"),
    [("protected", "permission_required"), ("suspended", "not_found")],
)
def test_unreadable_account_needs_refresh(
    session: Session,
    rt: Runtime,
    account: FakeAccount,
    integration: Integration,
    now: Clock,
    change: str,
    outcome: str,
) -> None:
    setattr(account, change, True)
    (result,) = discover(rt)
    assert result.outcome == outcome
    session.expire_all()
    assert session.get(Integration, integration.id).status == "needs_refresh"  # type: ignore[union-attr]


def test_every_collectable_integration_is_adopted(
    session: Session, rt: Runtime, now: Clock
) -> None:
    workspace = builders.make_workspace(session)
    live = builders.make_integration(session, workspace, platform="bluesky")
    builders.make_integration(session, workspace, platform="bluesky", status="disconnected")
    builders.make_integration(session, workspace, platform="bluesky", analytics_enabled=False)
    session.commit()
    assert discovery.adopt(session, NOW) == 1
    assert discovery.adopt(session, NOW) == 0
    assert [job.integration_id for job in discovery.due(session, rt.clients, NOW)] == [live.id]


def test_synthetic_discovery(session: Session, rt: Runtime, now: Clock) -> None:
    workspace = builders.make_workspace(session, mode="test")
    builders.make_integration(session, workspace, platform="mastodon", synthetic=True)
    session.commit()
    (result,) = discover(rt)
    # the platform's own cap (OPENPOST_MASTODON_MAX_POSTS_PER_INTEGRATION), as when live
    assert result.discovered == rt.settings.mastodon_max_posts_per_integration == 100
    assert result.snapshots == 100
