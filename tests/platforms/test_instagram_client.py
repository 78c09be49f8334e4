"""The Instagram client against its fake: the mapping (views as impressions, likes and
comments with their counters as fallback), insights not available yet, one refused metric
failing the whole call, batched counters, Facebook Login's hosts and totals, accounts'
counters, and Meta's errors (expired token, throttling, deleted media, 5xx)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from openpost.core import clock
from openpost.platforms.base import Account, RateLimited, TransientError
from openpost.platforms.consent import TokenRefused
from openpost.platforms.instagram.client import (
    FACEBOOK_LOGIN,
    INSTAGRAM_LOGIN,
    InstagramClient,
    MediaIds,
)
from openpost.platforms.instagram.fake import FakeAccount, FakeInstagram
from openpost.platforms.instagram.reading import parse_cursor
from tests.refresh.conftest import Clock

NOW = datetime(2026, 4, 16, 10, 0, 0, tzinfo=UTC)


@pytest.fixture
def now() -> Iterator[Clock]:
    source = Clock(NOW)
    clock.set_clock(source)
    yield source
    clock.set_clock(None)


@pytest.fixture
def fake(now: Clock) -> FakeInstagram:
    return FakeInstagram(now=now)


@pytest.fixture
def owner(fake: FakeInstagram) -> FakeAccount:
    return fake.add_account("openpost", name="OpenPost", followers=1200, follows=80)


def client(fake: FakeInstagram, *, multi: bool = True) -> InstagramClient:
    return InstagramClient(
        transport=fake.transport(), multi_id_counters=multi, media_ids=MediaIds()
    )


def login(fake: FakeInstagram, owner: FakeAccount) -> dict[str, str]:
    return {"kind": INSTAGRAM_LOGIN, "access_token": fake.issue_token(owner)}


def test_insights_map_to_the_four_counters_with_the_extras(
    fake: FakeInstagram, owner: FakeAccount
) -> None:
    media = fake.add_media(owner, created_at=NOW - timedelta(days=3), likes=40, comments=6,
                           views=900, shares=3)  # fmt: skip
    result = client(fake).fetch_metrics([media.code], credentials=login(fake, owner))
    reading = result.readings[media.code]
    assert (reading.impressions, reading.likes, reading.comments, reading.shares) == (900, 40, 6, 3)
    assert reading.platform_data == {
        "impressions_kind": "views",
        "views": 900,
        "reach": 675,
        "saved": 4,
        "total_interactions": 53,
    }
    insights = fake.calls("insights")
    assert [r.params["metric"] for r in insights] == [
        "views,reach,likes,comments,shares,saved,total_interactions"
    ]  # never impressions or plays
    assert result.calls == 2  # the listing that found the media id, one insights call
    again = client(fake).fetch_metrics([media.id], credentials=login(fake, owner))
    assert again.readings[media.id].likes == 40
    assert again.calls == 1  # a media id: no listing


@pytest.mark.parametrize("multi", [True, False])
def test_insights_not_available_yet_give_none_and_the_counters(
    fake: FakeInstagram, owner: FakeAccount, multi: bool
) -> None:
    fake.insights_lag = timedelta(hours=48)
    fresh = [fake.add_media(owner, created_at=NOW - timedelta(hours=n + 1), likes=5 + n,
                            comments=n, views=100) for n in range(3)]  # fmt: skip
    result = client(fake, multi=multi).fetch_metrics(
        [m.id for m in fresh], credentials=login(fake, owner)
    )
    for n, media in enumerate(fresh):
        reading = result.readings[media.id]
        assert (reading.impressions, reading.likes, reading.comments, reading.shares) == (
            None, 5 + n, n, None,
        )  # fmt: skip
        assert reading.platform_data["insights"] == "not_available_yet"
    if multi:  # one ?ids= call for the three
        [counters] = fake.calls("ids")
        assert counters.params["ids"].split(",") == [m.id for m in fresh]
        assert result.calls == 4
    else:
        assert len(fake.calls("node")) == 3
        assert result.calls == 6


def test_a_refused_metric_fails_the_call_and_each_metric_is_asked_alone(
    fake: FakeInstagram, owner: FakeAccount
) -> None:
    """Facebook Login asks the ad-inclusive totals too; where a metric is refused (here:
    the totals, which an Instagram Login token does not have), the whole call fails with
    "(#100) … valid insights metric", and the client asks metric by metric."""
    media = fake.add_media(owner, created_at=NOW - timedelta(days=3), likes=7, views=70)
    odd = {"kind": FACEBOOK_LOGIN, "access_token": fake.issue_token(owner)}
    result = client(fake).fetch_metrics([media.id], credentials=odd)
    reading = result.readings[media.id]
    assert (reading.impressions, reading.likes) == (70, 7)
    assert "total_likes" not in reading.platform_data
    statuses = [r.status for r in fake.calls("insights")]
    assert statuses == [400] + [200] * 7 + [400] * 3
    assert result.calls == 11


def test_facebook_login_reads_the_linked_account_with_totals(
    fake: FakeInstagram, owner: FakeAccount
) -> None:
    media = fake.add_media(owner, created_at=NOW - timedelta(days=3), likes=7, views=70)
    page = {"kind": FACEBOOK_LOGIN, "access_token": fake.issue_token(owner, kind="page")}
    reader = client(fake)
    result = reader.fetch_metrics([media.code], credentials=page)
    data = result.readings[media.code].platform_data
    assert (data["total_likes"], data["total_comments"], data["total_views"]) == (8, 0, 75)
    assert [r.context for r in fake.requests] == [f"page:{owner.page_id}"] * 3
    assert [r.endpoint for r in fake.requests] == ["node", "media", "insights"]
    account = Account(owner.id, owner.username, owner.name)
    found = reader.discover(account, since_id=None, limit=5, credentials=page)
    assert [p.platform_post_id for p in found.posts] == [media.code]


def test_discovery_lists_captions_permalinks_and_times(
    fake: FakeInstagram, owner: FakeAccount
) -> None:
    reel = fake.add_media(owner, created_at=NOW - timedelta(hours=2), caption="a reel",
                          product="REELS")  # fmt: skip
    fake.add_media(owner, created_at=NOW - timedelta(hours=1), product="STORY", viewers=2)
    page = client(fake).discover(
        Account(owner.id, owner.username, owner.name),
        since_id=None,
        limit=10,
        credentials=login(fake, owner),
    )
    [post] = page.posts  # stories are not in /media
    assert post.platform_post_id == reel.code
    assert post.post_url == f"https://www.instagram.com/reel/{reel.code}/"
    assert (post.content, post.published_at) == ("a reel", NOW - timedelta(hours=2))
    assert parse_cursor(page.newest_id) == (int(post.published_at.timestamp()), reel.code)


def test_account_counters(fake: FakeInstagram, owner: FakeAccount) -> None:
    fake.add_media(owner, created_at=NOW - timedelta(days=1))
    batch = client(fake).fetch_accounts([owner.id], credentials=login(fake, owner))
    reading = batch.readings[owner.id]
    assert (reading.followers, reading.following, reading.posts) == (1200, 80, 1)
    assert batch.calls == 1


def test_an_expired_token_is_refused_and_no_more_is_asked(
    fake: FakeInstagram, owner: FakeAccount, now: Clock
) -> None:
    media = fake.add_media(owner, created_at=NOW - timedelta(days=3))
    credentials = {
        "kind": INSTAGRAM_LOGIN,
        "access_token": fake.issue_token(owner, lifetime=timedelta(hours=1)),
    }
    now.at = NOW + timedelta(hours=2)
    with pytest.raises(TokenRefused) as refused:
        client(fake).fetch_metrics([media.id, "Cabc"], credentials=credentials)
    assert refused.value.code == "instagram_token_expired"
    assert credentials["access_token"] not in refused.value.message
    assert len(fake.requests) == 1


def test_throttling_waits_for_the_accounts_regain_time(
    fake: FakeInstagram, owner: FakeAccount
) -> None:
    media = fake.add_media(owner, created_at=NOW - timedelta(days=3))
    fake.inject("throttled", endpoint="insights")
    with pytest.raises(RateLimited) as throttled:
        client(fake).fetch_metrics([media.id], credentials=login(fake, owner))
    assert throttled.value.retry_at == NOW + timedelta(minutes=30)


def test_deleted_media_and_server_errors(fake: FakeInstagram, owner: FakeAccount) -> None:
    kept, gone = (fake.add_media(owner, created_at=NOW - timedelta(days=d)) for d in (2, 3))
    fake.delete_media(gone.id)
    reader = client(fake)
    result = reader.fetch_metrics([kept.id, gone.id, gone.code], credentials=login(fake, owner))
    assert result.deleted == {gone.id, gone.code}
    assert set(result.readings) == {kept.id}
    fake.inject("server_error", endpoint="insights", status=503)
    with pytest.raises(TransientError):
        reader.fetch_metrics([kept.id], credentials=login(fake, owner))
    fake.inject("transient", endpoint="insights")
    with pytest.raises(TransientError):
        reader.fetch_metrics([kept.id], credentials=login(fake, owner))


def test_a_host_refusing_multi_id_reads_gets_one_call_per_post(
    fake: FakeInstagram, owner: FakeAccount
) -> None:
    fake.insights_lag = timedelta(hours=48)
    fake.multi_id = False
    fresh = [fake.add_media(owner, created_at=NOW - timedelta(hours=1), likes=3) for _ in "ab"]
    result = client(fake).fetch_metrics([m.id for m in fresh], credentials=login(fake, owner))
    assert [result.readings[m.id].likes for m in fresh] == [3, 3]
    assert [r.status for r in fake.calls("ids")] == [400]
    assert len(fake.calls("node")) == 2
    assert result.calls == 5
