"""End to end for the platforms that need no approval: Bluesky, Mastodon and YouTube.

The three fakes run as real HTTP servers on loopback (``LiveServer``, the same apps as
``python -m openpost.platforms.fakes.<platform>``); the service beside them is the app
(``TestClient``) built from settings that point each platform's base URL at its fake, and
the collection runs through ``refresh.runner.sweep`` (what ``openpost refresh --once``
does), so the clients are the real httpx clients built by the registry from settings.

The story: connect one account per platform through ``POST /v1/integrations`` in a live
workspace; a sweep discovers their posts and writes first snapshots with each platform's
mapping (read back through ``GET /v1/analytics/post/{id}``); counters change in the fakes
and a post is deleted in each; the next due sweep (31 minutes later) reads the new values
and marks the deleted posts; ``/v1/analytics/status`` lists the three platforms.

It runs on the test database (SQLite, or PostgreSQL with ``OPENPOST_TEST_DATABASE_URL``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from openpost.app import create_app
from openpost.config import Settings
from openpost.core import clock
from openpost.core.db import make_sessionmaker
from openpost.platforms.bluesky.fake import FakeBluesky, FakePost
from openpost.platforms.fakes import LiveServer
from openpost.platforms.mastodon.fake import FakeMastodon, FakeStatus
from openpost.platforms.youtube.fake import DEFAULT_API_KEY, FakeVideo, FakeYouTube
from openpost.posts.models import PostTarget
from openpost.refresh import runner
from openpost.refresh.runner import Runtime
from tests import builders
from tests.refresh.conftest import Clock

NOW = datetime(2026, 4, 16, 10, 0, 0, tzinfo=UTC)
POSTS = 6


@dataclass
class Fakes:
    bluesky: FakeBluesky
    mastodon: FakeMastodon
    youtube: FakeYouTube
    skeets: list[FakePost]
    toots: list[FakeStatus]
    videos: list[FakeVideo]


@pytest.fixture
def now() -> Iterator[Clock]:
    """One clock for the service and the fakes (they read ``clock.now`` too)."""
    source = Clock(NOW)
    clock.set_clock(source)
    yield source
    clock.set_clock(None)


@pytest.fixture
def fakes(now: Clock) -> Fakes:
    # Mastodon 4.5 reports quotes_count (older instances omit it)
    bluesky, mastodon = FakeBluesky(), FakeMastodon(version="4.5.0")
    youtube = FakeYouTube()
    actor = bluesky.add_account("openpost.bsky.social", display_name="OpenPost")
    account = mastodon.add_account("openpost", display_name="OpenPost")
    channel = youtube.add_channel("openpost", title="OpenPost")
    skeets, toots, videos = [], [], []
    for n in range(POSTS):
        at = NOW - timedelta(hours=n + 1)
        skeets.append(
            bluesky.add_post(
                actor, created_at=at, likes=10 + n, reposts=3 + n, quotes=2, replies=1 + n
            )
        )
        toots.append(
            mastodon.add_status(
                account, created_at=at, favourites=20 + n, reblogs=4 + n, quotes=1, replies=2
            )
        )
        videos.append(
            youtube.add_video(
                channel,
                published_at=at,
                views=1000 * (n + 1),
                likes=50 + n,
                comments=5 + n,
                likes_hidden=n == 0,  # the newest video hides its likes
            )
        )
    return Fakes(bluesky, mastodon, youtube, skeets, toots, videos)


@pytest.fixture
def servers(fakes: Fakes) -> Iterator[tuple[str, str, str]]:
    with (
        LiveServer(fakes.bluesky.app) as bsky,
        LiveServer(fakes.mastodon.app) as masto,
        LiveServer(fakes.youtube.app) as yt,
    ):
        yield bsky.url, masto.url, yt.url


@pytest.fixture
def live_settings(settings: Settings, servers: tuple[str, str, str]) -> Settings:
    bsky, masto, yt = servers
    return settings.model_copy(
        update={
            "bluesky_api_base_url": bsky,
            "mastodon_api_base_url": masto,
            "mastodon_allow_private_addresses": True,
            "youtube_api_base_url": f"{yt}/youtube/v3",
            "youtube_api_key": DEFAULT_API_KEY,
        }
    )


@pytest.fixture
def api(live_settings: Settings, engine: Engine) -> Iterator[TestClient]:
    app = create_app(live_settings)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client
    app.state.engine.dispose()


@pytest.fixture
def rt(live_settings: Settings, engine: Engine) -> Iterator[Runtime]:
    made = Runtime.from_settings(live_settings, factory=make_sessionmaker(engine))
    yield made
    made.close()


@pytest.fixture
def headers(session: Session) -> dict[str, str]:
    workspace = builders.make_workspace(session, mode="live")
    key = builders.make_key(session, workspace)
    session.commit()
    return {"Authorization": f"Bearer {key}"}


def _post_of(session: Session, platform_post_id: str) -> str:
    found = session.scalar(
        select(PostTarget.post_id).where(PostTarget.platform_post_id == platform_post_id)
    )
    assert found is not None, f"{platform_post_id} was not discovered"
    return str(found)


def _target(api: TestClient, headers: dict[str, str], post_id: str) -> dict[str, Any]:
    response = api.get(f"/v1/analytics/post/{post_id}", headers=headers)
    assert response.status_code == 200, response.text
    targets = response.json()["data"]["targets"]
    assert len(targets) == 1
    return dict(targets[0])


def _metrics(target: dict[str, Any]) -> tuple[Any, ...]:
    return (target["impressions"], target["likes"], target["comments"], target["shares"])


def _bluesky_ids(session: Session, fakes: Fakes) -> list[str]:
    """Our post ids for the Bluesky posts, matched by the AT-URI's record key."""
    rows = session.execute(
        select(PostTarget.platform_post_id, PostTarget.post_id).where(
            PostTarget.platform_post_id.in_(
                [p.uri for p in fakes.skeets] + [p.rkey for p in fakes.skeets]
            )
        )
    ).all()
    by_id = {platform_id: str(post_id) for platform_id, post_id in rows}
    return [by_id.get(p.uri) or by_id[p.rkey] for p in fakes.skeets]


def test_open_platforms_end_to_end(
    api: TestClient,
    rt: Runtime,
    session: Session,
    fakes: Fakes,
    headers: dict[str, str],
    now: Clock,
) -> None:
    # 1. Connect one account per platform by handle.
    for platform, username, external in (
        ("bluesky", "openpost.bsky.social", fakes.skeets[0].author_did),
        ("mastodon", "@openpost@mastodon.example", fakes.toots[0].account_id),
        ("youtube", "@openpost", fakes.videos[0].channel_id),
    ):
        response = api.post(
            "/v1/integrations", headers=headers, json={"platform": platform, "username": username}
        )
        assert response.status_code == 201, response.text
        assert response.json()["data"]["external_account_id"] == external

    # 2. A sweep discovers every post and writes its first snapshot.
    first = runner.sweep(rt, now.at)
    assert first.discoveries == 3
    assert first.discovered == 3 * POSTS
    session.expire_all()
    skeet_ids = _bluesky_ids(session, fakes)
    toot_ids = [_post_of(session, s.id) for s in fakes.toots]
    video_ids = [_post_of(session, v.id) for v in fakes.videos]

    for n, post_id in enumerate(skeet_ids):
        target = _target(api, headers, post_id)
        assert target["platform"] == "bluesky"
        # impressions unknown; shares = reposts + quotes
        assert _metrics(target) == (None, 10 + n, 1 + n, 3 + n + 2)
        assert len(target["snapshots"]) == 1
    for n, post_id in enumerate(toot_ids):
        target = _target(api, headers, post_id)
        assert target["platform"] == "mastodon"
        # impressions unknown; shares = reblogs + quotes
        assert _metrics(target) == (None, 20 + n, 2, 4 + n + 1)
        assert len(target["snapshots"]) == 1
    for n, post_id in enumerate(video_ids):
        target = _target(api, headers, post_id)
        assert target["platform"] == "youtube"
        # impressions = views; shares unknown; hidden likes unknown, never 0
        likes = None if n == 0 else 50 + n
        assert _metrics(target) == (1000 * (n + 1), likes, 5 + n, None)
        assert target["snapshots"][0]["platform_data"]["impressions_kind"] == "views"

    # 3. Nothing is due right away: a second sweep at the same instant reads nothing.
    videos_reads = len(fakes.youtube.calls("videos.list"))
    again = runner.sweep(rt, now.at)
    assert (again.requests, again.written) == (0, 0)
    assert len(fakes.youtube.calls("videos.list")) == videos_reads

    # 4. Counters change and one post per platform is deleted; the next due sweep sees it.
    for n, post in enumerate(fakes.skeets):
        fakes.bluesky.set_counts(post.uri, likeCount=500 + n, repostCount=40, quoteCount=7)
    for n, status in enumerate(fakes.toots):
        fakes.mastodon.set_counts(status.id, favourites_count=600 + n, reblogs_count=30)
    for n, video in enumerate(fakes.videos):
        fakes.youtube.set_stats(video.id, viewCount=str(90_000 + n), commentCount="77")
    fakes.bluesky.delete_post(fakes.skeets[-1].uri)
    fakes.mastodon.delete_status(fakes.toots[-1].id)
    fakes.youtube.remove_video(fakes.videos[-1].id)

    now.at = NOW + timedelta(minutes=31)  # every post here is under 24 h: due every 30 min
    second = runner.sweep(rt, now.at)
    # one metrics request per platform: 6 posts fit one batch on each
    assert second.requests == 3
    assert second.written == 3 * (POSTS - 1)

    for n, post_id in enumerate(skeet_ids):
        target = _target(api, headers, post_id)
        if n == POSTS - 1:
            assert target["status"] == "deleted"
            assert len(target["snapshots"]) == 1  # the last good snapshot is kept
            continue
        assert target["status"] != "deleted"
        assert _metrics(target) == (None, 500 + n, 1 + n, 47)
        assert len(target["snapshots"]) == 2
    for n, post_id in enumerate(toot_ids):
        target = _target(api, headers, post_id)
        if n == POSTS - 1:
            assert target["status"] == "deleted"
            continue
        assert _metrics(target) == (None, 600 + n, 2, 31)
    for n, post_id in enumerate(video_ids):
        target = _target(api, headers, post_id)
        if n == POSTS - 1:
            assert target["status"] == "deleted"
            continue
        likes = None if n == 0 else 50 + n
        assert _metrics(target) == (90_000 + n, likes, 77, None)
        assert target["captured_at"] == "2026-04-16T10:31:00Z"

    # 5. A deleted post is never read again.
    now.at = NOW + timedelta(minutes=62)
    calls = {
        "bluesky": len(fakes.bluesky.calls("app.bsky.feed.getPosts")),
        "youtube": len(fakes.youtube.calls("videos.list")),
    }
    runner.sweep(rt, now.at)
    last_posts = fakes.bluesky.calls("app.bsky.feed.getPosts")[calls["bluesky"] :]
    assert last_posts
    assert all(fakes.skeets[-1].uri not in r.params.get("uris", []) for r in last_posts)
    last_videos = fakes.youtube.calls("videos.list")[calls["youtube"] :]
    assert all(fakes.videos[-1].id not in ",".join(r.params.get("id", [])) for r in last_videos)

    # 6. The status lists each platform's state.
    status = api.get("/v1/analytics/status", headers=headers).json()["data"]
    platforms = {p["platform"]: p for p in status["platforms"]}
    assert set(platforms) == {"bluesky", "mastodon", "youtube"}
    assert not any(p["paused"] for p in platforms.values())
    # Every YouTube call the service made (connect, discovery, reads) is counted against the
    # Pacific day's quota, and the count is what the API charged.
    assert platforms["youtube"]["daily_budget"] == {
        "unit": "quota_units",
        "day": "2026-04-16",
        "limit": 10_000,
        "spent": fakes.youtube.quota_used,
        "left": 10_000 - fakes.youtube.quota_used,
        "resets_at": "2026-04-17T07:00:00Z",
    }
    assert fakes.youtube.quota_used == len(fakes.youtube.requests)
    for item in status["integrations"]:
        # five posts read fine, the deleted one is not found (and marked deleted)
        assert (item["outcomes"]["ok"], item["outcomes"]["not_found"]) == (POSTS - 1, 1)


@pytest.mark.parametrize(
    ("fault", "reason", "until"),
    [
        # Midnight in Los Angeles (PDT in April) is 07:00 UTC.
        ("quota", "youtube_quota_exceeded", "2026-04-17T07:00:00Z"),
        ("key", "youtube_key_invalid", None),
    ],
)
def test_youtube_pauses_as_a_whole(
    api: TestClient,
    rt: Runtime,
    fakes: Fakes,
    headers: dict[str, str],
    now: Clock,
    fault: str,
    reason: str,
    until: str | None,
) -> None:
    """A spent quota or a refused API key stops YouTube for every workspace; no channel is
    blamed (the integration stays active), and the status says why and until when."""
    response = api.post(
        "/v1/integrations", headers=headers, json={"platform": "youtube", "username": "openpost"}
    )
    assert response.status_code == 201, response.text
    integration_id = response.json()["data"]["id"]
    assert runner.sweep(rt, now.at).discovered == POSTS
    if fault == "quota":
        fakes.youtube.exhaust_quota()
    else:
        fakes.youtube.api_keys = {"another-key"}

    now.at = NOW + timedelta(minutes=31)
    summary = runner.sweep(rt, now.at)
    assert summary.written == 0
    assert summary.requests == 1  # one call is refused; the rest of the batch waits
    status = api.get("/v1/analytics/status", headers=headers).json()["data"]
    (youtube,) = status["platforms"]
    assert (youtube["platform"], youtube["paused"], youtube["pause_reason"]) == (
        "youtube",
        True,
        reason,
    )
    if until is not None:
        assert youtube["paused_until"] == until
    integration = api.get(f"/v1/integrations/{integration_id}", headers=headers).json()["data"]
    assert integration["status"] == "active"

    # While paused, a sweep sends YouTube nothing.
    calls = len(fakes.youtube.requests)
    now.at = NOW + timedelta(minutes=62)
    assert runner.sweep(rt, now.at).requests == 0
    assert len(fakes.youtube.requests) == calls
