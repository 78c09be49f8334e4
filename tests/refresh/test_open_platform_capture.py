"""Bluesky, Mastodon and YouTube through the whole capture path: a malformed counter fails
that post alone with a clear error and writes no number; a wrong-shaped answer fails the
batch and keeps every post's last good snapshot."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from openpost.analytics.models import Snapshot
from openpost.config import Settings
from openpost.core.db import make_sessionmaker
from openpost.integrations.models import Integration
from openpost.platforms.bluesky.fake import FakeBluesky
from openpost.platforms.mastodon.fake import FakeMastodon
from openpost.platforms.youtube.fake import DEFAULT_API_KEY, FakeYouTube
from openpost.refresh import runner
from openpost.refresh.models import RefreshState
from openpost.refresh.runner import Runtime
from tests import builders
from tests.refresh.conftest import NOW, Clock, no_discovery_today, track

HOUR = timedelta(hours=1)


@dataclass
class Platform:
    """One open platform's fake, arranged with two posts of one account."""

    name: str
    fake: Any
    username: str
    account_id: str
    post_ids: list[str]
    corrupt: Callable[[str], None]  # make one post's counter malformed


def _bluesky() -> Platform:
    fake = FakeBluesky()
    actor = fake.add_account("alice.bsky.social")
    posts = [fake.add_post(actor, created_at=NOW - 2 * HOUR, likes=n) for n in (4, 5)]

    def corrupt(uri: str) -> None:
        fake.posts[uri].counts["likeCount"] = "many"

    return Platform("bluesky", fake, actor.handle, actor.did, [p.uri for p in posts], corrupt)


def _mastodon() -> Platform:
    fake = FakeMastodon(version="4.5.1")
    account = fake.add_account("alice")
    statuses = [fake.add_status(account, created_at=NOW - 2 * HOUR, favourites=n) for n in (4, 5)]

    def corrupt(status_id: str) -> None:
        fake.statuses[status_id].counts["favourites_count"] = -3

    return Platform(
        "mastodon", fake, "alice@one.example", account.id, [s.id for s in statuses], corrupt
    )


def _youtube() -> Platform:
    fake = FakeYouTube()
    channel = fake.add_channel("alice")
    videos = [fake.add_video(channel, published_at=NOW - 2 * HOUR, likes=n) for n in (4, 5)]

    def corrupt(video_id: str) -> None:
        fake.set_stats(video_id, likeCount="4.5")

    return Platform("youtube", fake, "@alice", channel.id, [v.id for v in videos], corrupt)


@pytest.fixture(params=[_bluesky, _mastodon, _youtube], ids=["bluesky", "mastodon", "youtube"])
def platform(request: pytest.FixtureRequest, now: Clock) -> Platform:
    made: Platform = request.param()
    return made


@pytest.fixture
def rt(collect_settings: Settings, engine: Engine, platform: Platform) -> Iterator[Runtime]:
    settings = collect_settings.model_copy(
        update={
            "bluesky_api_base_url": "http://bsky.test",
            "mastodon_api_base_url": "http://127.0.0.1:8083",
            "mastodon_allow_private_addresses": True,
            "youtube_api_base_url": "http://youtube.test/youtube/v3",
            "youtube_api_key": DEFAULT_API_KEY,
        }
    )
    made = Runtime.from_settings(
        settings,
        factory=make_sessionmaker(engine),
        transports={platform.name: platform.fake.transport()},
    )
    yield made
    made.close()


def _arrange(session: Session, platform: Platform) -> list[Any]:
    workspace = builders.make_workspace(session)
    integration: Integration = builders.make_integration(
        session,
        workspace,
        platform=platform.name,
        username=platform.username,
        external_account_id=platform.account_id,
    )
    no_discovery_today(session, integration)
    targets = [
        track(session, integration, post_id, published_at=NOW - 2 * HOUR)
        for post_id in platform.post_ids
    ]
    session.commit()
    return [t.id for t in targets]


def _snapshots(session: Session, target_id: Any) -> list[Any]:
    return list(
        session.execute(
            select(Snapshot.likes, Snapshot.captured_at)
            .where(Snapshot.post_target_id == target_id)
            .order_by(Snapshot.captured_at)
        ).all()
    )


def _state(session: Session, target_id: Any) -> RefreshState:
    session.expire_all()
    state = session.get(RefreshState, target_id)
    assert state is not None
    return state


def test_a_malformed_counter_fails_that_post_alone(
    session: Session, rt: Runtime, platform: Platform, now: Clock
) -> None:
    good, bad = _arrange(session, platform)
    platform.corrupt(platform.post_ids[1])

    summary = runner.sweep(rt, now.at)
    assert (summary.requests, summary.written) == (1, 1)
    assert summary.outcomes == {"ok": 1, "failed": 1}
    assert [row.likes for row in _snapshots(session, good)] == [4]
    assert _snapshots(session, bad) == []  # no number rather than a wrong one
    failed = _state(session, bad)
    assert (failed.outcome, failed.error_code) == ("failed", f"{platform.name}_malformed")
    assert failed.error_message
    assert failed.next_due_at is not None
    assert failed.next_due_at > now.at  # retried later, with backoff


def test_a_wrong_shaped_answer_fails_the_batch_and_keeps_the_last_snapshots(
    session: Session, rt: Runtime, platform: Platform, now: Clock
) -> None:
    targets = _arrange(session, platform)
    assert runner.sweep(rt, now.at).written == 2

    platform.fake.inject("wrong_shape")
    now.advance(timedelta(minutes=31))
    summary = runner.sweep(rt, now.at)
    assert summary.outcomes == {"failed": 2}
    assert summary.written == 0
    for target_id in targets:
        assert len(_snapshots(session, target_id)) == 1
        state = _state(session, target_id)
        assert (state.outcome, state.error_code) == ("failed", f"{platform.name}_malformed")
        assert state.latest_snapshot_id is not None  # the last good reading stays
    total = session.scalar(select(func.count()).select_from(Snapshot))
    assert total == 2
