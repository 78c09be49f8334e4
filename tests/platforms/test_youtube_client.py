"""YouTubeClient against the fake Data API: lookup, mapping, hidden counts, deleted videos,
malformed statistics, batching, quota, errors, the key's secrecy, and discovery."""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest

from openpost.config import Settings
from openpost.platforms.base import (
    Account,
    BudgetExhausted,
    MalformedResponse,
    NotFound,
    PermissionRequired,
    PlatformClient,
    PlatformError,
    RateLimited,
    TransientError,
)
from openpost.platforms.fakes import LiveServer
from openpost.platforms.youtube.client import YouTubeClient
from openpost.platforms.youtube.fake import (
    DEFAULT_API_KEY,
    FakeChannel,
    FakeYouTube,
    seed,
)
from openpost.platforms.youtube.reading import http_error, parse_cursor
from tests.platforms.support import NOW, Clock

# Summer time in Los Angeles (PDT): the quota comes back at 07:00 UTC.
RESET = datetime(2026, 4, 17, 7, 0, 0, tzinfo=UTC)
KEY = "AIzaSy-Test-Key-0123456789abcdefghijk"


@pytest.fixture
def fake(frozen_clock: Clock) -> FakeYouTube:
    return FakeYouTube(api_key=KEY)


@pytest.fixture
def channel(fake: FakeYouTube) -> FakeChannel:
    return fake.add_channel("openpost", title="OpenPost")


@pytest.fixture
def client(fake: FakeYouTube) -> Iterator[YouTubeClient]:
    with YouTubeClient(api_key=KEY, transport=fake.transport()) as youtube:
        yield youtube


def video(fake: FakeYouTube, channel: FakeChannel, hours_ago: float = 1, **options: Any) -> str:
    return fake.add_video(channel, published_at=NOW - timedelta(hours=hours_ago), **options).id


def as_account(channel: FakeChannel) -> Account:
    return Account(channel.id, channel.handle or channel.id, channel.title)


def _raises(client: YouTubeClient, ids: list[str]) -> PlatformError:
    with pytest.raises(PlatformError) as caught:
        client.fetch_metrics(ids)
    return caught.value


def test_is_a_platform_client(client: YouTubeClient) -> None:
    assert isinstance(client, PlatformClient)
    assert (client.platform, client.batch_size) == ("youtube", 50)
    assert client.rate_window() is None  # YouTube's limit is the daily quota


def test_built_from_settings(fake: FakeYouTube, channel: FakeChannel) -> None:
    settings = Settings(
        env="test",
        youtube_api_key=KEY,
        youtube_api_base_url="https://yt.test/youtube/v3/",
        youtube_daily_quota_units=500,
    )
    with YouTubeClient.from_settings(settings, transport=fake.transport()) as client:
        assert client.base_url == "https://yt.test/youtube/v3"
        assert client.lookup_account("@openpost").external_account_id == channel.id
        assert client.quota().daily_units == 500
    assert fake.requests[0].path == "/youtube/v3/channels"
    with YouTubeClient(api_key="k") as default:
        assert default.base_url == "https://www.googleapis.com/youtube/v3"
    assert Settings(env="test").youtube_api_key == ""


# ---- lookup_account -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "parameter", "value"),
    [
        ("@openpost", "forHandle", "@openpost"),
        ("OpenPost", "forHandle", "@OpenPost"),
        (" @openpost ", "forHandle", "@openpost"),
        ("https://www.youtube.com/@openpost", "forHandle", "@openpost"),
        ("youtube.com/@openpost/videos", "forHandle", "@openpost"),
        ("https://m.youtube.com/@OpenPost?si=x", "forHandle", "@OpenPost"),
        ("https://www.youtube.com/c/openpost", "forHandle", "@openpost"),
        ("https://www.youtube.com/user/OpenPostLegacy", "forUsername", "OpenPostLegacy"),
    ],
)
def test_lookup_resolves_handles_and_channel_urls(
    client: YouTubeClient,
    fake: FakeYouTube,
    typed: str,
    parameter: str,
    value: str,
) -> None:
    channel = fake.add_channel("openpost", title="OpenPost", username="OpenPostLegacy")
    assert client.lookup_account(typed) == Account(channel.id, "openpost", "OpenPost")
    (request,) = fake.requests
    assert request.endpoint == "channels.list"
    assert request.params == {"part": "snippet,contentDetails", parameter: value}
    assert "key" not in request.params
    assert request.keyed


def test_lookup_by_channel_id_and_of_a_channel_without_handle(
    client: YouTubeClient, fake: FakeYouTube
) -> None:
    channel = fake.add_channel(None, title="  ")
    for typed in (channel.id, f"https://www.youtube.com/channel/{channel.id}/featured"):
        assert client.lookup_account(typed) == Account(channel.id, channel.id, channel.id)
    assert [r.params.get("id") for r in fake.requests] == [channel.id, channel.id]


def test_lookup_of_a_handle_in_another_script(client: YouTubeClient, fake: FakeYouTube) -> None:
    channel = fake.add_channel("テスト", title="Test JP")
    for typed in ("@テスト", "https://www.youtube.com/@%E3%83%86%E3%82%B9%E3%83%88"):
        assert client.lookup_account(typed) == Account(channel.id, "テスト", "Test JP")
    assert [r.params["forHandle"] for r in fake.requests] == ["@テスト", "@テスト"]


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "@",
        "ab",
        "two words",
        "@" + "x" * 31,
        "https://example.com/@openpost",
        "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
        "https://www.youtube.com/",
        "ftp://youtube.com/@openpost",
    ],
)
def test_lookup_refuses_impossible_handles_without_a_call(
    client: YouTubeClient, fake: FakeYouTube, typed: str
) -> None:
    with pytest.raises(NotFound) as caught:
        client.lookup_account(typed)
    assert caught.value.code == "youtube_invalid_handle"
    assert "@name" in caught.value.message
    assert fake.requests == []


def test_lookup_of_unknown_and_terminated_channels(
    client: YouTubeClient, fake: FakeYouTube, channel: FakeChannel
) -> None:
    with pytest.raises(NotFound) as missing:
        client.lookup_account("@nobodyhere")
    assert (missing.value.code, missing.value.message) == (
        "youtube_channel_not_found",
        "YouTube has no channel @nobodyhere",
    )
    fake.terminate_channel(channel)
    with pytest.raises(NotFound):
        client.lookup_account("@openpost")
    assert [r.status for r in fake.requests] == [200, 200]  # "not found" is an empty list


# ---- fetch_metrics: mapping ------------------------------------------------------------------


def test_statistics_are_mapped_strings_to_ints_views_as_impressions(
    client: YouTubeClient, fake: FakeYouTube, channel: FakeChannel
) -> None:
    video_id = video(fake, channel, views=1_500_000, likes=18_000, comments=950)
    result = client.fetch_metrics([video_id])
    reading = result.readings[video_id]
    assert (reading.impressions, reading.likes, reading.comments, reading.shares) == (
        1_500_000,
        18_000,
        950,
        None,
    )
    assert reading.platform_data == {
        "impressions_kind": "views",
        "viewCount": 1_500_000,
        "likeCount": 18_000,
        "commentCount": 950,
        "favoriteCount": 0,
    }
    assert (result.deleted, result.errors) == (set(), {})
    (request,) = fake.requests
    assert (request.endpoint, request.params) == (
        "videos.list",
        {"part": "statistics", "id": video_id},
    )


def test_zero_is_measured_zero_and_counters_are_read_afresh(
    client: YouTubeClient, fake: FakeYouTube, channel: FakeChannel
) -> None:
    video_id = video(fake, channel)
    reading = client.fetch_metrics([video_id]).readings[video_id]
    assert (reading.impressions, reading.likes, reading.comments) == (0, 0, 0)
    fake.set_stats(video_id, viewCount="12345678901234", likeCount="7")
    reading = client.fetch_metrics([video_id]).readings[video_id]
    assert (reading.impressions, reading.likes) == (12_345_678_901_234, 7)


def test_hidden_likes_and_disabled_comments_are_null_never_zero(
    client: YouTubeClient, fake: FakeYouTube, channel: FakeChannel
) -> None:
    hidden = video(fake, channel, views=10, likes=5, likes_hidden=True)
    closed = video(fake, channel, views=20, comments=3, comments_disabled=True)
    both = video(fake, channel, views=30, likes_hidden=True, comments_disabled=True)
    readings = client.fetch_metrics([hidden, closed, both]).readings
    assert (readings[hidden].likes, readings[hidden].comments) == (None, 0)
    assert "likeCount" not in readings[hidden].platform_data
    assert (readings[closed].likes, readings[closed].comments) == (0, None)
    assert "commentCount" not in readings[closed].platform_data
    assert (readings[both].impressions, readings[both].likes, readings[both].comments) == (
        30,
        None,
        None,
    )
    fake.hide_likes(closed)  # the owner changes the setting later
    assert client.fetch_metrics([closed]).readings[closed].likes is None


def test_removed_private_and_unknown_videos_are_reported_deleted(
    client: YouTubeClient, fake: FakeYouTube, channel: FakeChannel
) -> None:
    kept, removed, private, unlisted = (video(fake, channel, views=n) for n in (1, 2, 3, 4))
    fake.remove_video(removed)
    fake.set_privacy(private, "private")
    fake.set_privacy(unlisted, "unlisted")
    unknown = "AAAAAAAAAAA"
    result = client.fetch_metrics([kept, removed, private, unlisted, unknown])
    assert set(result.readings) == {kept, unlisted}
    assert result.deleted == {removed, private, unknown}
    assert result.errors == {}
    assert len(fake.requests) == 1
    assert fake.requests[0].status == 200


def test_videos_of_a_terminated_channel_are_deleted(
    client: YouTubeClient, fake: FakeYouTube, channel: FakeChannel
) -> None:
    video_id = video(fake, channel)
    fake.terminate_channel(channel)
    assert client.fetch_metrics([video_id]).deleted == {video_id}


@pytest.mark.parametrize(
    ("statistics", "field"),
    [
        ({"viewCount": None}, "viewCount"),  # absent: views are always reported
        ({"viewCount": 1500}, "viewCount"),  # a number, not YouTube's string
        ({"likeCount": "12abc"}, "likeCount"),
        ({"likeCount": "-3"}, "likeCount"),
        ({"commentCount": "1.5"}, "commentCount"),
        ({"commentCount": ["4"]}, "commentCount"),
        ({"favoriteCount": True}, "favoriteCount"),
        ({"viewCount": "99999999999999999999"}, "viewCount"),  # beyond a 64-bit count
        ({"viewCount": " 12"}, "viewCount"),
    ],
)
def test_a_malformed_statistic_fails_that_video_only(
    client: YouTubeClient,
    fake: FakeYouTube,
    channel: FakeChannel,
    statistics: dict[str, Any],
    field: str,
) -> None:
    good, bad = video(fake, channel, views=5), video(fake, channel, views=6)
    for name, value in statistics.items():
        if value is None:
            fake.videos[bad].statistics.pop(name)
        else:
            fake.set_stats(bad, **{name: value})
    result = client.fetch_metrics([good, bad])
    assert result.readings[good].impressions == 5
    assert bad not in result.readings
    assert bad not in result.deleted
    error = result.errors[bad]
    assert type(error) is MalformedResponse
    assert error.code == "youtube_malformed"
    assert field in error.message


def test_statistics_that_are_not_an_object_fail_that_video(
    client: YouTubeClient, fake: FakeYouTube, channel: FakeChannel
) -> None:
    bad = video(fake, channel)
    fake.videos[bad].statistics = "hidden"  # type: ignore[assignment]
    error = client.fetch_metrics([bad]).errors[bad]
    assert error.message == "YouTube's answer has no statistics for this video"


# ---- fetch_metrics: batching --------------------------------------------------------------


def test_n_ids_cost_ceil_n_over_50_calls_and_as_many_units(
    client: YouTubeClient, fake: FakeYouTube, channel: FakeChannel
) -> None:
    ids = [video(fake, channel, hours_ago=n, views=n) for n in range(1, 121)]
    readings = {}
    for start in range(0, len(ids), client.batch_size):
        readings.update(client.fetch_metrics(ids[start : start + client.batch_size]).readings)
    assert len(readings) == 120
    assert len(fake.calls("videos.list")) == math.ceil(120 / 50) == 3
    assert [len(r.params["id"].split(",")) for r in fake.calls("videos.list")] == [50, 50, 20]
    assert client.quota().units_spent == fake.quota_used == 3
    assert client.calls == {"videos": 3}


def test_more_than_50_ids_are_refused_before_any_call(
    client: YouTubeClient, fake: FakeYouTube, channel: FakeChannel
) -> None:
    ids = [video(fake, channel, hours_ago=n) for n in range(1, 52)]
    with pytest.raises(ValueError, match="at most 50 videos per call, not 51"):
        client.fetch_metrics(ids)
    assert fake.requests == []
    result = client.fetch_metrics(ids[:50] + ids[:10])  # repeated ids collapse
    assert len(result.readings) == 50
    assert len(fake.requests) == 1


def test_impossible_ids_fail_without_a_call(client: YouTubeClient, fake: FakeYouTube) -> None:
    result = client.fetch_metrics(["short", "https://youtu.be/x", "dQw4w9WgXc!"])
    assert set(result.errors) == {"short", "https://youtu.be/x", "dQw4w9WgXc!"}
    assert {e.code for e in result.errors.values()} == {"youtube_invalid_id"}
    assert fake.requests == []


# ---- quota and throttling -------------------------------------------------------------------


def test_quota_exhaustion_pauses_until_midnight_pacific_then_resumes(
    client: YouTubeClient, fake: FakeYouTube, channel: FakeChannel, frozen_clock: Clock
) -> None:
    video_id = video(fake, channel)
    fake.set_daily_quota(3)
    for _ in range(3):
        client.fetch_metrics([video_id])
    error = _raises(client, [video_id])
    assert type(error) is BudgetExhausted
    assert (error.code, error.outcome, error.transient) == (
        "youtube_quota_exceeded",
        "rate_limited",
        True,
    )
    assert error.retry_at == RESET
    assert "midnight Pacific" in error.message
    assert fake.requests[-1].status == 403
    assert fake.requests[-1].cost == 0
    state = client.quota()
    assert (state.day, state.units_spent, state.exhausted) == (date(2026, 4, 16), 3, True)
    assert (state.units_left, state.resets_at) == (0, RESET)

    frozen_clock.now = RESET - timedelta(seconds=1)
    assert type(_raises(client, [video_id])) is BudgetExhausted
    frozen_clock.now = RESET
    assert client.fetch_metrics([video_id]).readings
    state = client.quota()
    assert (state.day, state.units_spent, state.exhausted) == (date(2026, 4, 17), 1, False)
    assert state.resets_at == datetime(2026, 4, 18, 7, 0, tzinfo=UTC)


def test_quota_reset_in_winter_and_on_a_clock_change(
    client: YouTubeClient, fake: FakeYouTube, channel: FakeChannel, frozen_clock: Clock
) -> None:
    video_id = video(fake, channel)
    fake.inject("quota_exceeded", times=None)
    frozen_clock.now = datetime(2026, 1, 10, 20, 0, tzinfo=UTC)  # PST
    assert _raises(client, [video_id]).retry_at == datetime(2026, 1, 11, 8, 0, tzinfo=UTC)
    frozen_clock.now = datetime(2026, 3, 8, 9, 0, tzinfo=UTC)  # 01:00 PST, the day clocks spring on
    assert _raises(client, [video_id]).retry_at == datetime(2026, 3, 9, 7, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("fault", "options", "kind", "code", "retry_at"),
    [
        ("daily_limit", {}, BudgetExhausted, "youtube_quota_exceeded", RESET),
        ("rate_limited", {}, RateLimited, "youtube_rate_limited", NOW + timedelta(minutes=1)),
        ("user_rate_limited", {}, RateLimited, "youtube_rate_limited", NOW + timedelta(minutes=1)),
        ("too_many_requests", {}, RateLimited, "youtube_rate_limited", NOW + timedelta(seconds=30)),
        ("server_error", {"status": 503}, TransientError, "youtube_server_error", None),
        ("server_error", {"status": 500}, TransientError, "youtube_server_error", None),
        ("server_error", {"status": 502}, TransientError, "youtube_server_error", None),
        ("forbidden", {}, PermissionRequired, "youtube_forbidden", None),
        ("access_not_configured", {}, PermissionRequired, "youtube_access_not_configured", None),
        ("not_json", {}, MalformedResponse, "youtube_malformed", None),
        ("wrong_shape", {}, MalformedResponse, "youtube_malformed", None),
    ],
)
def test_error_answers_map_to_platform_errors(
    client: YouTubeClient,
    fake: FakeYouTube,
    channel: FakeChannel,
    fault: Any,
    options: dict[str, Any],
    kind: type[PlatformError],
    code: str,
    retry_at: datetime | None,
) -> None:
    video_id = video(fake, channel)
    fake.inject(fault, **options)
    error = _raises(client, [video_id])
    assert type(error) is kind
    assert error.code == code
    assert error.retry_at == retry_at
    assert client.fetch_metrics([video_id]).readings  # the fault was one answer only


def test_slow_answer_times_out_and_unreachable_server_is_transient(
    fake: FakeYouTube, channel: FakeChannel
) -> None:
    video_id = video(fake, channel)
    fake.inject("slow", delay=2.0)
    with YouTubeClient(api_key=KEY, transport=fake.transport(), timeout=0.05) as impatient:
        error = _raises(impatient, [video_id])
    assert (type(error), error.code) == (TransientError, "youtube_timeout")
    with LiveServer(FakeYouTube().app) as server:
        url = server.url  # a loopback port that is closed once the server stops
    with YouTubeClient(api_key=KEY, base_url=url + "/youtube/v3", timeout=2) as gone:
        error = _raises(gone, [video_id])
    assert (type(error), error.code) == (TransientError, "youtube_unreachable")


# ---- the API key ----------------------------------------------------------------------------


@pytest.mark.parametrize("style", ["keyInvalid", "API_KEY_INVALID"])
def test_a_bad_key_asks_the_operator_and_costs_nothing(
    fake: FakeYouTube, channel: FakeChannel, style: Any
) -> None:
    video_id = video(fake, channel)
    fake.key_style = style
    with YouTubeClient(api_key="AIza-wrong", transport=fake.transport()) as wrong:
        error = _raises(wrong, [video_id])
        assert type(error) is PermissionRequired
        assert error.code == "youtube_key_invalid"
        assert f"({style})" in error.message
        assert "OPENPOST_YOUTUBE_API_KEY" in error.message
        assert wrong.quota().units_spent == 0
        with pytest.raises(PermissionRequired):
            wrong.lookup_account("@openpost")
    assert [(r.status, r.cost, r.keyed) for r in fake.requests] == [(400, 0, False)] * 2


def test_without_a_key_nothing_is_sent(fake: FakeYouTube, channel: FakeChannel) -> None:
    video_id = video(fake, channel)
    with YouTubeClient(api_key="  ", transport=fake.transport()) as unset:
        for call in (
            lambda: unset.fetch_metrics([video_id]),
            lambda: unset.lookup_account("@openpost"),
            lambda: unset.discover(as_account(channel), since_id=None, limit=10),
        ):
            with pytest.raises(PermissionRequired) as caught:
                call()
            assert caught.value.code == "youtube_not_configured"
            assert "OPENPOST_YOUTUBE_API_KEY" in caught.value.message
    assert fake.requests == []


def test_the_key_never_reaches_logs_errors_or_reprs(
    fake: FakeYouTube, channel: FakeChannel, caplog: pytest.LogCaptureFixture
) -> None:
    video_id = video(fake, channel)
    caplog.set_level(logging.DEBUG)  # every logger…
    # …httpx's request log included, which the service's logging set-up quietens (an earlier
    # test in the same process may have run it)
    caplog.set_level(logging.DEBUG, logger="httpx")
    seen: list[str] = []
    with YouTubeClient(api_key=KEY, transport=fake.transport()) as client:
        seen.append(repr(client))
        client.lookup_account("@openpost")
        client.fetch_metrics([video_id])
        client.discover(as_account(channel), since_id=None, limit=5)
        for fault in ("quota_exceeded", "rate_limited", "server_error", "forbidden", "not_json"):
            fake.inject(fault)
            seen.append(_raises(client, [video_id]).message)
    fake.api_keys = {"another-key"}
    with YouTubeClient(api_key=KEY, transport=fake.transport()) as refused:
        error = _raises(refused, [video_id])
        seen += [error.message, str(error), repr(error)]
    assert fake.requests
    assert all(r.keyed for r in fake.requests[:-1])
    records = [r.getMessage() + repr(vars(r)) for r in caplog.records]
    assert any("HTTP Request: GET https://www.googleapis.com/youtube/v3/" in r for r in records)
    for text in records + seen:
        assert KEY not in text  # …and is nowhere else


def test_a_google_message_echoing_the_key_is_scrubbed() -> None:
    body = {"error": {"code": 400, "message": f"Bad value for key {KEY}", "errors": []}}
    response = httpx.Response(400, json=body)
    error = http_error(response, NOW, secret=KEY)
    assert error.code == "youtube_http_400"
    assert KEY not in error.message
    assert "Bad value for key" in error.message


# ---- discovery ------------------------------------------------------------------------------


def uploads(fake: FakeYouTube, channel: FakeChannel, count: int) -> list[str]:
    """``count`` videos one hour apart, newest first."""
    return [video(fake, channel, hours_ago=n + 1, views=100 * (n + 1)) for n in range(count)]


def test_discovery_returns_uploads_newest_first_with_their_counters(
    client: YouTubeClient, fake: FakeYouTube, channel: FakeChannel
) -> None:
    made = uploads(fake, channel, 4)
    fake.set_privacy(made[1], "private")
    fake.remove_video(made[2])
    fake.hide_likes(made[3])
    page = client.discover(as_account(channel), since_id=None, limit=50)
    assert [p.platform_post_id for p in page.posts] == [made[0], made[3]]
    assert video_of(page.newest_id) == made[0]
    first = page.posts[0]
    assert first.post_url == f"https://www.youtube.com/watch?v={made[0]}"
    assert first.published_at == NOW - timedelta(hours=1)
    assert first.content == fake.videos[made[0]].title
    assert first.reading is not None
    assert first.reading.impressions == 100
    last = page.posts[1].reading
    assert last is not None
    assert (last.impressions, last.likes) == (400, None)
    playlist, videos = fake.calls("playlistItems.list"), fake.calls("videos.list")
    assert playlist[0].params == {
        "part": "snippet,contentDetails,status",
        "playlistId": "UU" + channel.id[2:],
        "maxResults": "50",
    }
    assert videos[0].params == {"part": "statistics", "id": f"{made[0]},{made[3]}"}
    assert client.quota().units_spent == 2


def test_discovery_pages_but_never_returns_more_than_its_limit(
    client: YouTubeClient, fake: FakeYouTube, channel: FakeChannel
) -> None:
    made = uploads(fake, channel, 130)
    page = client.discover(as_account(channel), since_id=None, limit=120)
    assert [p.platform_post_id for p in page.posts] == made[:120]
    assert all(p.reading is not None for p in page.posts)
    assert [len(r.params["id"].split(",")) for r in fake.calls("videos.list")] == [50, 50, 20]
    assert len(fake.calls("playlistItems.list")) == 3
    tokens = [r.params.get("pageToken") for r in fake.calls("playlistItems.list")]
    assert tokens[0] is None
    assert len(set(tokens)) == 3
    fake.requests.clear()
    small = client.discover(as_account(channel), since_id=None, limit=3)
    assert [p.platform_post_id for p in small.posts] == made[:3]
    assert [r.endpoint for r in fake.requests] == ["playlistItems.list", "videos.list"]


def test_discovery_since_id_reads_only_what_is_new(
    client: YouTubeClient, fake: FakeYouTube, channel: FakeChannel
) -> None:
    made = uploads(fake, channel, 80)
    first = client.discover(as_account(channel), since_id=None, limit=60)
    assert video_of(first.newest_id) == made[0]
    newer = [video(fake, channel, hours_ago=0.5 - n / 10) for n in range(3)][::-1]
    fake.requests.clear()
    second = client.discover(as_account(channel), since_id=first.newest_id, limit=60)
    assert [p.platform_post_id for p in second.posts] == newer
    assert video_of(second.newest_id) == newer[0]
    assert [r.endpoint for r in fake.requests] == ["playlistItems.list", "videos.list"]
    fake.requests.clear()
    idle = client.discover(as_account(channel), since_id=second.newest_id, limit=60)
    assert (idle.posts, idle.newest_id) == ([], second.newest_id)
    assert [r.endpoint for r in fake.requests] == ["playlistItems.list"]  # 1 unit


def test_discovery_since_a_video_deleted_since_stops_at_older_videos(
    client: YouTubeClient, fake: FakeYouTube, channel: FakeChannel
) -> None:
    """Video ids carry no order: the cursor also carries its video's publish time, so that
    once its video is deleted the older videos are still recognised as already seen."""
    made = uploads(fake, channel, 10)
    first = client.discover(as_account(channel), since_id=None, limit=50)
    fake.remove_video(made[0])
    page = client.discover(as_account(channel), since_id=first.newest_id, limit=4)
    assert page.posts == []
    assert page.newest_id == first.newest_id


def test_a_bare_video_id_cursor_of_before_is_still_read(
    client: YouTubeClient, fake: FakeYouTube, channel: FakeChannel
) -> None:
    """Cursors stored before they carried a time are bare video ids: read as before (the
    id alone), and the next cursor carries the time."""
    made = uploads(fake, channel, 5)
    page = client.discover(as_account(channel), since_id=made[2], limit=50)
    assert [p.platform_post_id for p in page.posts] == made[:2]
    assert page.newest_id is not None
    assert video_of(page.newest_id) == made[0]
    assert "@" in page.newest_id


@pytest.mark.parametrize("cursor", ["nope", "dQw4w9WgXcQ@soon", "dQw4w9WgXcQ@\u0661"])
def test_a_malformed_cursor_is_refused(
    client: YouTubeClient, channel: FakeChannel, cursor: str
) -> None:
    with pytest.raises(ValueError, match="cursor"):
        client.discover(as_account(channel), since_id=cursor, limit=5)


def test_discovery_keeps_a_video_whose_counters_are_malformed(
    client: YouTubeClient, fake: FakeYouTube, channel: FakeChannel
) -> None:
    made = uploads(fake, channel, 2)
    fake.set_stats(made[0], viewCount="many")
    page = client.discover(as_account(channel), since_id=None, limit=10)
    assert [p.platform_post_id for p in page.posts] == made
    assert page.posts[0].reading is None
    assert page.posts[1].reading is not None


def test_discovery_asks_the_channel_when_the_derived_playlist_is_not_found(
    client: YouTubeClient, fake: FakeYouTube
) -> None:
    odd = fake.add_channel("oddchannel", uploads_id="UUodd-playlist-of-this-channel")
    made = uploads(fake, odd, 2)
    page = client.discover(as_account(odd), since_id=None, limit=10)
    assert [p.platform_post_id for p in page.posts] == made
    assert [(r.endpoint, r.status) for r in fake.requests] == [
        ("playlistItems.list", 404),
        ("channels.list", 200),
        ("playlistItems.list", 200),
        ("videos.list", 200),
    ]
    assert fake.requests[1].params == {"part": "contentDetails", "id": odd.id}


def test_discovery_of_empty_terminated_and_invalid_channels(
    client: YouTubeClient, fake: FakeYouTube, channel: FakeChannel
) -> None:
    empty = client.discover(as_account(channel), since_id=None, limit=10)
    assert (empty.posts, empty.newest_id) == ([], None)
    assert [r.endpoint for r in fake.requests] == ["playlistItems.list"]
    fake.terminate_channel(channel)
    with pytest.raises(NotFound) as gone:
        client.discover(as_account(channel), since_id=None, limit=10)
    assert gone.value.code == "youtube_channel_not_found"
    fake.requests.clear()
    with pytest.raises(NotFound) as invalid:
        client.discover(Account("not-a-channel", "x", "x"), since_id=None, limit=10)
    assert invalid.value.code == "youtube_invalid_account"
    with pytest.raises(ValueError, match="since_id"):
        client.discover(as_account(channel), since_id="bad id", limit=10)
    assert fake.requests == []


def test_discovery_with_the_quota_spent(
    client: YouTubeClient, fake: FakeYouTube, channel: FakeChannel
) -> None:
    uploads(fake, channel, 3)
    fake.exhaust_quota()
    with pytest.raises(BudgetExhausted) as caught:
        client.discover(as_account(channel), since_id=None, limit=10)
    assert caught.value.retry_at == RESET


# ---- over a real socket ------------------------------------------------------------------------


def test_seeded_world_through_a_real_server() -> None:
    fake = FakeYouTube()
    seed(fake, videos=12)
    with (
        LiveServer(fake.app) as server,
        YouTubeClient(api_key=DEFAULT_API_KEY, base_url=server.url + "/youtube/v3") as client,
    ):
        account = client.lookup_account("https://www.youtube.com/@openpost")
        page = client.discover(account, since_id=None, limit=50)
        result = client.fetch_metrics([p.platform_post_id for p in page.posts])
    assert account.display_name == "OpenPost"
    assert len(page.posts) == 12  # the private and the removed videos are left out
    assert len(result.readings) == 12
    assert not result.deleted
    assert not result.errors
    newest = result.readings[page.posts[0].platform_post_id]
    assert newest.likes is None  # the seed hides the newest video's likes
    assert [r.endpoint for r in fake.requests] == [
        "channels.list",
        "playlistItems.list",
        "videos.list",
        "videos.list",
    ]


def video_of(cursor: str | None) -> str | None:
    """The video a discovery cursor names."""
    return parse_cursor(cursor)[0] if cursor is not None else None
