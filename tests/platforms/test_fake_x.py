"""The fake X API itself: X's shapes, limits, pagination and faults, spoken to with raw httpx."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from openpost.platforms.x.fake import DEFAULT_APP_TOKEN, FakeAccount, FakeX, seed
from tests.platforms.support import NOW, Clock, fake_server

ERROR_KEYS = {"value", "detail", "title", "resource_type", "parameter", "resource_id", "type"}
PROBLEM = "https://api.twitter.com/2/problems/"


@pytest.fixture
def fake(clock: Clock) -> FakeX:
    return FakeX(now=clock)


@pytest.fixture
def account(fake: FakeX) -> FakeAccount:
    return fake.add_account("openpost")


@pytest.fixture
def http(fake: FakeX) -> Iterator[httpx.Client]:
    auth = {"Authorization": f"Bearer {DEFAULT_APP_TOKEN}"}
    with httpx.Client(base_url="https://api.x.com", transport=fake.transport(), headers=auth) as c:
        yield c


def tweets(http: httpx.Client, ids: list[str], **params: str) -> httpx.Response:
    return http.get("/2/tweets", params={"ids": ",".join(ids), **params})


def timeline(http: httpx.Client, user_id: str, **params: str) -> httpx.Response:
    return http.get(f"/2/users/{user_id}/tweets", params=params)


def assert_invalid_request(response: httpx.Response, parameter: str) -> None:
    assert response.status_code == 400
    body = response.json()
    assert body["title"] == "Invalid Request"
    assert body["type"] == PROBLEM + "invalid-request"
    assert parameter in body["errors"][0]["parameters"]
    assert body["errors"][0]["message"]


# ---- auth and shapes -----------------------------------------------------------------------


@pytest.mark.parametrize("authorization", [None, "Bearer nope", f"Basic {DEFAULT_APP_TOKEN}"])
def test_requests_without_the_token_are_401(
    fake: FakeX, authorization: str | None, account: FakeAccount
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    with httpx.Client(transport=fake.transport(), base_url="https://api.x.com") as bare:
        response = bare.get("/2/users/by/username/openpost", headers=headers)
    assert response.status_code == 401
    assert response.json() == {
        "title": "Unauthorized",
        "type": "about:blank",
        "status": 401,
        "detail": "Unauthorized",
    }
    assert "x-rate-limit-limit" not in response.headers
    assert fake.requests[0].context == "anonymous"


def test_user_lookup_shapes(http: httpx.Client, fake: FakeX, account: FakeAccount) -> None:
    found = http.get("/2/users/by/username/OPENPOST")
    assert found.json() == {"data": {"id": account.id, "name": "Openpost", "username": "openpost"}}
    assert int(account.id) > 2**53
    missing = http.get("/2/users/by/username/nobody").json()
    (error,) = missing["errors"]
    assert set(error) == ERROR_KEYS
    assert "data" not in missing
    assert (error["title"], error["type"]) == ("Not Found Error", PROBLEM + "resource-not-found")
    assert_invalid_request(http.get("/2/users/by/username/bad-name"), "username")
    account.suspended = True
    (suspended,) = http.get("/2/users/by/username/openpost").json()["errors"]
    assert suspended["title"] == "Forbidden"
    assert "suspended" in suspended["detail"]


def test_tweet_lookup_partial_answer(http: httpx.Client, fake: FakeX, account: FakeAccount) -> None:
    alive = fake.add_post(account, text="hi", created_at=NOW, likes=3, impressions=40)
    gone = fake.add_post(account, created_at=NOW)
    fake.delete_post(gone.id)
    locked = fake.add_account("locked", protected=True)
    hidden = fake.add_post(locked, created_at=NOW)

    body = tweets(http, [alive.id, gone.id, hidden.id], **{"tweet.fields": "public_metrics"}).json()

    assert body["data"] == [
        {
            "id": alive.id,
            "text": "hi",
            "edit_history_tweet_ids": [alive.id],
            "public_metrics": {
                "retweet_count": 0,
                "reply_count": 0,
                "like_count": 3,
                "quote_count": 0,
                "bookmark_count": 0,
                "impression_count": 40,
            },
        }
    ]
    not_found, unauthorized = body["errors"]
    assert set(not_found) == set(unauthorized) == ERROR_KEYS
    assert (not_found["resource_id"], not_found["title"]) == (gone.id, "Not Found Error")
    assert (unauthorized["resource_id"], unauthorized["type"]) == (
        hidden.id,
        PROBLEM + "not-authorized-for-resource",
    )
    only_missing = tweets(http, ["1"]).json()
    assert "data" not in only_missing
    assert len(only_missing["errors"]) == 1


def test_fields_are_rendered_only_when_asked(
    http: httpx.Client, fake: FakeX, account: FakeAccount
) -> None:
    post = fake.add_post(account, created_at=datetime(2026, 3, 1, 10, 0, 0, 123456, tzinfo=UTC))
    bare = tweets(http, [post.id]).json()["data"][0]
    assert set(bare) == {"id", "text", "edit_history_tweet_ids"}
    full = tweets(http, [post.id], **{"tweet.fields": "created_at,author_id"}).json()["data"][0]
    assert full["created_at"] == "2026-03-01T10:00:00.123Z"
    assert full["author_id"] == account.id


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"ids": ",".join(str(10**18 + n) for n in range(101))}, "ids"),
        ({"ids": ""}, "ids"),
        ({"ids": "12,abc"}, "ids"),
        ({"ids": "1", "tweet.fields": "public_metrics,likes"}, "tweet.fields"),
        ({"ids": "1", "max_results": "10"}, "max_results"),
    ],
)
def test_tweet_lookup_refuses_bad_parameters(
    http: httpx.Client, params: dict[str, str], parameter: str
) -> None:
    assert_invalid_request(http.get("/2/tweets", params=params), parameter)


def test_private_fields_need_the_owner_and_a_young_post(
    fake: FakeX, http: httpx.Client, account: FakeAccount
) -> None:
    young = fake.add_post(account, created_at=NOW - timedelta(days=1), impressions=9)
    old = fake.add_post(account, created_at=NOW - timedelta(days=31))
    fields = {"tweet.fields": "public_metrics,non_public_metrics,organic_metrics"}

    as_app = tweets(http, [young.id], **fields).json()
    assert "data" not in as_app
    assert as_app["errors"][0]["title"] == "Field Authorization Error"

    fake.add_user_token("owner-token", account)
    owner = {"Authorization": "Bearer owner-token"}
    body = http.get("/2/tweets", params={"ids": f"{young.id},{old.id}", **fields}, headers=owner)
    (data,) = body.json()["data"]
    assert data["non_public_metrics"]["impression_count"] == 9
    assert data["organic_metrics"]["like_count"] == 0
    assert body.json()["errors"][0]["resource_id"] == old.id
    assert fake.requests[-1].context == f"user:{account.id}"


# ---- rate limits ---------------------------------------------------------------------------


def test_rate_window_headers_429_and_reset(
    http: httpx.Client, fake: FakeX, clock: Clock, account: FakeAccount
) -> None:
    fake.set_rate_limit("tweets_lookup", 2)
    reset = str(int((NOW + timedelta(minutes=15)).timestamp()))
    first, second, third = (tweets(http, ["1"]) for _ in range(3))
    assert [r.status_code for r in (first, second, third)] == [200, 200, 429]
    assert [r.headers["x-rate-limit-remaining"] for r in (first, second, third)] == ["1", "0", "0"]
    assert {r.headers["x-rate-limit-reset"] for r in (first, second, third)} == {reset}
    assert third.headers["x-rate-limit-limit"] == "2"
    assert third.json() == {
        "title": "Too Many Requests",
        "detail": "Too Many Requests",
        "type": "about:blank",
        "status": 429,
    }
    # Windows are per endpoint: the user lookup is untouched.
    lookup = http.get("/2/users/by/username/openpost")
    assert (lookup.status_code, lookup.headers["x-rate-limit-remaining"]) == (200, "299")
    clock.now = NOW + timedelta(minutes=15)
    again = tweets(http, ["1"])
    assert (again.status_code, again.headers["x-rate-limit-remaining"]) == (200, "1")


def test_default_limits_follow_x_table(http: httpx.Client, account: FakeAccount) -> None:
    assert tweets(http, ["1"]).headers["x-rate-limit-limit"] == "3500"
    assert timeline(http, account.id).headers["x-rate-limit-limit"] == "10000"
    assert http.get("/2/users/by/username/x").headers["x-rate-limit-limit"] == "300"


# ---- timeline ------------------------------------------------------------------------------


def test_timeline_pages_cover_every_post_once_newest_first(
    http: httpx.Client, fake: FakeX, account: FakeAccount
) -> None:
    posts = [fake.add_post(account, created_at=NOW - timedelta(hours=n)) for n in range(23)]
    seen: list[str] = []
    params = {"max_results": "10"}
    for _ in range(5):
        body = timeline(http, account.id, **params).json()
        page = [p["id"] for p in body["data"]]
        assert body["meta"]["result_count"] == len(page)
        assert (body["meta"]["newest_id"], body["meta"]["oldest_id"]) == (page[0], page[-1])
        seen += page
        if "next_token" not in body["meta"]:
            break
        params["pagination_token"] = body["meta"]["next_token"]
    assert seen == [p.id for p in posts]
    assert sorted(seen, key=int, reverse=True) == seen  # snowflakes follow creation time
    assert len(fake.requests) == 3


def test_timeline_since_id_exclude_and_empty_meta(
    http: httpx.Client, fake: FakeX, account: FakeAccount
) -> None:
    older = fake.add_post(account, created_at=NOW - timedelta(hours=5))
    newer = fake.add_post(account, created_at=NOW - timedelta(hours=1))
    reply = fake.add_post(account, created_at=NOW - timedelta(hours=2), kind="reply")
    fake.add_post(account, created_at=NOW - timedelta(hours=3), kind="retweet")

    everything = timeline(http, account.id).json()
    assert len(everything["data"]) == 4
    own = timeline(http, account.id, exclude="retweets,replies").json()
    assert [p["id"] for p in own["data"]] == [newer.id, older.id]
    since = timeline(http, account.id, since_id=older.id, exclude="retweets").json()
    assert [p["id"] for p in since["data"]] == [newer.id, reply.id]
    nothing = timeline(http, account.id, since_id=newer.id).json()
    assert nothing == {"meta": {"result_count": 0}}


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"max_results": "4"}, "max_results"),
        ({"max_results": "101"}, "max_results"),
        ({"max_results": "ten"}, "max_results"),
        ({"since_id": "x1"}, "since_id"),
        ({"exclude": "quotes"}, "exclude"),
        ({"pagination_token": "not-a-token"}, "pagination_token"),
        ({"start_time": "yesterday"}, "start_time"),
        ({"count": "5"}, "count"),
    ],
)
def test_timeline_refuses_bad_parameters(
    http: httpx.Client, account: FakeAccount, params: dict[str, str], parameter: str
) -> None:
    assert_invalid_request(timeline(http, account.id, **params), parameter)


def test_timeline_of_unknown_protected_and_suspended_accounts(
    http: httpx.Client, fake: FakeX
) -> None:
    (missing,) = timeline(http, "42").json()["errors"]
    assert missing["title"] == "Not Found Error"
    assert missing["resource_type"] == "user"
    locked = fake.add_account("locked", protected=True)
    (denied,) = timeline(http, locked.id).json()["errors"]
    assert denied["title"] == "Authorization Error"
    banned = fake.add_account("banned")
    banned.suspended = True
    (suspended,) = timeline(http, banned.id).json()["errors"]
    assert suspended["title"] == "Forbidden"


# ---- faults and the request log ------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "options", "status", "expected"),
    [
        ("credits_depleted", {}, 402, {"type": "https://api.x.com/2/problems/credits-depleted"}),
        (
            "usage_capped",
            {"period": "Daily"},
            429,
            {"title": "UsageCapExceeded", "period": "Daily", "type": PROBLEM + "usage-capped"},
        ),
        ("server_error", {"status": 502}, 502, {"status": 502, "type": "about:blank"}),
        ("forbidden", {}, 403, {"type": PROBLEM + "client-forbidden"}),
        ("wrong_shape", {}, 200, {"data": {"unexpected": True}}),
    ],
)
def test_injected_faults_answer_as_x_does(
    http: httpx.Client, fake: FakeX, kind: Any, options: dict[str, Any], status: int, expected: Any
) -> None:
    fake.inject(kind, **options)
    response = tweets(http, ["1"])
    assert response.status_code == status
    assert expected.items() <= response.json().items()
    assert tweets(http, ["1"]).status_code == 200


def test_fault_scope_count_and_persistence(
    http: httpx.Client, fake: FakeX, account: FakeAccount
) -> None:
    fake.inject("not_json", endpoint="user_tweets", times=None)
    assert tweets(http, ["1"]).status_code == 200
    for _ in range(3):
        response = timeline(http, account.id)
        assert response.headers["content-type"].startswith("text/html")
        with pytest.raises(ValueError, match="Expecting value"):
            response.json()
    fake.clear_faults()
    assert timeline(http, account.id).json() == {"meta": {"result_count": 0}}
    fake.inject("server_error", times=2)
    assert [tweets(http, ["1"]).status_code for _ in range(3)] == [503, 503, 200]


def test_slow_answers_wait(http: httpx.Client, fake: FakeX) -> None:
    fake.inject("slow", delay=0.2)
    started = time.perf_counter()
    assert tweets(http, ["1"]).status_code == 200
    assert time.perf_counter() - started >= 0.2


def test_request_log_counts_calls_per_endpoint(
    http: httpx.Client, fake: FakeX, account: FakeAccount
) -> None:
    tweets(http, ["1", "2"])
    tweets(http, ["3"])
    timeline(http, account.id, max_results="5")
    assert len(fake.calls("tweets_lookup")) == 2
    (call,) = fake.calls("user_tweets")
    assert (call.params, call.status, call.context) == ({"max_results": "5"}, 200, "app")
    assert [r.params.get("ids") for r in fake.calls("tweets_lookup")] == ["1,2", "3"]


def test_unknown_paths_are_404(http: httpx.Client) -> None:
    assert http.get("/1.1/statuses/show.json").status_code == 404


# ---- running as a server -------------------------------------------------------------------


def test_seed_is_deterministic_and_sized(clock: Clock) -> None:
    first, second = FakeX(now=clock), FakeX(now=clock)
    seed(first, posts=12)
    seed(second, posts=12)
    shape = [(p.text, p.created_at, p.public_metrics) for p in first.posts.values()]
    assert shape == [(p.text, p.created_at, p.public_metrics) for p in second.posts.values()]
    assert sum(p.author_id == next(iter(first.accounts)) for p in first.posts.values()) == 12


def test_runs_as_a_server_process() -> None:
    with fake_server("x", "--seed", "--seed-posts", "3", "--token", "e2e-token") as url:
        headers = {"Authorization": "Bearer e2e-token"}
        response = httpx.get(f"{url}/2/users/by/username/openpost", headers=headers, timeout=2)
    assert response.status_code == 200
    assert response.json()["data"]["username"] == "openpost"
