"""The Threads client against the fake: the mapping, "in development" metrics, shortcodes
and media ids, discovery, throttling part-way, refused tokens, the account's followers, and
the owner's long-lived token renewing itself."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest

from openpost.platforms.base import (
    Account,
    MalformedResponse,
    NotFound,
    PermissionRequired,
    RateLimited,
    TransientError,
)
from openpost.platforms.consent import TokenRefused, TokenSet
from openpost.platforms.threads import client as threads_client
from openpost.platforms.threads.client import MediaIds, ThreadsClient
from openpost.platforms.threads.fake import WINDOW, FakeMedia, FakeThreads, FakeUser
from openpost.platforms.threads.oauth import ThreadsOAuth
from tests.platforms.support import Clock

APP, SECRET = "threads-app-id", "threads-app-secret"
BASE = "https://graph.threads.test"


@dataclass
class World:
    fake: FakeThreads
    user: FakeUser
    client: ThreadsClient
    credentials: dict[str, Any]
    clock: Clock

    @property
    def account(self) -> Account:
        return Account(self.user.id, self.user.username, self.user.name)

    def post(self, hours: float = 1, **metrics: Any) -> FakeMedia:
        return self.fake.add_media(
            self.user, created_at=self.clock() - timedelta(hours=hours), **metrics
        )

    def requests(self, endpoint: str | None = None) -> int:
        return len(self.fake.calls(endpoint))


@pytest.fixture
def world(frozen_clock: Clock) -> Iterator[World]:
    fake = FakeThreads(now=frozen_clock)
    fake.add_app(APP, SECRET, "https://openpost.test/integrations/threads/callback")
    user = fake.add_user("openpost", name="OpenPost", followers=321)
    token = fake.issue_token(user, client_id=APP)["access_token"]
    client = ThreadsClient(base_url=BASE, transport=fake.transport(), media_ids=MediaIds())
    yield World(fake, user, client, {"access_token": token}, frozen_clock)
    client.close()


def test_the_counters_map_as_the_reference_says(world: World) -> None:
    media = world.post(views=900, likes=40, replies=7, reposts=5, quotes=2, shares=11)
    result = world.client.fetch_metrics([media.shortcode], credentials=world.credentials)
    reading = result.readings[media.shortcode]
    assert (reading.impressions, reading.likes, reading.comments, reading.shares) == (
        900,
        40,
        7,
        5 + 2,  # reposts + quotes; "shares" (sends off Threads) stays in platform_data
    )
    assert reading.platform_data == {
        "impressions_kind": "views",
        "views": 900,
        "likes": 40,
        "replies": 7,
        "reposts": 5,
        "quotes": 2,
        "shares": 11,
    }
    assert result.calls == 2  # the listing that found its media id, then its insights
    (insights,) = world.fake.calls("insights")
    assert insights.object_id == media.id
    assert insights.params["metric"] == "views,likes,replies,reposts,quotes,shares"


def test_metrics_in_development_may_be_missing_and_are_none_not_zero(world: World) -> None:
    media = world.post(views=900, likes=4, reposts=1)
    world.fake.missing_metrics = {"views", "shares"}
    reading = world.client.fetch_metrics([media.shortcode], credentials=world.credentials)
    got = reading.readings[media.shortcode]
    assert (got.impressions, got.likes, got.shares) == (None, 4, 1)
    assert "views" not in got.platform_data
    assert "shares" not in got.platform_data


def test_a_refused_metric_is_asked_again_without_the_two_in_development(world: World) -> None:
    first, second = world.post(hours=2, likes=3), world.post(hours=1, likes=5)
    world.fake.refused_metrics = {"shares"}
    result = world.client.fetch_metrics(
        [first.shortcode, second.shortcode], credentials=world.credentials
    )
    assert [result.readings[m.shortcode].likes for m in (first, second)] == [3, 5]
    assert result.readings[first.shortcode].impressions is None
    asked = [r.params["metric"] for r in world.fake.calls("insights")]
    core = "likes,replies,reposts,quotes"
    # the first post's full ask is refused; then the client keeps to the core metrics
    assert asked == ["views,likes,replies,reposts,quotes,shares", core, core]
    assert result.calls == 1 + 3


def test_insights_not_available_yet_are_all_none(world: World) -> None:
    media = world.post(likes=3)
    media.insights_ready = False
    got = world.client.fetch_metrics([media.shortcode], credentials=world.credentials)
    reading = got.readings[media.shortcode]
    assert (reading.impressions, reading.likes, reading.comments, reading.shares) == (None,) * 4


def test_a_media_id_is_read_directly_and_a_seen_shortcode_is_not_listed_again(
    world: World,
) -> None:
    media = world.post(likes=2)
    direct = world.client.fetch_metrics([media.id], credentials=world.credentials)
    assert direct.readings[media.id].likes == 2
    assert (direct.calls, world.requests("threads")) == (1, 0)
    world.client.fetch_metrics([media.shortcode], credentials=world.credentials)
    world.client.fetch_metrics([media.shortcode], credentials=world.credentials)
    assert world.requests("threads") == 1  # listed once, then remembered


def test_discovery_fills_the_shortcodes_so_reads_need_no_listing(world: World) -> None:
    posts = [world.post(hours=5 - n, likes=n) for n in range(3)]
    repost = world.post(hours=0.5)
    repost.media_type = "REPOST_FACADE"
    page = world.client.discover(
        world.account, since_id=None, limit=10, credentials=world.credentials
    )
    assert [p.platform_post_id for p in page.posts] == [m.shortcode for m in posts[::-1]]
    assert page.posts[0].post_url == (
        f"https://www.threads.net/@openpost/post/{posts[-1].shortcode}"
    )
    listed = world.requests("threads")
    result = world.client.fetch_metrics([m.shortcode for m in posts], credentials=world.credentials)
    assert len(result.readings) == 3
    assert world.requests("threads") == listed
    assert result.calls == 3


def test_a_post_without_a_permalink_gets_its_url_from_the_shortcode(world: World) -> None:
    media = world.post()
    media.copyright_flagged = True
    page = world.client.discover(
        world.account, since_id=None, limit=10, credentials=world.credentials
    )
    assert page.posts[0].post_url == f"https://www.threads.net/@openpost/post/{media.shortcode}"


def test_discovery_asks_since_the_cursors_time(world: World) -> None:
    world.post(hours=30)
    first = world.client.discover(
        world.account, since_id=None, limit=10, credentials=world.credentials
    )
    newer = world.post(hours=1)
    second = world.client.discover(
        world.account, since_id=first.newest_id, limit=10, credentials=world.credentials
    )
    assert [p.platform_post_id for p in second.posts] == [newer.shortcode]
    last = world.fake.calls("threads")[-1]
    assert first.newest_id is not None
    assert int(last.params["since"]) == int(first.newest_id.split(":")[0]) - 1
    assert int(last.params["limit"]) <= 100


def test_a_shortcode_missing_from_the_whole_listing_is_deleted(world: World) -> None:
    kept = world.post()
    result = world.client.fetch_metrics(
        [kept.shortcode, "Dnotthere12"], credentials=world.credentials
    )
    assert result.deleted == {"Dnotthere12"}
    assert set(result.readings) == {kept.shortcode}


def test_a_shortcode_beyond_the_pages_listed_is_not_found(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(threads_client, "RESOLVE_PAGES", 1)
    monkeypatch.setattr(threads_client, "PAGE_MAX", 2)
    old = world.post(hours=10)
    for n in range(3):
        world.post(hours=n + 1)
    result = world.client.fetch_metrics([old.shortcode], credentials=world.credentials)
    assert isinstance(result.errors[old.shortcode], NotFound)
    assert result.errors[old.shortcode].code == "threads_not_listed"
    assert result.deleted == set()


def test_a_deleted_post_is_reported_deleted(world: World) -> None:
    media = world.post()
    world.client.fetch_metrics([media.id], credentials=world.credentials)
    world.fake.delete_media(media.id)
    result = world.client.fetch_metrics([media.id], credentials=world.credentials)
    assert result.deleted == {media.id}
    assert world.fake.calls("insights")[-1].status == 400


def test_a_refused_token_is_token_refused_and_not_retried(world: World) -> None:
    media = world.post()
    world.fake.revoke(world.credentials["access_token"])
    with pytest.raises(TokenRefused) as caught:
        world.client.fetch_metrics([media.id], credentials=world.credentials)
    assert caught.value.code == "threads_token_expired"
    assert world.requests() == 1
    assert world.credentials["access_token"] not in caught.value.message


def test_a_missing_permission_sent_as_http_500_is_permission_required(world: World) -> None:
    media = world.post()
    world.fake.inject("permission", endpoint="insights")
    with pytest.raises(PermissionRequired) as caught:
        world.client.fetch_metrics([media.id], credentials=world.credentials)
    assert caught.value.code == "threads_permission_required"
    assert not isinstance(caught.value, TokenRefused)


def test_without_the_owners_token_nothing_is_called(world: World) -> None:
    with pytest.raises(PermissionRequired) as caught:
        world.client.fetch_metrics(["Dabcdefghij"], credentials=None)
    assert caught.value.code == "threads_not_connected"
    assert world.requests() == 0


def test_throttled_part_way_keeps_the_readings_and_reports_a_spent_window(
    world: World,
) -> None:
    posts = [world.post(hours=n + 1, likes=n) for n in range(4)]
    ids = [m.id for m in posts]
    world.fake.set_rate_limit(2)
    result = world.client.fetch_metrics(ids, credentials=world.credentials)
    assert set(result.readings) == set(ids[:2])
    assert set(result.errors) == set(ids[2:])
    error = result.errors[ids[2]]
    assert isinstance(error, RateLimited)
    assert error.retry_at == world.clock() + WINDOW
    window = world.client.rate_window()
    assert window is not None
    assert (window.spent, window.scope, window.reset_at) == (True, "credential", error.retry_at)
    assert result.calls == 3


def test_a_server_error_part_way_leaves_the_rest_for_later(world: World) -> None:
    posts = [world.post(hours=n + 1) for n in range(3)]
    world.client.fetch_metrics([posts[0].id], credentials=world.credentials)
    world.fake.inject("server_error", endpoint="insights", status=500)
    result = world.client.fetch_metrics([m.id for m in posts], credentials=world.credentials)
    assert all(isinstance(result.errors[m.id], TransientError) for m in posts)
    assert result.calls == 1  # the rest were not asked


def test_a_broken_counter_fails_that_post_alone(world: World) -> None:
    good, bad = world.post(hours=2, likes=1), world.post(hours=1)
    world.fake.set_metrics(bad.id, replies=-3)
    result = world.client.fetch_metrics([good.id, bad.id], credentials=world.credentials)
    assert set(result.readings) == {good.id}
    assert isinstance(result.errors[bad.id], MalformedResponse)


def test_the_usage_header_is_a_rolling_window_of_the_owners_credential(world: World) -> None:
    world.fake.set_rate_limit(10)
    media = world.post()
    world.client.fetch_metrics([media.id], credentials=world.credentials)
    window = world.client.rate_window()
    assert window is not None
    assert (window.limit, window.remaining, window.scope) == (100, 90, "credential")
    assert window.rolling == timedelta(hours=24)


def test_the_accounts_followers_are_read_and_the_rest_is_none(world: World) -> None:
    batch = world.client.fetch_accounts([world.user.id], credentials=world.credentials)
    reading = batch.readings[world.user.id]
    assert (reading.followers, reading.following, reading.posts) == (321, None, None)
    assert reading.platform_data == {"username": "openpost", "name": "OpenPost"}
    assert batch.calls == 2
    with pytest.raises(ValueError, match="one account"):
        world.client.fetch_accounts(["1", "2"], credentials=world.credentials)


def test_an_account_is_not_looked_up_by_handle(world: World) -> None:
    with pytest.raises(NotFound) as caught:
        world.client.lookup_account("@openpost")
    assert caught.value.code == "threads_consent_only"
    assert world.requests() == 0


# ---- the owner's long-lived token renewing itself ------------------------------------------


def _oauth(world: World) -> ThreadsOAuth:
    return ThreadsOAuth(
        client_id=APP, client_secret=SECRET, base_url=BASE, transport=world.fake.transport()
    )


def _stored(world: World, *, age: timedelta) -> TokenSet:
    issued = world.fake.issue_token(world.user, client_id=APP, age=age)
    expires: datetime = issued["expires_at"]
    return TokenSet(issued["access_token"], None, expires, "threads_basic,threads_manage_insights")


def test_a_month_old_token_renews_for_sixty_days(world: World) -> None:
    stored = _stored(world, age=timedelta(days=31))
    with _oauth(world) as oauth:
        renewed = oauth.renew(stored, now=world.clock())
    assert renewed.access_token != stored.access_token
    assert renewed.refresh_token is None
    assert renewed.expires_at == world.clock() + timedelta(seconds=5_183_944)
    assert world.fake.refreshes == 1
    page = world.client.discover(
        world.account, since_id=None, limit=5, credentials={"access_token": renewed.access_token}
    )
    assert page.posts == []


def test_a_token_under_a_day_old_is_kept_without_a_call(world: World) -> None:
    stored = _stored(world, age=timedelta(hours=3))
    with _oauth(world) as oauth:
        assert oauth.renew(stored, now=world.clock()) == stored
    assert world.fake.calls("refresh") == []


def test_an_expired_or_refused_token_cannot_renew(world: World) -> None:
    expired = _stored(world, age=timedelta(days=61))
    refused = _stored(world, age=timedelta(days=40))
    world.fake.revoke(refused.access_token)
    with _oauth(world) as oauth:
        with pytest.raises(TokenRefused):
            oauth.renew(expired, now=world.clock())
        with pytest.raises(TokenRefused):
            oauth.renew(refused, now=world.clock())
    assert len(world.fake.calls("refresh")) == 1  # the expired one was not even sent


@pytest.mark.parametrize(
    ("fault", "error"),
    [("not_json", MalformedResponse), ("bad_gateway", TransientError)],
)
def test_unreadable_answers_are_the_posts_own_failure(
    world: World, fault: str, error: type[Exception]
) -> None:
    media = world.post()
    world.fake.inject(fault, endpoint="insights")  # type: ignore[arg-type]
    result = world.client.fetch_metrics([media.id], credentials=world.credentials)
    assert isinstance(result.errors[media.id], error)
