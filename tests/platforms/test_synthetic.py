"""The test-mode simulator: deterministic, monotone, platform-faithful, behind the Protocol."""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openpost.core import clock
from openpost.platforms.base import NotFound, PlatformClient
from openpost.platforms.synthetic.client import (
    BATCH_SIZES,
    SyntheticClient,
    make_post_id,
    post_url,
    published_at_of,
    simulate,
)

PLATFORMS = sorted(BATCH_SIZES)
NOW = datetime(2026, 4, 16, 10, 0, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
ACCOUNT = SyntheticClient("bluesky").lookup_account("openpost.bsky.social")


@pytest.fixture
def frozen_clock() -> Iterator[datetime]:
    clock.set_clock(lambda: NOW)
    yield NOW
    clock.set_clock(None)


def _post(platform: str, published_at: datetime, seq: int = 1) -> str:
    account = SyntheticClient(platform).lookup_account("openpost")
    return make_post_id(platform, account, published_at, seq)


@pytest.mark.parametrize("platform", PLATFORMS)
def test_client_implements_the_protocol(platform: str) -> None:
    client = SyntheticClient(platform)
    assert isinstance(client, PlatformClient)
    assert client.platform == platform
    assert client.batch_size == BATCH_SIZES[platform]
    assert client.rate_window() is None


def test_a_synthetic_client_can_pose_as_any_platform() -> None:
    client = SyntheticClient("myspace", batch_size=7)
    assert (client.platform, client.batch_size) == ("myspace", 7)
    post_id = _post("myspace", NOW - DAY)
    reading = simulate("myspace", post_id, NOW - DAY, NOW)
    assert reading.impressions is not None
    assert reading.impressions > 0


def test_simulate_is_deterministic_and_pinned() -> None:
    """hashlib, not hash(): the same numbers in every process (PYTHONHASHSEED varies)."""
    published = datetime(2026, 4, 1, 12, 0, 0, tzinfo=UTC)
    first = simulate("twitter", "1907000000000000001", published, published + 3 * DAY)
    again = simulate("twitter", "1907000000000000001", published, published + 3 * DAY)
    assert first == again
    assert (first.impressions, first.likes, first.comments, first.shares) == (7342, 135, 9, 34)


@pytest.mark.parametrize("platform", PLATFORMS)
@settings(max_examples=40)
@given(
    offset=st.integers(min_value=0, max_value=400 * 86400),
    seq=st.integers(min_value=0, max_value=1023),
)
def test_post_ids_carry_their_publication_time(platform: str, offset: int, seq: int) -> None:
    published = datetime(2025, 1, 1, tzinfo=UTC) + timedelta(seconds=offset)
    account = SyntheticClient(platform).lookup_account("openpost")
    post_id = make_post_id(platform, account, published, seq)
    assert published_at_of(platform, post_id) == published
    assert make_post_id(platform, account, published, seq + 1) != post_id


def test_real_ids_decode_to_their_real_times() -> None:
    # X snowflake 1790000000000000001 was minted 2024-05-13 12:43:51.248 UTC
    assert published_at_of("twitter", "1790000000000000001") == datetime(
        2024, 5, 13, 12, 43, 51, 248000, tzinfo=UTC
    )
    assert published_at_of("bluesky", "at://did:plc:abc/app.bsky.feed.post/3lq2xyzabcdef")
    assert published_at_of("twitter", "not-a-number") is None
    assert published_at_of("youtube", "short") is None
    assert published_at_of("bluesky", "at://did:plc:abc/app.bsky.feed.post/NOPE") is None


@pytest.mark.parametrize(
    ("platform", "url"),
    [
        ("twitter", "https://x.com/openpost/status/{id}"),
        ("mastodon", "https://mastodon.social/@openpost/{id}"),
        ("youtube", "https://www.youtube.com/watch?v={id}"),
        ("linkedin", "https://www.linkedin.com/feed/update/{id}/"),
        ("tiktok", "https://www.tiktok.com/@openpost/video/{id}"),
    ],
)
def test_post_urls(platform: str, url: str) -> None:
    account = SyntheticClient(platform).lookup_account("openpost")
    post_id = make_post_id(platform, account, NOW, 3)
    assert post_url(platform, account, post_id) == url.format(id=post_id)


def test_bluesky_ids_are_at_uris_and_urls_use_the_rkey() -> None:
    post_id = make_post_id("bluesky", ACCOUNT, NOW, 3)
    assert post_id.startswith(f"at://{ACCOUNT.external_account_id}/app.bsky.feed.post/")
    rkey = post_id.rsplit("/", 1)[1]
    assert len(rkey) == 13
    assert post_url("bluesky", ACCOUNT, post_id) == (
        f"https://bsky.app/profile/openpost.bsky.social/post/{rkey}"
    )


@pytest.mark.parametrize("platform", PLATFORMS)
@settings(max_examples=40)
@given(
    seq=st.integers(min_value=0, max_value=1023),
    first=st.floats(min_value=-48.0, max_value=24.0 * 120),
    gap=st.floats(min_value=0.0, max_value=24.0 * 120),
)
def test_counters_never_decrease_except_a_single_unlike(
    platform: str, seq: int, first: float, gap: float
) -> None:
    published = NOW - 100 * DAY
    post_id = _post(platform, published, seq)
    early = simulate(platform, post_id, published, published + timedelta(hours=first))
    late = simulate(platform, post_id, published, published + timedelta(hours=first + gap))
    for metric in ("impressions", "comments", "shares"):
        before, after = getattr(early, metric), getattr(late, metric)
        assert (before is None) == (after is None)
        assert before is None or after >= before, metric
    assert early.likes is not None
    assert late.likes is not None
    assert late.likes >= early.likes - 1


def test_likes_dip_by_one_now_and_then() -> None:
    """Documented: an occasional unlike gives a negative delta; never more than one."""
    published = NOW - 90 * DAY
    drops = []
    for seq in range(60):
        post_id = _post("twitter", published, seq)
        likes = [
            simulate("twitter", post_id, published, published + h * HOUR).likes or 0
            for h in range(0, 24 * 90, 6)
        ]
        drops += [b - a for a, b in itertools.pairwise(likes) if b < a]
    assert drops
    assert set(drops) == {-1}


@pytest.mark.parametrize("platform", PLATFORMS)
def test_nothing_before_publication(platform: str) -> None:
    post_id = _post(platform, NOW)
    for at in (NOW, NOW - HOUR):
        reading = simulate(platform, post_id, NOW, at)
        values = [reading.impressions, reading.likes, reading.comments, reading.shares]
        assert {v for v in values if v is not None} == {0}


@pytest.mark.parametrize(
    ("platform", "impressions_null", "shares_null", "kind"),
    [
        ("twitter", False, False, None),
        ("bluesky", True, False, None),
        ("mastodon", True, False, None),
        ("youtube", False, True, "views"),
        ("threads", False, False, "views"),
        ("instagram", False, False, "views"),
        ("facebook", False, False, "views"),
        ("tiktok", False, False, "plays"),
        ("linkedin", False, False, None),
        ("pinterest", False, False, None),
    ],
)
def test_null_rules_per_platform(
    platform: str, impressions_null: bool, shares_null: bool, kind: str | None
) -> None:
    published = NOW - 5 * DAY
    reading = simulate(platform, _post(platform, published), published, NOW)
    assert (reading.impressions is None) is impressions_null
    assert (reading.shares is None) is shares_null
    assert reading.likes is not None
    assert reading.comments is not None
    assert reading.platform_data.get("impressions_kind") == kind


def test_twitter_platform_data_and_shares() -> None:
    published = NOW - 2 * DAY
    reading = simulate("twitter", _post("twitter", published, 7), published, NOW)
    data = reading.platform_data
    assert set(data) == {
        "retweet_count",
        "quote_count",
        "reply_count",
        "like_count",
        "bookmark_count",
        "impression_count",
    }
    assert reading.shares == data["retweet_count"] + data["quote_count"]
    assert reading.impressions == data["impression_count"]
    assert reading.likes == data["like_count"]
    assert reading.comments == data["reply_count"]


def test_youtube_reports_views_as_impressions() -> None:
    published = NOW - 2 * DAY
    reading = simulate("youtube", _post("youtube", published), published, NOW)
    assert reading.impressions == reading.platform_data["viewCount"]
    assert reading.platform_data["impressions_kind"] == "views"
    assert reading.shares is None


def test_bluesky_and_mastodon_keep_their_own_counter_names() -> None:
    published = NOW - 2 * DAY
    sky = simulate("bluesky", _post("bluesky", published), published, NOW)
    assert sky.shares == sky.platform_data["repostCount"] + sky.platform_data["quoteCount"]
    assert sky.likes == sky.platform_data["likeCount"]
    toot = simulate("mastodon", _post("mastodon", published), published, NOW)
    assert toot.likes == toot.platform_data["favourites_count"]
    assert toot.shares == toot.platform_data["reblogs_count"] + toot.platform_data["quotes_count"]


def test_posts_vary_and_grow_mostly_in_their_first_day() -> None:
    published = NOW - 89 * DAY
    ids = [_post("twitter", published, seq) for seq in range(40)]
    final = [simulate("twitter", i, published, NOW).impressions or 0 for i in ids]
    day_one = [simulate("twitter", i, published, published + DAY).impressions or 0 for i in ids]
    assert len(set(final)) > 35
    assert max(final) > 5 * min(final)
    assert statistics.mean(d / f for d, f in zip(day_one, final, strict=True)) > 0.8


def test_fetch_metrics_reads_at_clock_now(frozen_clock: datetime) -> None:
    client = SyntheticClient("twitter")
    published = [frozen_clock - HOUR * h for h in (1, 30, 300)]
    ids = [_post("twitter", p, n) for n, p in enumerate(published)]
    result = client.fetch_metrics(ids)
    assert result.deleted == set()
    assert result.errors == {}
    for post_id, when in zip(ids, published, strict=True):
        assert result.readings[post_id] == simulate("twitter", post_id, when, frozen_clock)
    assert client.requests == 1


def test_fetch_metrics_reports_unknown_and_gone_ids_deleted(frozen_clock: datetime) -> None:
    alive = _post("mastodon", frozen_clock - DAY, 1)
    gone = _post("mastodon", frozen_clock - DAY, 2)
    client = SyntheticClient("mastodon", gone=[gone])
    result = client.fetch_metrics([alive, gone, "no-such-status"])
    assert set(result.readings) == {alive}
    assert result.deleted == {gone, "no-such-status"}


@pytest.mark.parametrize("platform", ["twitter", "bluesky", "mastodon", "youtube", "pinterest"])
def test_batch_size_is_enforced(platform: str, frozen_clock: datetime) -> None:
    client = SyntheticClient(platform)
    ids = [_post(platform, frozen_clock - DAY, seq) for seq in range(client.batch_size + 1)]
    assert len(client.fetch_metrics(ids[:-1]).readings) == client.batch_size
    with pytest.raises(ValueError, match=f"at most {client.batch_size}"):
        client.fetch_metrics(ids)
    assert client.requests == 1


def test_lookup_account_is_deterministic() -> None:
    first = SyntheticClient("twitter").lookup_account("@open_post")
    assert first == SyntheticClient("twitter").lookup_account("open_post")
    assert first.username == "open_post"
    assert first.display_name == "Open Post"
    assert first.external_account_id.isdigit()
    other = SyntheticClient("twitter").lookup_account("someone_else")
    assert other.external_account_id != first.external_account_id
    sky = SyntheticClient("bluesky").lookup_account("open_post")
    assert sky.external_account_id.startswith("did:plc:")
    assert SyntheticClient("youtube").lookup_account("openpost").external_account_id[:2] == "UC"


@pytest.mark.parametrize("handle", ["", "@", "has space", "x" * 101, "<script>"])
def test_lookup_account_rejects_impossible_handles(handle: str) -> None:
    with pytest.raises(NotFound):
        SyntheticClient("twitter").lookup_account(handle)


def test_discover_lists_newest_first_within_the_limit(frozen_clock: datetime) -> None:
    client = SyntheticClient("twitter")
    account = client.lookup_account("openpost")
    page = client.discover(account, since_id=None, limit=10)
    assert len(page.posts) == 10
    times = [p.published_at for p in page.posts]
    assert times == sorted(times, reverse=True)
    assert times[0] <= frozen_clock
    assert page.newest_id == page.posts[0].platform_post_id
    for post in page.posts:
        assert published_at_of("twitter", post.platform_post_id) == post.published_at
        assert post.post_url == f"https://x.com/openpost/status/{post.platform_post_id}"
        assert post.content
        assert post.reading == simulate(
            "twitter", post.platform_post_id, post.published_at, frozen_clock
        )
    assert client.discover(account, since_id=None, limit=10) == page


def test_discover_returns_only_what_is_new() -> None:
    client = SyntheticClient("bluesky")
    account = ACCOUNT
    clock.set_clock(lambda: NOW)
    try:
        first = client.discover(account, since_id=None, limit=5)
        assert client.discover(account, since_id=first.newest_id, limit=5).posts == []
        assert client.discover(account, since_id=first.newest_id, limit=5).newest_id == (
            first.newest_id
        )
        clock.set_clock(lambda: NOW + 10 * DAY)
        later = client.discover(account, since_id=first.newest_id, limit=100)
    finally:
        clock.set_clock(None)
    assert later.posts
    assert all(p.published_at > first.posts[0].published_at for p in later.posts)
    assert all(p.published_at <= NOW + 10 * DAY for p in later.posts)
    # the feed is a fixed grid: 10 more days hold 5 to 40 posts at one per 6-48 h
    assert 5 <= len(later.posts) <= 40
    assert later.newest_id == later.posts[0].platform_post_id
