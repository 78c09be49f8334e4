"""XClient against the fake X API: mapping, partial answers, every error kind, discovery."""

from __future__ import annotations

import math
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

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
    RateWindow,
    TransientError,
)
from openpost.platforms.fakes import LiveServer
from openpost.platforms.x.client import XClient
from openpost.platforms.x.fake import DEFAULT_APP_TOKEN, FakeAccount, FakeMedia, FakeX
from tests.platforms.support import NOW

TOKEN = "app-token-s3cret-do-not-leak"
USER_TOKEN = "user-token-also-s3cret"
BEYOND_FLOAT = "1790000000000000001"  # > 2**53: a float would round it


pytestmark = pytest.mark.usefixtures("frozen_clock")


@pytest.fixture
def fake() -> FakeX:
    return FakeX(app_token=TOKEN)


@pytest.fixture
def account(fake: FakeX) -> FakeAccount:
    return fake.add_account("OpenPost", name="OpenPost HQ", account_id="1234567890123456789")


@pytest.fixture
def client(fake: FakeX) -> Iterator[XClient]:
    with XClient(bearer_token=TOKEN, transport=fake.transport()) as x:
        yield x


def post(fake: FakeX, account: FakeAccount, hours_ago: float = 1, **counts: Any) -> str:
    return fake.add_post(account, created_at=NOW - timedelta(hours=hours_ago), **counts).id


def as_account(account: FakeAccount) -> Account:
    return Account(account.id, account.username, account.name)


def test_is_a_platform_client(client: XClient) -> None:
    assert isinstance(client, PlatformClient)
    assert (client.platform, client.batch_size) == ("twitter", 100)


def test_built_from_settings(fake: FakeX, account: FakeAccount) -> None:
    settings = Settings(env="test", x_bearer_token=TOKEN, x_api_base_url="https://x.test/")
    with XClient.from_settings(settings, transport=fake.transport()) as client:
        assert client.lookup_account("openpost").username == "OpenPost"
    (request,) = fake.requests
    assert request.context == "app"
    with XClient(bearer_token=TOKEN) as default:
        assert default.base_url == "https://api.x.com"


# ---- lookup_account ---------------------------------------------------------------------


def test_lookup_resolves_handle_to_string_id(
    client: XClient, fake: FakeX, account: FakeAccount
) -> None:
    found = client.lookup_account("@openpost")
    assert found == Account("1234567890123456789", "OpenPost", "OpenPost HQ")
    assert [r.path for r in fake.requests] == ["/2/users/by/username/openpost"]


@pytest.mark.parametrize("handle", ["", "@", "two words", "dash-ed", "a" * 16, "ünïcode", "a/b"])
def test_lookup_refuses_impossible_handles_without_a_call(
    client: XClient, fake: FakeX, handle: str
) -> None:
    with pytest.raises(NotFound) as caught:
        client.lookup_account(handle)
    assert caught.value.code == "x_invalid_handle"
    assert fake.requests == []


def test_lookup_unknown_and_suspended_accounts(
    client: XClient, fake: FakeX, account: FakeAccount
) -> None:
    with pytest.raises(NotFound) as unknown:
        client.lookup_account("nobody_here")
    assert unknown.value.code == "x_account_not_found"
    account.suspended = True
    with pytest.raises(NotFound) as suspended:
        client.lookup_account("openpost")
    assert suspended.value.code == "x_account_suspended"


# ---- fetch_metrics: mapping ---------------------------------------------------------------


def test_metrics_are_normalised_and_raw_counters_kept(
    client: XClient, fake: FakeX, account: FakeAccount
) -> None:
    counts = {
        "impressions": 1200,
        "likes": 31,
        "replies": 2,
        "retweets": 4,
        "quotes": 1,
        "bookmarks": 3,
    }
    post_id = post(fake, account, **counts)
    result = client.fetch_metrics([post_id])
    reading = result.readings[post_id]
    assert (reading.impressions, reading.likes, reading.comments, reading.shares) == (
        1200,
        31,
        2,
        5,
    )
    assert reading.platform_data == {
        "retweet_count": 4,
        "reply_count": 2,
        "like_count": 31,
        "quote_count": 1,
        "bookmark_count": 3,
        "impression_count": 1200,
    }
    assert result.deleted == set()
    assert result.errors == {}
    (request,) = fake.requests
    assert request.params == {"ids": post_id, "tweet.fields": "public_metrics,created_at,author_id"}


def test_zero_is_measured_zero(client: XClient, fake: FakeX, account: FakeAccount) -> None:
    post_id = post(fake, account)
    reading = client.fetch_metrics([post_id]).readings[post_id]
    assert (reading.impressions, reading.likes, reading.comments, reading.shares) == (0, 0, 0, 0)


def test_counters_are_read_afresh(client: XClient, fake: FakeX, account: FakeAccount) -> None:
    post_id = post(fake, account, likes=1)
    assert client.fetch_metrics([post_id]).readings[post_id].likes == 1
    fake.set_counts(post_id, like_count=99, retweet_count=7)
    reading = client.fetch_metrics([post_id]).readings[post_id]
    assert (reading.likes, reading.shares) == (99, 7)


def test_ids_beyond_2_pow_53_stay_exact_strings(
    client: XClient, fake: FakeX, account: FakeAccount
) -> None:
    assert int(BEYOND_FLOAT) > 2**53
    assert float(int(BEYOND_FLOAT)) != int(BEYOND_FLOAT)
    fake.add_post(account, post_id=BEYOND_FLOAT, created_at=NOW, likes=3)
    neighbour = str(int(BEYOND_FLOAT) + 1)  # what a float round-trip could turn it into
    result = client.fetch_metrics([BEYOND_FLOAT, neighbour])
    assert set(result.readings) == {BEYOND_FLOAT}
    assert result.readings[BEYOND_FLOAT].platform_post_id == BEYOND_FLOAT
    assert result.deleted == {neighbour}
    assert fake.requests[0].params["ids"] == f"{BEYOND_FLOAT},{neighbour}"


# ---- fetch_metrics: partial answers -------------------------------------------------------


def test_partial_answer_reports_deleted_and_forbidden_ids(
    client: XClient, fake: FakeX, account: FakeAccount
) -> None:
    alive = post(fake, account, likes=5)
    deleted = post(fake, account)
    fake.delete_post(deleted)
    never = "1790000000000000009"
    locked = fake.add_account("locked", protected=True)
    protected = post(fake, locked)
    banned = fake.add_account("banned")
    suspended = post(fake, banned)
    banned.suspended = True

    result = client.fetch_metrics([alive, deleted, never, protected, suspended])

    assert set(result.readings) == {alive}
    assert result.readings[alive].likes == 5
    assert result.deleted == {deleted, never}
    assert set(result.errors) == {protected, suspended}
    assert isinstance(result.errors[protected], PermissionRequired)
    assert result.errors[protected].code == "x_not_authorized"
    assert isinstance(result.errors[suspended], PermissionRequired)
    assert result.errors[suspended].code == "x_suspended"
    assert len(fake.requests) == 1


def test_nothing_found_is_an_answer_not_an_error(client: XClient, fake: FakeX) -> None:
    result = client.fetch_metrics(["1", "2"])
    assert result.readings == {}
    assert result.deleted == {"1", "2"}
    assert result.errors == {}


@pytest.mark.parametrize(
    "corrupt",
    [
        pytest.param(lambda m: m.pop("like_count"), id="missing-like_count"),
        pytest.param(lambda m: m.pop("impression_count"), id="missing-impression_count"),
        pytest.param(lambda m: m.update(reply_count="12"), id="string"),
        pytest.param(lambda m: m.update(retweet_count=1.5), id="float"),
        pytest.param(lambda m: m.update(quote_count=True), id="bool"),
        pytest.param(lambda m: m.update(like_count=None), id="null"),
        pytest.param(lambda m: m.update(bookmark_count=-1), id="negative"),
        pytest.param(lambda m: m.update(impression_count=[1]), id="list"),
    ],
)
def test_a_malformed_counter_fails_that_post_only(
    client: XClient, fake: FakeX, account: FakeAccount, corrupt: Any
) -> None:
    good = post(fake, account, likes=2)
    bad = post(fake, account, likes=3)
    corrupt(fake.posts[bad].public_metrics)
    result = client.fetch_metrics([good, bad])
    assert result.readings[good].likes == 2
    assert bad not in result.readings
    assert isinstance(result.errors[bad], MalformedResponse)


def test_missing_public_metrics_object_fails_that_post(
    client: XClient, fake: FakeX, account: FakeAccount
) -> None:
    bad = post(fake, account)
    fake.posts[bad].public_metrics = "lots"  # type: ignore[assignment]
    result = client.fetch_metrics([bad])
    assert isinstance(result.errors[bad], MalformedResponse)


# ---- fetch_metrics: batching ---------------------------------------------------------------


def test_n_ids_cost_ceil_n_over_100_requests(
    client: XClient, fake: FakeX, account: FakeAccount
) -> None:
    ids = [post(fake, account, hours_ago=i / 100, likes=i) for i in range(250)]
    readings = {}
    for start in range(0, len(ids), client.batch_size):
        readings.update(client.fetch_metrics(ids[start : start + client.batch_size]).readings)
    assert len(readings) == 250
    assert len(fake.calls("tweets_lookup")) == math.ceil(250 / 100) == 3
    assert [len(r.params["ids"].split(",")) for r in fake.requests] == [100, 100, 50]


def test_more_than_100_ids_are_refused_before_any_call(
    client: XClient, fake: FakeX, account: FakeAccount
) -> None:
    ids = [str(10**18 + n) for n in range(101)]
    with pytest.raises(ValueError, match="at most 100"):
        client.fetch_metrics(ids)
    assert fake.requests == []
    # Repeats are one id: 100 distinct ids in 150 entries are one call.
    client.fetch_metrics(ids[:100] + ids[:50])
    assert len(fake.requests) == 1


def test_impossible_ids_fail_without_a_call(client: XClient, fake: FakeX) -> None:
    result = client.fetch_metrics(["abc", "12.5", "", "1" * 20])
    assert set(result.errors) == {"abc", "12.5", "", "1" * 20}
    assert all(isinstance(e, NotFound) for e in result.errors.values())
    assert fake.requests == []
    assert client.fetch_metrics([]).readings == {}
    assert fake.requests == []


# ---- HTTP errors ---------------------------------------------------------------------------


def _raises(client: XClient, post_ids: list[str]) -> PlatformError:
    with pytest.raises(PlatformError) as caught:
        client.fetch_metrics(post_ids)
    error = caught.value
    for text in (str(error), repr(error), error.message):
        assert TOKEN not in text
        assert USER_TOKEN not in text
    assert error.__cause__ is None
    return error


@pytest.mark.parametrize(
    ("fault", "options", "kind", "code", "retry_at"),
    [
        ("credits_depleted", {}, BudgetExhausted, "x_credits_depleted", NOW + timedelta(hours=1)),
        (
            "usage_capped",
            {"period": "Monthly"},
            BudgetExhausted,
            "x_usage_capped",
            datetime(2026, 4, 17, tzinfo=UTC),
        ),
        (
            "usage_capped",
            {"period": "Daily"},
            BudgetExhausted,
            "x_usage_capped",
            datetime(2026, 4, 17, tzinfo=UTC),
        ),
        ("server_error", {"status": 503}, TransientError, "x_server_error", None),
        ("server_error", {"status": 500}, TransientError, "x_server_error", None),
        ("forbidden", {}, PermissionRequired, "x_forbidden", None),
        ("not_json", {}, MalformedResponse, "x_malformed", None),
        ("wrong_shape", {}, MalformedResponse, "x_malformed", None),
    ],
)
def test_error_answers_map_to_platform_errors(
    client: XClient,
    fake: FakeX,
    account: FakeAccount,
    fault: Any,
    options: dict[str, Any],
    kind: type[PlatformError],
    code: str,
    retry_at: datetime | None,
) -> None:
    post_id = post(fake, account)
    fake.inject(fault, **options)
    error = _raises(client, [post_id])
    assert type(error) is kind
    assert error.code == code
    assert error.retry_at == retry_at
    assert client.fetch_metrics([post_id]).readings  # the fault was one answer only


def test_usage_cap_is_told_apart_from_the_rate_limit(
    client: XClient, fake: FakeX, account: FakeAccount
) -> None:
    post_id = post(fake, account)
    fake.set_rate_limit("tweets_lookup", 2)
    client.fetch_metrics([post_id])
    client.fetch_metrics([post_id])
    error = _raises(client, [post_id])
    assert type(error) is RateLimited
    assert (error.code, error.outcome, error.transient) == ("x_rate_limited", "rate_limited", True)
    assert error.retry_at == NOW + timedelta(minutes=15)  # from x-rate-limit-reset
    assert client.rate_window() == RateWindow(limit=2, remaining=0, reset_at=error.retry_at)
    fake.inject("usage_capped")
    assert type(_raises(client, [post_id])) is BudgetExhausted


def test_bad_or_missing_app_token(fake: FakeX, account: FakeAccount) -> None:
    post_id = post(fake, account)
    with XClient(bearer_token="wrong-" + TOKEN, transport=fake.transport()) as wrong:
        error = _raises(wrong, [post_id])
    assert (type(error), error.code) == (PermissionRequired, "x_unauthorized")
    assert fake.requests[-1].status == 401
    with XClient(bearer_token="", transport=fake.transport()) as unset:
        error = _raises(unset, [post_id])
        assert error.code == "x_not_configured"
        with pytest.raises(PermissionRequired):
            unset.lookup_account("openpost")
    assert len(fake.requests) == 1


def test_slow_answer_times_out_as_transient(fake: FakeX, account: FakeAccount) -> None:
    post_id = post(fake, account)
    fake.inject("slow", delay=2.0)
    with XClient(bearer_token=TOKEN, transport=fake.transport(), timeout=0.05) as impatient:
        error = _raises(impatient, [post_id])
    assert (type(error), error.code) == (TransientError, "x_timeout")


def test_unreachable_server_is_transient() -> None:
    with LiveServer(FakeX().app) as server:
        url = server.url  # a loopback port that is closed once the server stops
    with XClient(bearer_token=TOKEN, base_url=url, timeout=2) as client:
        error = _raises(client, ["1"])
    assert (type(error), error.code) == (TransientError, "x_unreachable")


def test_client_repr_hides_the_token(client: XClient) -> None:
    assert TOKEN not in repr(client)


# ---- rate window ---------------------------------------------------------------------------


def test_rate_window_comes_from_the_last_response(
    client: XClient, fake: FakeX, account: FakeAccount
) -> None:
    assert client.rate_window() is None
    post_id = post(fake, account)
    client.fetch_metrics([post_id])
    reset = NOW + timedelta(minutes=15)
    assert client.rate_window() == RateWindow(limit=3500, remaining=3499, reset_at=reset)
    client.lookup_account("openpost")
    assert client.rate_window() == RateWindow(limit=300, remaining=299, reset_at=reset)
    assert client.rate_windows()["tweets"].remaining == 3499
    fake.inject("credits_depleted")  # X sends no rate headers with a 402
    with pytest.raises(BudgetExhausted):
        client.fetch_metrics([post_id])
    assert client.rate_window() is None
    assert client.rate_windows()["tweets"].remaining == 3499


# ---- user context --------------------------------------------------------------------------


def test_user_token_adds_private_metrics_and_reads_old_posts_publicly(
    client: XClient, fake: FakeX, account: FakeAccount
) -> None:
    fake.add_user_token(USER_TOKEN, account)
    young = post(fake, account, impressions=50, likes=4)
    fake.posts[young].non_public_metrics.update(url_link_clicks=7, user_profile_clicks=2)
    old = post(fake, account, hours_ago=31 * 24, likes=9)

    result = client.fetch_metrics([young, old], credentials={"access_token": USER_TOKEN})

    assert result.errors == {}
    assert result.deleted == set()
    private = result.readings[young].platform_data
    assert private["non_public_metrics"] == {
        "impression_count": 50,
        "url_link_clicks": 7,
        "user_profile_clicks": 2,
    }
    assert private["organic_metrics"]["like_count"] == 4
    assert result.readings[old].likes == 9
    assert "non_public_metrics" not in result.readings[old].platform_data
    first, second = fake.requests
    assert first.context == second.context == f"user:{account.id}"
    assert "non_public_metrics" in first.params["tweet.fields"]
    assert (second.params["ids"], "non_public_metrics" in second.params["tweet.fields"]) == (
        old,
        False,
    )


def test_user_token_problems_ask_for_reconnection(
    client: XClient, fake: FakeX, account: FakeAccount
) -> None:
    post_id = post(fake, account)
    with pytest.raises(PermissionRequired) as missing:
        client.fetch_metrics([post_id], credentials={"refresh_token": "x"})
    assert missing.value.code == "x_user_token_missing"
    with pytest.raises(PermissionRequired) as rejected:
        client.fetch_metrics([post_id], credentials={"access_token": USER_TOKEN})
    assert rejected.value.code == "x_user_unauthorized"
    assert USER_TOKEN not in str(rejected.value)


# ---- discovery -----------------------------------------------------------------------------


def test_discovery_returns_own_posts_newest_first_with_their_counters(
    client: XClient, fake: FakeX, account: FakeAccount
) -> None:
    ids = [post(fake, account, hours_ago=10 - n, likes=n) for n in range(8)]
    fake.add_post(account, kind="reply", created_at=NOW - timedelta(minutes=5))
    fake.add_post(account, kind="retweet", created_at=NOW - timedelta(minutes=4))

    page = client.discover(as_account(account), since_id=None, limit=50)

    assert [p.platform_post_id for p in page.posts] == ids[::-1]
    assert page.newest_id == ids[-1]
    newest = page.posts[0]
    assert newest.post_url == f"https://x.com/OpenPost/status/{ids[-1]}"
    assert newest.published_at == NOW - timedelta(hours=3)
    assert newest.reading is not None
    assert newest.reading.likes == 7
    (request,) = fake.requests
    assert request.path == f"/2/users/{account.id}/tweets"
    assert request.params == {
        "max_results": "50",
        "tweet.fields": "public_metrics,created_at,attachments",
        "exclude": "retweets,replies",
        "expansions": "attachments.media_keys",
        "media.fields": "url,preview_image_url",
    }
    assert newest.preview_url is None  # no media attached


def test_discovery_gives_each_post_its_first_media_preview(
    client: XClient, fake: FakeX, account: FakeAccount
) -> None:
    photo, video, plain = (post(fake, account, hours_ago=h) for h in (3, 2, 1))
    fake.posts[photo].media = [
        FakeMedia("3_1", "photo", "https://pbs.twimg.com/media/a.jpg"),
        FakeMedia("3_2", "photo", "https://pbs.twimg.com/media/b.jpg"),
    ]
    fake.posts[video].media = [
        FakeMedia("7_1", "video", "https://pbs.twimg.com/ext_tw_video_thumb/1/pu/img/v.jpg")
    ]
    page = client.discover(as_account(account), since_id=None, limit=50)
    previews = {p.platform_post_id: p.preview_url for p in page.posts}
    assert previews == {
        photo: "https://pbs.twimg.com/media/a.jpg",
        video: "https://pbs.twimg.com/ext_tw_video_thumb/1/pu/img/v.jpg",
        plain: None,
    }


@pytest.mark.parametrize(
    ("posts", "limit", "pages"),
    [(120, 50, [50]), (230, 150, [100, 50]), (30, 150, [100]), (12, 3, [5]), (0, 50, [50])],
)
def test_discovery_never_reads_past_its_limit(
    client: XClient,
    fake: FakeX,
    account: FakeAccount,
    posts: int,
    limit: int,
    pages: list[int],
) -> None:
    ids = [post(fake, account, hours_ago=posts - n) for n in range(posts)]
    page = client.discover(as_account(account), since_id=None, limit=limit)
    assert [p.platform_post_id for p in page.posts] == ids[::-1][:limit]
    assert [int(r.params["max_results"]) for r in fake.requests] == pages
    assert "pagination_token" not in fake.requests[0].params
    assert all("pagination_token" in r.params for r in fake.requests[1:])
    assert page.newest_id == (ids[-1] if ids else None)


def test_discovery_since_id_reads_only_what_is_new(
    client: XClient, fake: FakeX, account: FakeAccount
) -> None:
    for n in range(5):
        post(fake, account, hours_ago=10 - n)
    first = client.discover(as_account(account), since_id=None, limit=50)
    later = [post(fake, account, hours_ago=1), post(fake, account, hours_ago=0.5)]

    second = client.discover(as_account(account), since_id=first.newest_id, limit=50)
    assert [p.platform_post_id for p in second.posts] == later[::-1]
    assert second.newest_id == later[-1]
    assert fake.requests[-1].params["since_id"] == first.newest_id

    third = client.discover(as_account(account), since_id=second.newest_id, limit=50)
    assert (third.posts, third.newest_id) == ([], second.newest_id)
    assert client.discover(as_account(account), since_id=None, limit=0).posts == []
    assert len(fake.requests) == 3


def test_discovery_keeps_a_post_whose_counters_are_malformed(
    client: XClient, fake: FakeX, account: FakeAccount
) -> None:
    bad = post(fake, account)
    fake.posts[bad].public_metrics["like_count"] = "many"
    page = client.discover(as_account(account), since_id=None, limit=50)
    assert [(p.platform_post_id, p.reading) for p in page.posts] == [(bad, None)]


def test_discovery_of_unreadable_accounts(client: XClient, fake: FakeX) -> None:
    locked = fake.add_account("locked", protected=True)
    post(fake, locked)
    with pytest.raises(PermissionRequired):
        client.discover(as_account(locked), since_id=None, limit=50)
    ghost = Account("999", "ghost", "Ghost")
    with pytest.raises(NotFound) as gone:
        client.discover(ghost, since_id=None, limit=50)
    assert gone.value.code == "x_account_not_found"
    # The owner's own token reads a protected timeline.
    fake.add_user_token(USER_TOKEN, locked)
    page = client.discover(
        as_account(locked), since_id=None, limit=50, credentials={"access_token": USER_TOKEN}
    )
    assert len(page.posts) == 1


def test_discovery_rate_limit(client: XClient, fake: FakeX, account: FakeAccount) -> None:
    fake.set_rate_limit("user_tweets", 0)
    with pytest.raises(RateLimited) as caught:
        client.discover(as_account(account), since_id=None, limit=50)
    assert caught.value.retry_at == NOW + timedelta(minutes=15)


# ---- over a real socket, and the package's import boundary --------------------------------


def test_lookup_through_a_real_server() -> None:
    fake = FakeX()
    fake.add_account("openpost", account_id="2244994945")
    with (
        LiveServer(fake.app) as server,
        XClient(bearer_token=DEFAULT_APP_TOKEN, base_url=server.url) as client,
    ):
        assert client.lookup_account("openpost").external_account_id == "2244994945"
    assert client.rate_window() is not None
    assert fake.requests[0].params == {}


def test_platforms_import_no_database_or_other_features() -> None:
    code = (
        "import sys, openpost.platforms.x.client, openpost.platforms.x.fake;"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] == 'sqlalchemy' or "
        "(m.startswith('openpost.') and m.split('.')[1] not in ('platforms', 'core', 'config')));"
        "print(','.join(bad))"
    )
    done = subprocess.run(  # noqa: S603 - our own interpreter, a fixed snippet
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == ""
