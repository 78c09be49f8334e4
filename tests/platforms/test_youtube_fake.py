"""The fake YouTube Data API itself: resource shapes, silent omissions, paging, Google's error
envelope, the key check, the quota counter and faults, spoken to with raw httpx."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from openpost.platforms.youtube.fake import (
    DEFAULT_API_KEY,
    FakeChannel,
    FakeYouTube,
    seed,
)
from tests.platforms.support import NOW, Clock, fake_server

BASE = "https://www.googleapis.com/youtube/v3"


@pytest.fixture
def fake(clock: Clock) -> FakeYouTube:
    return FakeYouTube(now=clock)


@pytest.fixture
def channel(fake: FakeYouTube) -> FakeChannel:
    return fake.add_channel("openpost", title="OpenPost")


@pytest.fixture
def http(fake: FakeYouTube) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=BASE, transport=fake.transport()) as client:
        yield client


def get(http: httpx.Client, resource: str, key: str | None = DEFAULT_API_KEY, **params: str) -> Any:
    if key is not None:
        params["key"] = key
    return http.get(f"/{resource}", params=params)


def assert_google_error(response: httpx.Response, status: int, reason: str) -> dict[str, Any]:
    assert response.status_code == status
    error = response.json()["error"]
    assert set(error) >= {"code", "message", "errors", "status"}
    assert error["code"] == status
    (entry,) = error["errors"]
    assert set(entry) >= {"message", "domain", "reason"}
    assert entry["reason"] == reason
    return dict(error)


def test_identifiers_look_like_youtube_ones(fake: FakeYouTube, channel: FakeChannel) -> None:
    assert re.fullmatch(r"UC[A-Za-z0-9_-]{21}[AQgw]", channel.id)
    assert channel.uploads_id == "UU" + channel.id[2:]
    made = {fake.add_video(channel).id for _ in range(20)}
    assert len(made) == 20
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{10}[AEIMQUYcgkosw048]", v) for v in made)


# ---- channels.list ----------------------------------------------------------------------------


def test_channels_by_handle_id_and_username(
    fake: FakeYouTube, http: httpx.Client, channel: FakeChannel
) -> None:
    channel.username = "OpenPostLegacy"
    for params in (
        {"forHandle": "@openpost"},
        {"forHandle": "OpenPost"},
        {"id": f"{channel.id},UCxxxxxxxxxxxxxxxxxxxxxx"},
        {"forUsername": "openpostlegacy"},
    ):
        body = get(http, "channels", part="snippet,contentDetails", **params).json()
        assert body["kind"] == "youtube#channelListResponse"
        (item,) = body["items"]
        assert item["id"] == channel.id
        assert item["snippet"]["customUrl"] == "@openpost"
        assert item["snippet"]["title"] == "OpenPost"
        assert item["contentDetails"]["relatedPlaylists"]["uploads"] == channel.uploads_id
        assert body["pageInfo"] == {"totalResults": 1, "resultsPerPage": 5}
    only_id = get(http, "channels", part="id", id=channel.id).json()["items"][0]
    assert set(only_id) == {"kind", "etag", "id"}


def test_no_channel_found_is_a_200_without_items(
    fake: FakeYouTube, http: httpx.Client, channel: FakeChannel
) -> None:
    missing = get(http, "channels", part="snippet", forHandle="@nobody")
    assert missing.status_code == 200
    assert "items" not in missing.json()
    assert missing.json()["pageInfo"]["totalResults"] == 0
    fake.terminate_channel(channel)
    assert "items" not in get(http, "channels", part="snippet", forHandle="@openpost").json()


def test_channels_parameter_errors(http: httpx.Client) -> None:
    assert_google_error(get(http, "channels", forHandle="@x"), 400, "required")
    unknown = assert_google_error(
        get(http, "channels", part="snippet,bogus", forHandle="@x"), 400, "unknownPart"
    )
    assert unknown["errors"][0]["domain"] == "youtube.part"
    assert_google_error(get(http, "channels", part="snippet"), 400, "missingRequiredParameter")
    both = get(http, "channels", part="snippet", forHandle="@x", id="UCx")
    assert_google_error(both, 400, "incompatibleParameters")
    assert get(http, "channels", part="snippet", mine="true").status_code == 401


# ---- videos.list ------------------------------------------------------------------------------


def test_videos_statistics_are_strings_and_hidden_counts_absent(
    fake: FakeYouTube, http: httpx.Client, channel: FakeChannel
) -> None:
    plain = fake.add_video(channel, views=1500, likes=18, comments=9).id
    hidden = fake.add_video(channel, views=7, likes_hidden=True, comments_disabled=True).id
    body = get(http, "videos", part="statistics,snippet", id=f"{hidden},{plain}").json()
    assert body["kind"] == "youtube#videoListResponse"
    assert [item["id"] for item in body["items"]] == [hidden, plain]  # the order asked
    statistics = {item["id"]: item["statistics"] for item in body["items"]}
    assert statistics[plain] == {
        "viewCount": "1500",
        "likeCount": "18",
        "favoriteCount": "0",
        "commentCount": "9",
    }
    assert statistics[hidden] == {"viewCount": "7", "favoriteCount": "0"}
    assert body["items"][1]["snippet"]["channelId"] == channel.id
    assert body["pageInfo"] == {"totalResults": 2, "resultsPerPage": 2}


def test_removed_private_and_unknown_videos_are_left_out(
    fake: FakeYouTube, http: httpx.Client, channel: FakeChannel
) -> None:
    kept, removed, private, unlisted = (fake.add_video(channel).id for _ in range(4))
    fake.remove_video(removed)
    fake.set_privacy(private, "private")
    fake.set_privacy(unlisted, "unlisted")
    ids = ",".join([kept, removed, private, unlisted, "AAAAAAAAAAA", kept])
    response = get(http, "videos", part="statistics,status", id=ids)
    assert response.status_code == 200
    items = response.json()["items"]
    assert [i["id"] for i in items] == [kept, unlisted]
    assert items[1]["status"]["privacyStatus"] == "unlisted"


def test_malformed_statistics_are_served_as_set(
    fake: FakeYouTube, http: httpx.Client, channel: FakeChannel
) -> None:
    video_id = fake.add_video(channel).id
    fake.set_stats(video_id, viewCount=12, likeCount="lots")
    (item,) = get(http, "videos", part="statistics", id=video_id).json()["items"]
    assert item["statistics"]["viewCount"] == 12
    assert item["statistics"]["likeCount"] == "lots"


def test_videos_refuse_more_than_50_ids_and_bad_parameters(
    fake: FakeYouTube, http: httpx.Client, channel: FakeChannel
) -> None:
    ids = [fake.add_video(channel).id for _ in range(51)]
    too_many = assert_google_error(
        get(http, "videos", part="statistics", id=",".join(ids)), 400, "badRequest"
    )
    assert too_many["status"] == "INVALID_ARGUMENT"
    assert "51" in too_many["message"]
    assert len(get(http, "videos", part="statistics", id=",".join(ids[:50])).json()["items"]) == 50
    assert_google_error(get(http, "videos", part="statistics"), 400, "missingRequiredParameter")
    with_max = get(http, "videos", part="statistics", id=ids[0], maxResults="5")
    assert_google_error(with_max, 400, "incompatibleParameters")
    assert_google_error(get(http, "videos", id=ids[0]), 400, "required")


# ---- playlistItems.list -----------------------------------------------------------------------


def test_uploads_pages_cover_every_video_once_newest_first(
    fake: FakeYouTube, http: httpx.Client, channel: FakeChannel, clock: Clock
) -> None:
    made = [fake.add_video(channel, published_at=NOW - timedelta(hours=n)).id for n in range(12)]
    seen: list[str] = []
    token: str | None = None
    pages = 0
    while True:
        params = {"part": "contentDetails", "playlistId": channel.uploads_id, "maxResults": "5"}
        if token:
            params["pageToken"] = token
        body = get(http, "playlistItems", **params).json()
        pages += 1
        assert body["kind"] == "youtube#playlistItemListResponse"
        assert body["pageInfo"] == {"totalResults": 12, "resultsPerPage": 5}
        seen += [item["contentDetails"]["videoId"] for item in body["items"]]
        token = body.get("nextPageToken")
        if token is None:
            break
    assert seen == made
    assert pages == 3
    default = get(http, "playlistItems", part="id", playlistId=channel.uploads_id).json()
    assert len(default["items"]) == 5  # maxResults defaults to 5


def test_playlist_item_shapes_public_and_private(
    fake: FakeYouTube, http: httpx.Client, channel: FakeChannel
) -> None:
    public = fake.add_video(channel, title="Hello", published_at=NOW - timedelta(hours=1))
    private = fake.add_video(channel, title="Secret", published_at=NOW - timedelta(hours=2))
    fake.set_privacy(private.id, "private")
    body = get(
        http,
        "playlistItems",
        part="snippet,contentDetails,status",
        playlistId=channel.uploads_id,
        maxResults="50",
    ).json()
    first, second = body["items"]
    assert first["snippet"]["title"] == "Hello"
    assert first["snippet"]["resourceId"] == {"kind": "youtube#video", "videoId": public.id}
    assert first["snippet"]["position"] == 0
    assert first["contentDetails"] == {
        "videoId": public.id,
        "videoPublishedAt": "2026-04-16T09:00:00Z",
    }
    assert first["status"] == {"privacyStatus": "public"}
    assert second["snippet"]["title"] == "Private video"
    assert second["contentDetails"] == {"videoId": private.id}
    assert second["status"] == {"privacyStatus": "private"}


def test_playlist_errors(fake: FakeYouTube, http: httpx.Client, channel: FakeChannel) -> None:
    missing = get(http, "playlistItems", part="id", playlistId="UUnothing")
    error = assert_google_error(missing, 404, "playlistNotFound")
    assert error["status"] == "NOT_FOUND"
    bad_token = get(
        http, "playlistItems", part="id", playlistId=channel.uploads_id, pageToken="nonsense"
    )
    assert_google_error(bad_token, 400, "invalidPageToken")
    for value in ("51", "-1", "five"):
        too_many = get(
            http, "playlistItems", part="id", playlistId=channel.uploads_id, maxResults=value
        )
        assert_google_error(too_many, 400, "invalidParameter")
    assert_google_error(get(http, "playlistItems", part="id"), 400, "missingRequiredParameter")
    fake.terminate_channel(channel)
    gone = get(http, "playlistItems", part="id", playlistId=channel.uploads_id)
    assert_google_error(gone, 404, "playlistNotFound")


# ---- the key, the quota, faults, the log --------------------------------------------------------


def test_the_key_check_in_both_styles_costs_nothing(
    fake: FakeYouTube, http: httpx.Client, channel: FakeChannel
) -> None:
    assert_google_error(get(http, "channels", key=None, part="id", id=channel.id), 403, "forbidden")
    legacy = assert_google_error(
        get(http, "channels", key="wrong", part="id", id=channel.id), 400, "keyInvalid"
    )
    assert legacy["errors"][0]["domain"] == "usageLimits"
    assert legacy["message"] == "API key not valid. Please pass a valid API key."
    fake.key_style = "API_KEY_INVALID"
    current = assert_google_error(
        get(http, "channels", key="wrong", part="id", id=channel.id), 400, "badRequest"
    )
    assert current["details"][0]["reason"] == "API_KEY_INVALID"
    assert fake.quota_used == 0
    assert [(r.keyed, r.cost) for r in fake.requests] == [(False, 0)] * 3


def test_quota_counts_every_keyed_request_and_comes_back_at_pacific_midnight(
    fake: FakeYouTube, http: httpx.Client, channel: FakeChannel, clock: Clock
) -> None:
    fake.set_daily_quota(3)
    assert get(http, "videos", part="statistics", id="AAAAAAAAAAA").status_code == 200
    assert get(http, "videos", part="nonsense", id="x").status_code == 400  # costs all the same
    assert get(http, "bogus").status_code == 404  # no method: free
    assert get(http, "channels", part="id", id=channel.id).status_code == 200
    assert fake.quota_used == 3
    spent = assert_google_error(get(http, "videos", part="id", id="x"), 403, "quotaExceeded")
    assert spent["errors"][0]["domain"] == "youtube.quota"
    assert [r.cost for r in fake.requests] == [1, 1, 0, 1, 0]
    clock.now = datetime(2026, 4, 17, 6, 59, 59, tzinfo=UTC)  # 23:59:59 PDT
    assert get(http, "videos", part="id", id="x").status_code == 403
    clock.now = datetime(2026, 4, 17, 7, 0, tzinfo=UTC)  # midnight in Los Angeles
    assert get(http, "videos", part="id", id="x").status_code == 200
    assert fake.quota_used == 1
    fake.exhaust_quota()
    assert get(http, "videos", part="id", id="x").status_code == 403


def test_injected_faults_scope_count_and_cost_nothing(
    fake: FakeYouTube, http: httpx.Client, channel: FakeChannel
) -> None:
    fake.inject("rate_limited", endpoint="videos.list", times=2)
    fake.inject("server_error", endpoint="channels.list", status=500)
    assert get(http, "channels", part="id", id=channel.id).status_code == 500
    assert get(http, "channels", part="id", id=channel.id).status_code == 200
    for _ in range(2):
        assert_google_error(get(http, "videos", part="id", id="x"), 403, "rateLimitExceeded")
    assert get(http, "videos", part="id", id="x").status_code == 200
    fake.inject("too_many_requests", times=None)
    limited = get(http, "videos", part="id", id="x")
    assert (limited.status_code, limited.headers["retry-after"]) == (429, "30")
    fake.clear_faults()
    fake.inject("not_json")
    assert get(http, "videos", part="id", id="x").headers["content-type"].startswith("text/html")
    fake.inject("wrong_shape")
    assert get(http, "videos", part="id", id="x").json()["items"] == {"oops": 1}
    assert [r.cost for r in fake.requests] == [0, 1, 0, 0, 1, 0, 0, 0]


def test_request_log_never_holds_the_key(
    fake: FakeYouTube, http: httpx.Client, channel: FakeChannel
) -> None:
    get(http, "channels", part="id", forHandle="@openpost")
    (request,) = fake.calls("channels.list")
    assert request.params == {"part": "id", "forHandle": "@openpost"}
    assert (request.path, request.status, request.cost, request.keyed) == (
        "/youtube/v3/channels",
        200,
        1,
        True,
    )
    assert fake.calls("videos.list") == []


def test_seed_is_deterministic(clock: Clock) -> None:
    first, second = FakeYouTube(now=clock), FakeYouTube(now=clock)
    seed(first, videos=8)
    seed(second, videos=8)
    assert list(first.videos) == list(second.videos)
    assert [v.statistics for v in first.videos.values()] == [
        v.statistics for v in second.videos.values()
    ]
    assert list(first.channels) == list(second.channels)


def test_runs_as_a_server_process() -> None:
    with fake_server("youtube", "--seed", "--seed-videos", "3") as url:
        params = {"part": "contentDetails", "forHandle": "@openpost", "key": DEFAULT_API_KEY}
        response = httpx.get(f"{url}/youtube/v3/channels", params=params, timeout=2)
        assert response.status_code == 200
        uploads = response.json()["items"][0]["contentDetails"]["relatedPlaylists"]["uploads"]
        listing = httpx.get(
            f"{url}/youtube/v3/playlistItems",
            params={
                "part": "status",
                "playlistId": uploads,
                "maxResults": "50",
                "key": DEFAULT_API_KEY,
            },
            timeout=2,
        )
    statuses = [item["status"]["privacyStatus"] for item in listing.json()["items"]]
    assert statuses.count("public") == 3
    assert statuses.count("private") == 1  # the removed video is gone altogether
