"""TikTok's Display API client against the fake: the video query's 20-id batches and its
silently missing (deleted) ids, the plays mapping, the video list's cursor paging, the
account's own counters, the envelope's error codes, throttling, and the fake as a server."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from openpost.platforms.base import (
    Account,
    AccountReader,
    MalformedResponse,
    PermissionRequired,
    PlatformClient,
    RateLimited,
    TransientError,
)
from openpost.platforms.tiktok.client import TikTokClient
from openpost.platforms.tiktok.fake import FakeTikTok, FakeUser
from openpost.platforms.tiktok.oauth import SCOPES
from tests.platforms.support import NOW, Clock, fake_server

KEY = "tiktok-client-key"
BASE = "https://open.tiktokapis.test"


@pytest.fixture
def fake(frozen_clock: Clock) -> FakeTikTok:
    return FakeTikTok(now=frozen_clock)


@pytest.fixture
def owner(fake: FakeTikTok) -> FakeUser:
    return fake.add_user("openpost", display_name="OpenPost", followers=1234, following=56)


@pytest.fixture
def credentials(fake: FakeTikTok, owner: FakeUser) -> dict[str, Any]:
    issued = fake.issue_tokens(owner, client_key=KEY, scope=",".join(SCOPES))
    return {"access_token": issued["access_token"], "refresh_token": issued["refresh_token"]}


@pytest.fixture
def client(fake: FakeTikTok) -> Iterator[TikTokClient]:
    with TikTokClient(base_url=BASE, transport=fake.transport()) as made:
        yield made


def account_of(user: FakeUser) -> Account:
    return Account(user.open_id, user.username, user.display_name)


def videos(fake: FakeTikTok, user: FakeUser, count: int) -> list[str]:
    return [
        fake.add_video(
            user,
            created_at=NOW - timedelta(minutes=count - n),
            views=1000 + n,
            likes=10 + n,
            comments=n,
            shares=2 * n,
        ).id
        for n in range(count)
    ]


def test_it_is_a_platform_client_and_an_account_reader(client: TikTokClient) -> None:
    assert isinstance(client, PlatformClient)
    assert isinstance(client, AccountReader)
    assert (client.batch_size, client.account_batch_size) == (20, 1)


def test_counters_map_plays_to_impressions_with_19_digit_string_ids(
    client: TikTokClient, fake: FakeTikTok, owner: FakeUser, credentials: dict[str, Any]
) -> None:
    (video_id,) = videos(fake, owner, 1)
    assert len(video_id) == 19
    assert int(video_id) > 2**53
    result = client.fetch_metrics([video_id], credentials=credentials)
    reading = result.readings[video_id]
    assert (reading.impressions, reading.likes, reading.comments, reading.shares) == (
        1000,
        10,
        0,
        0,
    )
    assert reading.platform_data == {
        "view_count": 1000,
        "like_count": 10,
        "comment_count": 0,
        "share_count": 0,
        "impressions_kind": "plays",
    }
    (request,) = fake.calls("video_query")
    assert request.params["video_ids"] == [video_id]
    assert request.params["fields"] == "id,view_count,like_count,comment_count,share_count"


@pytest.mark.parametrize("count", [1, 19, 20, 21, 45, 60])
def test_n_posts_cost_ceil_n_over_20_requests(
    client: TikTokClient,
    fake: FakeTikTok,
    owner: FakeUser,
    credentials: dict[str, Any],
    count: int,
) -> None:
    ids = videos(fake, owner, count)
    calls = 0
    for start in range(0, count, client.batch_size):
        result = client.fetch_metrics(ids[start : start + 20], credentials=credentials)
        assert len(result.readings) == len(ids[start : start + 20])
        calls += result.calls
    assert calls == len(fake.calls("video_query")) == math.ceil(count / 20)
    assert all(len(r.params["video_ids"]) <= 20 for r in fake.calls("video_query"))


def test_missing_ids_are_deleted_and_a_broken_video_fails_alone(
    client: TikTokClient, fake: FakeTikTok, owner: FakeUser, credentials: dict[str, Any]
) -> None:
    ids = videos(fake, owner, 4)
    stranger = fake.add_user("someone_else")
    theirs = fake.add_video(stranger).id
    fake.delete_video(ids[0])
    fake.set_counts(ids[1], like_count="1.2K")
    result = client.fetch_metrics([*ids, theirs, "not-an-id"], credentials=credentials)
    assert result.deleted == {ids[0], theirs}  # gone, or not the owner's: left out
    assert set(result.readings) == {ids[2], ids[3]}
    assert isinstance(result.errors[ids[1]], MalformedResponse)
    assert result.errors["not-an-id"].code == "tiktok_invalid_id"
    assert result.calls == 1


def test_discovery_pages_by_cursor_and_stops_at_what_it_saw(
    client: TikTokClient, fake: FakeTikTok, owner: FakeUser, credentials: dict[str, Any]
) -> None:
    old = videos(fake, owner, 45)
    first = client.discover(account_of(owner), since_id=None, limit=100, credentials=credentials)
    assert [p.platform_post_id for p in first.posts] == old[::-1]
    assert first.newest_id == old[-1]
    assert first.calls == 3  # 20 + 20 + 5
    assert [r.params.get("max_count") for r in fake.calls("video_list")] == [20, 20, 20]
    post = first.posts[0]
    assert post.post_url == f"https://www.tiktok.com/@openpost/video/{old[-1]}"
    assert post.published_at == NOW - timedelta(minutes=1)
    assert post.reading is not None
    assert post.reading.impressions == 1044

    new = [fake.add_video(owner, created_at=NOW + timedelta(minutes=n)).id for n in (1, 2)]
    before = len(fake.calls("video_list"))
    second = client.discover(
        account_of(owner), since_id=first.newest_id, limit=100, credentials=credentials
    )
    assert [p.platform_post_id for p in second.posts] == new[::-1]
    assert second.newest_id == new[-1]
    assert len(fake.calls("video_list")) - before == second.calls == 1
    capped = client.discover(account_of(owner), since_id=None, limit=3, credentials=credentials)
    assert len(capped.posts) == 3
    assert fake.calls("video_list")[-1].params["max_count"] == 3


def test_a_pinned_old_video_at_the_top_does_not_stop_discovery(
    client: TikTokClient, fake: FakeTikTok, owner: FakeUser, credentials: dict[str, Any]
) -> None:
    old = videos(fake, owner, 3)
    fake.videos[old[0]].pinned = True  # the oldest, pinned to the top of the profile
    first = client.discover(account_of(owner), since_id=None, limit=50, credentials=credentials)
    assert [p.platform_post_id for p in first.posts] == old[::-1]
    new = [fake.add_video(owner, created_at=NOW + timedelta(minutes=n)).id for n in (1, 2)]
    second = client.discover(
        account_of(owner), since_id=first.newest_id, limit=50, credentials=credentials
    )
    assert [p.platform_post_id for p in second.posts] == new[::-1]
    assert second.newest_id == new[-1]


def test_the_accounts_own_counters(
    client: TikTokClient, fake: FakeTikTok, owner: FakeUser, credentials: dict[str, Any]
) -> None:
    videos(fake, owner, 3)
    owner.likes_count = 99
    batch = client.fetch_accounts([owner.open_id], credentials=credentials)
    reading = batch.readings[owner.open_id]
    assert (reading.followers, reading.following, reading.posts) == (1234, 56, 3)
    assert reading.platform_data["likes_count"] == 99
    assert batch.calls == 1
    other = client.fetch_accounts(["someone-else"], credentials=credentials)
    assert other.errors["someone-else"].code == "tiktok_other_account"
    assert client.fetch_accounts([], credentials=credentials).calls == 0


def test_a_token_without_the_stats_scope_is_permission_required(
    client: TikTokClient, fake: FakeTikTok, owner: FakeUser
) -> None:
    issued = fake.issue_tokens(owner, client_key=KEY, scope="user.info.basic,video.list")
    with pytest.raises(PermissionRequired) as caught:
        client.fetch_accounts([owner.open_id], credentials={"access_token": issued["access_token"]})
    assert caught.value.code == "tiktok_scope_not_authorized"
    basic_only = fake.issue_tokens(owner, client_key=KEY, scope="user.info.basic")
    with pytest.raises(PermissionRequired) as caught:
        client.fetch_metrics(["1" * 19], credentials={"access_token": basic_only["access_token"]})
    assert caught.value.code == "tiktok_scope_not_authorized"


def test_a_dead_token_without_a_token_source_is_permission_required(
    client: TikTokClient, fake: FakeTikTok, owner: FakeUser, credentials: dict[str, Any]
) -> None:
    (video_id,) = videos(fake, owner, 1)
    fake.expire_token(credentials["access_token"])
    with pytest.raises(PermissionRequired) as caught:
        client.fetch_metrics([video_id], credentials=credentials)
    assert caught.value.code == "tiktok_token_invalid"
    assert credentials["access_token"] not in caught.value.message
    with pytest.raises(PermissionRequired) as missing:
        client.fetch_metrics([video_id], credentials=None)
    assert missing.value.code == "tiktok_user_token_missing"


def test_throttling_is_rate_limited_a_minute_ahead_with_a_spent_window(
    client: TikTokClient,
    fake: FakeTikTok,
    owner: FakeUser,
    credentials: dict[str, Any],
    frozen_clock: Clock,
) -> None:
    ids = videos(fake, owner, 2)
    fake.set_rate_limit("video_query", 1)
    client.fetch_metrics(ids[:1], credentials=credentials)
    assert client.rate_window() is None  # TikTok sends no rate headers
    with pytest.raises(RateLimited) as caught:
        client.fetch_metrics(ids[1:], credentials=credentials)
    assert caught.value.retry_at == frozen_clock() + timedelta(minutes=1)
    assert fake.calls("video_query")[-1].status == 429
    window = client.rate_window()
    assert window is not None
    assert window.spent
    assert window.pause_until(frozen_clock()) == frozen_clock() + timedelta(minutes=1)
    assert set(client.rate_windows()) == {"video_query"}
    # The sliding minute passes: the endpoint answers again.
    frozen_clock.now += timedelta(seconds=61)
    assert ids[1] in client.fetch_metrics(ids[1:], credentials=credentials).readings
    assert client.rate_window() is None


@pytest.mark.parametrize(
    ("kind", "status", "error", "code"),
    [
        ("server_error", 500, TransientError, "tiktok_server_error"),
        ("server_error", 503, TransientError, "tiktok_server_error"),
        ("not_json", 502, TransientError, "tiktok_server_error"),
        ("rate_limited", 429, RateLimited, "tiktok_rate_limited"),
        ("scope_not_authorized", 401, PermissionRequired, "tiktok_scope_not_authorized"),
        ("token_invalid", 401, PermissionRequired, "tiktok_token_invalid"),
    ],
)
def test_faults_are_the_right_errors(
    client: TikTokClient,
    fake: FakeTikTok,
    owner: FakeUser,
    credentials: dict[str, Any],
    kind: Any,
    status: int,
    error: type[Exception],
    code: str,
) -> None:
    (video_id,) = videos(fake, owner, 1)
    fake.inject(kind, endpoint="video_query", status=status)
    with pytest.raises(error) as caught:
        client.fetch_metrics([video_id], credentials=credentials)
    assert getattr(caught.value, "code", None) == code
    assert fake.calls("video_query")[-1].status == status


def test_the_fake_refuses_what_tiktok_refuses(
    fake: FakeTikTok, owner: FakeUser, credentials: dict[str, Any]
) -> None:
    token = {"Authorization": f"Bearer {credentials['access_token']}"}
    with httpx.Client(transport=fake.transport(), base_url=BASE) as http:
        too_many = http.post(
            "/v2/video/query/?fields=id",
            json={"filters": {"video_ids": [str(n) for n in range(21)]}},
            headers=token,
        )
        big_page = http.post("/v2/video/list/?fields=id", json={"max_count": 21}, headers=token)
        no_fields = http.post("/v2/video/list/", json={}, headers=token)
        anonymous = http.get("/v2/user/info/?fields=open_id")
    for response in (too_many, big_page, no_fields):
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "invalid_params"
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["code"] == "access_token_invalid"
    assert anonymous.json()["error"]["log_id"]


def test_the_fake_runs_as_a_server() -> None:
    with (
        fake_server(
            "tiktok", "--seed", "--seed-posts", "3", "--oauth-client", "k:s:http://cb/"
        ) as url,
        httpx.Client(base_url=url) as http,
    ):
        page = http.get(
            "/v2/auth/authorize/",
            params={
                "client_key": "k",
                "redirect_uri": "http://cb/",
                "response_type": "code",
                "scope": "user.info.basic,video.list",
                "state": "s",
                "code_challenge": "c" * 43,
                "code_challenge_method": "S256",
            },
        )
        assert page.status_code == 302
        assert "code=" in page.headers["location"]
