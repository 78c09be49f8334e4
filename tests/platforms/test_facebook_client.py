"""The Facebook Pages client against the fake Graph API: the mapping of counters and
insights (views, reach, reactions by type, lifetime over day, shares left out when 0,
reels read as videos), insights not ready yet, one Graph batch per read, Meta's errors and
usage headers, discovery of a Page's own posts, the Page's followers, and the fake's own
fidelity (retired metrics, the 50-operation limit, running as a server)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import httpx
import orjson
import pytest

from openpost.platforms.base import (
    Account,
    AccountReader,
    NotFound,
    PermissionRequired,
    RateLimited,
    TransientError,
    Unsupported,
)
from openpost.platforms.consent import TokenRefused
from openpost.platforms.facebook.client import FacebookClient
from openpost.platforms.facebook.fake import FakeFacebook, FakePage, FakeUser
from openpost.platforms.facebook.reading import parse_cursor
from tests.platforms.support import Clock, fake_server

GRAPH = "https://graph.facebook.com"


@dataclass
class Page:
    fake: FakeFacebook
    owner: FakeUser
    page: FakePage
    client: FacebookClient
    credentials: dict[str, str]
    account: Account


@pytest.fixture
def fb(frozen_clock: Clock) -> Iterator[Page]:
    fake = FakeFacebook(now=frozen_clock)
    owner = fake.add_user("Pat Owner")
    page = fake.add_page(owner, "Corner Bakery", username="cornerbakery", followers=1520, fans=9)
    client = FacebookClient(base_url=GRAPH, transport=fake.transport())
    credentials = {"access_token": fake.page_token(page, owner)}
    account = Account(page.id, page.username, page.name)
    yield Page(fake, owner, page, client, credentials, account)
    client.close()


def test_a_post_maps_views_reactions_comments_and_shares(fb: Page, frozen_clock: Clock) -> None:
    post = fb.fake.add_post(
        fb.page,
        created_at=frozen_clock() - timedelta(hours=3),
        likes=40,
        reactions={"love": 5, "wow": 0},
        comments=7,
        shares=3,
        views=900,
        reach=610,
    )
    quiet = fb.fake.add_post(fb.page, likes=1, views=10)  # no shares: Facebook leaves them out
    result = fb.client.fetch_metrics([post.id, quiet.id], credentials=fb.credentials)
    reading = result.readings[post.id]
    # views, not the day value the insights also carry (lifetime wins)
    assert (reading.impressions, reading.likes, reading.comments, reading.shares) == (900, 45, 7, 3)
    assert reading.platform_data == {
        "impressions_kind": "views",
        "post_media_view": 900,
        "reach": 610,
        "reactions": 45,
        "reactions_by_type": {"like": 40, "love": 5},
        "comments": 7,
        "shares": 3,
    }
    assert result.readings[quiet.id].shares == 0
    assert result.calls == 1
    (batch,) = fb.fake.calls("batch")
    assert batch.operations == 4  # counters and insights per post, one HTTP request


def test_a_reel_is_read_through_its_video_insights(fb: Page) -> None:
    reel = fb.fake.add_post(fb.page, reel=True, likes=8, comments=2, views=5000, reach=3000)
    result = fb.client.fetch_metrics([reel.video_id], credentials=fb.credentials)
    reading = result.readings[reel.video_id]
    assert (reading.impressions, reading.likes, reading.comments, reading.shares) == (
        5000,
        8,
        2,
        None,  # a video node has no shares field: not reported, never 0
    )
    assert reading.platform_data["impressions_kind"] == "plays"
    assert reading.platform_data["reach"] == 3000


def test_insights_not_ready_leave_impressions_unknown(fb: Page) -> None:
    post = fb.fake.add_post(fb.page, likes=4, views=100)
    post.insights_ready = False
    reading = fb.client.fetch_metrics([post.id], credentials=fb.credentials).readings[post.id]
    assert (reading.impressions, reading.likes) == (None, 4)
    assert reading.platform_data["insights_pending"] is True
    assert "reach" not in reading.platform_data


def test_a_full_batch_is_fifty_operations_and_more_is_refused(fb: Page) -> None:
    ids = [fb.fake.add_post(fb.page).id for _ in range(25)]
    result = fb.client.fetch_metrics(ids, credentials=fb.credentials)
    assert len(result.readings) == 25
    assert fb.fake.calls("batch")[-1].operations == 50
    with pytest.raises(ValueError, match="25"):
        fb.client.fetch_metrics([*ids, fb.fake.add_post(fb.page).id], credentials=fb.credentials)


def test_bad_ids_fail_alone_without_a_call(fb: Page) -> None:
    result = fb.client.fetch_metrics(["not-an-id", "12_ab"], credentials=fb.credentials)
    assert set(result.errors) == {"not-an-id", "12_ab"}
    assert all(isinstance(e, NotFound) for e in result.errors.values())
    assert (result.calls, fb.fake.requests) == (0, [])


@pytest.mark.parametrize("subcode", [460, 458, 463])
def test_a_refused_page_token_fails_the_read(fb: Page, subcode: int) -> None:
    post = fb.fake.add_post(fb.page)
    fb.fake.kill_tokens(fb.owner, subcode=subcode)
    with pytest.raises(TokenRefused) as caught:
        fb.client.fetch_metrics([post.id], credentials=fb.credentials)
    assert isinstance(caught.value, PermissionRequired)  # the integration needs a refresh
    assert caught.value.code == "facebook_token_expired"
    assert f"subcode {subcode}" in caught.value.message
    assert fb.credentials["access_token"] not in caught.value.message


def test_a_whole_batch_refused_for_an_expired_token_is_token_refused(fb: Page) -> None:
    post = fb.fake.add_post(fb.page)
    fb.fake.inject("token_expired", endpoint="batch")
    with pytest.raises(TokenRefused):
        fb.client.fetch_metrics([post.id], credentials=fb.credentials)


def test_no_token_is_permission_required_without_a_call(fb: Page) -> None:
    post = fb.fake.add_post(fb.page)
    with pytest.raises(PermissionRequired):
        fb.client.fetch_metrics([post.id], credentials=None)
    with pytest.raises(PermissionRequired):
        fb.client.discover(fb.account, since_id=None, limit=5, credentials={})
    assert fb.fake.requests == []


@pytest.mark.parametrize("kind", ["server_error", "not_json"])
def test_server_failures_are_transient(fb: Page, kind: str) -> None:
    post = fb.fake.add_post(fb.page)
    fb.fake.inject(kind, endpoint="batch")  # type: ignore[arg-type]
    with pytest.raises(TransientError):
        fb.client.fetch_metrics([post.id], credentials=fb.credentials)


def test_usage_headers_give_the_app_and_the_page_windows(fb: Page) -> None:
    fb.fake.set_limits(page_calls=10, app_calls=100)
    post = fb.fake.add_post(fb.page)
    fb.client.fetch_metrics([post.id], credentials=fb.credentials)  # two calls of each window
    app, page = sorted(fb.client.rate_windows(), key=lambda w: w.scope)
    assert (app.scope, app.remaining, app.rolling) == ("app", 98, timedelta(hours=1))
    assert (page.scope, page.remaining, page.rolling) == ("credential", 80, timedelta(hours=24))
    assert fb.client.rate_window() == page


def test_a_spent_app_window_is_rate_limited_for_an_hour(fb: Page, frozen_clock: Clock) -> None:
    fb.fake.set_limits(app_calls=1)
    post = fb.fake.add_post(fb.page)
    with pytest.raises(RateLimited) as caught:
        fb.client.fetch_metrics([post.id], credentials=fb.credentials)
    assert caught.value.retry_at == frozen_clock() + timedelta(hours=1)


def test_discovery_reads_the_pages_posts_newest_first_and_reels_as_videos(
    fb: Page, frozen_clock: Clock
) -> None:
    old = fb.fake.add_post(fb.page, created_at=frozen_clock() - timedelta(days=2), message="hi")
    reel = fb.fake.add_post(fb.page, created_at=frozen_clock() - timedelta(days=1), reel=True)
    page = fb.client.discover(fb.account, since_id=None, limit=10, credentials=fb.credentials)
    assert [p.platform_post_id for p in page.posts] == [reel.video_id, old.id]
    assert page.posts[0].post_url == f"https://www.facebook.com/reel/{reel.video_id}"
    assert page.posts[1].post_url == f"https://www.facebook.com/{old.id}"  # pfbid links hide ids
    assert page.posts[1].content == "hi"
    assert parse_cursor(page.newest_id or "")[0] == reel.video_id

    new = fb.fake.add_post(fb.page, created_at=frozen_clock() - timedelta(hours=1))
    later = fb.client.discover(
        fb.account, since_id=page.newest_id, limit=10, credentials=fb.credentials
    )
    assert [p.platform_post_id for p in later.posts] == [new.id]
    asked = fb.fake.calls("published_posts")[-1].params
    assert asked["since"] == str(int(reel.created_at.timestamp()))  # only what is new is asked


def test_another_pages_posts_need_that_pages_token(fb: Page) -> None:
    other = fb.fake.add_page(fb.fake.add_user("Someone Else"), "Elsewhere")
    elsewhere = Account(other.id, other.username, other.name)
    with pytest.raises(PermissionRequired):
        fb.client.discover(elsewhere, since_id=None, limit=5, credentials=fb.credentials)


def test_the_pages_followers_are_its_account_reading(fb: Page) -> None:
    assert isinstance(fb.client, AccountReader)
    batch = fb.client.fetch_accounts([fb.page.id], credentials=fb.credentials)
    reading = batch.readings[fb.page.id]
    assert (reading.followers, reading.following, reading.posts) == (1520, None, None)
    assert reading.platform_data == {"fan_count": 9}
    assert batch.calls == 1
    with pytest.raises(ValueError, match="one Page per call"):
        fb.client.fetch_accounts([fb.page.id, "1"], credentials=fb.credentials)


def test_pages_connect_by_consent_not_by_handle(fb: Page) -> None:
    with pytest.raises(Unsupported):
        fb.client.lookup_account("cornerbakery")
    assert "token" not in repr(fb.client).lower()


# ---- the fake's own fidelity ------------------------------------------------------------------


def test_a_retired_metric_fails_the_whole_insights_call(fb: Page) -> None:
    post = fb.fake.add_post(fb.page, views=5)
    with httpx.Client(transport=fb.fake.transport(), base_url=GRAPH) as http:
        headers = {"Authorization": f"Bearer {fb.credentials['access_token']}"}
        metric = "post_media_view,post_impressions"
        answer = http.get(f"/v25.0/{post.id}/insights", params={"metric": metric}, headers=headers)
        assert answer.status_code == 400
        assert answer.json()["error"]["code"] == 100
        assert "valid insights metric" in answer.json()["error"]["message"]
        too_many = [{"method": "GET", "relative_url": f"{post.id}?fields=id"}] * 51
        batch = http.post(
            "/v25.0/", data={"batch": orjson.dumps(too_many).decode()}, headers=headers
        )
        assert batch.status_code == 400
        assert "Maximum batch size is 50" in batch.json()["error"]["message"]
        old = http.get("/v19.0/me", headers=headers)
        assert old.status_code == 400


def test_the_fake_runs_as_a_server() -> None:
    with fake_server("facebook", "--seed", "--seed-posts", "3") as url:
        dialog = httpx.get(f"{url}/v25.0/dialog/oauth", params={"client_id": "nope"})
        assert dialog.status_code == 400
        assert "Invalid App ID" in dialog.text
        anonymous = httpx.get(f"{url}/v25.0/me")
        assert anonymous.json()["error"]["code"] == 190


def test_a_cursor_without_a_time_stops_at_its_post(fb: Page, frozen_clock: Clock) -> None:
    old = fb.fake.add_post(fb.page, created_at=frozen_clock() - timedelta(days=2))
    new = fb.fake.add_post(fb.page, created_at=frozen_clock() - timedelta(days=1))
    page = fb.client.discover(fb.account, since_id=old.id, limit=10, credentials=fb.credentials)
    assert [p.platform_post_id for p in page.posts] == [new.id]
    with pytest.raises(ValueError, match="cursor"):
        fb.client.discover(fb.account, since_id="abc", limit=10, credentials=fb.credentials)
