"""The Pinterest client against its fake: one Pin per analytics call (the default), the
bulk beta, the 90-day window and what its sums mean, deleted Pins, throttling, refused
tokens, account counts, and the daily request budget the planner spends."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest

from openpost.config import Settings
from openpost.platforms.base import (
    Account,
    NotFound,
    PermissionRequired,
    RateLimited,
    TransientError,
)
from openpost.platforms.pinterest.client import PinterestClient
from openpost.platforms.pinterest.fake import FakePin, FakePinterest, FakeUser
from openpost.platforms.pinterest.reading import METRIC_TYPES, retry_at
from openpost.platforms.specs import SPECS
from openpost.refresh import budgets
from tests.platforms.support import NOW, Clock, fake_server

TODAY = NOW.date()


@pytest.fixture
def fake(frozen_clock: Clock) -> FakePinterest:
    return FakePinterest(now=frozen_clock)


@pytest.fixture
def user(fake: FakePinterest) -> FakeUser:
    return fake.add_user("openpost", business_name="OpenPost", followers=1200, following=80)


@pytest.fixture
def credentials(fake: FakePinterest, user: FakeUser) -> dict[str, Any]:
    fake.add_app("app", "secret", "https://openpost.test/callback")
    issued = fake.issue_tokens(user, client_id="app")
    return {"access_token": issued["access_token"], "refresh_token": issued["refresh_token"]}


@pytest.fixture
def client(fake: FakePinterest) -> Iterator[PinterestClient]:
    with PinterestClient(transport=fake.transport()) as made:
        yield made


def pin(fake: FakePinterest, user: FakeUser, days: int = 1, **counts: int) -> FakePin:
    return fake.add_pin(user, created_at=NOW - timedelta(days=days), **counts)


def test_one_pin_per_call_over_the_last_90_days(
    fake: FakePinterest, user: FakeUser, client: PinterestClient, credentials: dict[str, Any]
) -> None:
    assert client.batch_size == 1
    first = pin(fake, user, days=3, impressions=100, saves=7, reactions=12, comments=4)
    fake.add_counts(first.id, TODAY - timedelta(days=1), IMPRESSION=40, SAVE=1, PIN_CLICK=5)
    result = client.fetch_metrics([first.id], credentials=credentials)
    assert result.calls == 1
    reading = result.readings[first.id]
    assert (reading.impressions, reading.likes, reading.comments, reading.shares) == (
        140,
        12,
        4,
        None,  # saves are not shares
    )
    data = reading.platform_data
    assert (data["saves"], data["pin_clicks"], data["window_days"]) == (8, 5, 90)
    assert (data["window_start"], data["window_end"]) == ("2026-01-17", "2026-04-16")
    assert data["impressions_kind"] == "impressions"
    assert data["days_processing"] == 1  # today is still processing
    (call,) = fake.calls("pin_analytics")
    assert call.params["metric_types"].split(",") == list(METRIC_TYPES)
    assert (call.params["app_types"], call.params["split_field"]) == ("ALL", "NO_SPLIT")
    with pytest.raises(ValueError, match="1"):
        client.fetch_metrics([first.id, pin(fake, user).id], credentials=credentials)


def test_days_older_than_90_fall_out_and_old_pins_have_no_lifetime_counts(
    fake: FakePinterest, user: FakeUser, client: PinterestClient, credentials: dict[str, Any]
) -> None:
    old = fake.add_pin(user, created_at=datetime(2023, 1, 5, tzinfo=UTC), impressions=9000)
    fake.add_counts(old.id, TODAY - timedelta(days=95), IMPRESSION=500)
    fake.add_counts(old.id, TODAY - timedelta(days=10), IMPRESSION=30, SAVE=2)
    reading = client.fetch_metrics([old.id], credentials=credentials).readings[old.id]
    assert reading.impressions == 30  # only the last 90 days
    assert (reading.likes, reading.comments) == (None, None)  # created before 2023-03-20
    assert reading.platform_data["saves"] == 2


def test_a_deleted_pin_is_deleted_and_a_lowercase_app_key_still_reads(
    fake: FakePinterest, user: FakeUser, client: PinterestClient, credentials: dict[str, Any]
) -> None:
    gone, kept = pin(fake, user), pin(fake, user, impressions=5)
    fake.delete_pin(gone.id)
    result = client.fetch_metrics([gone.id], credentials=credentials)
    assert (result.deleted, result.readings, result.calls) == ({gone.id}, {}, 1)
    fake.app_key = "all"
    assert (
        client.fetch_metrics([kept.id], credentials=credentials).readings[kept.id].impressions == 5
    )
    bad = client.fetch_metrics(["not-a-pin"], credentials=credentials)
    assert bad.calls == 0
    assert isinstance(bad.errors["not-a-pin"], NotFound)


def test_another_accounts_pin_fails_alone_and_a_missing_scope_needs_reconnecting(
    fake: FakePinterest, user: FakeUser, client: PinterestClient, credentials: dict[str, Any]
) -> None:
    other = fake.add_user("someone")
    theirs = pin(fake, other)
    result = client.fetch_metrics([theirs.id], credentials=credentials)
    assert result.errors[theirs.id].code == "pinterest_pin_forbidden"  # that Pin alone
    assert not isinstance(result.errors[theirs.id], PermissionRequired)
    narrow = fake.issue_tokens(user, client_id="app", scope="user_accounts:read")
    with pytest.raises(PermissionRequired) as caught:  # a missing scope: reconnect
        client.fetch_metrics(
            [pin(fake, user).id], credentials={"access_token": narrow["access_token"]}
        )
    assert caught.value.code == "pinterest_forbidden"
    with pytest.raises(PermissionRequired, match="consent"):
        client.fetch_metrics([theirs.id], credentials=None)


def test_throttling_and_outages(
    fake: FakePinterest, user: FakeUser, client: PinterestClient, credentials: dict[str, Any]
) -> None:
    one = pin(fake, user)
    fake.inject("rate_limited", endpoint="pin_analytics")
    with pytest.raises(RateLimited) as caught:
        client.fetch_metrics([one.id], credentials=credentials)
    assert caught.value.retry_at == datetime(2026, 4, 17, tzinfo=UTC)  # the UTC day's end
    for kind in ("server_error", "ramped_down"):
        fake.inject(kind, endpoint="pin_analytics")  # type: ignore[arg-type]
        with pytest.raises(TransientError):
            client.fetch_metrics([one.id], credentials=credentials)
    assert one.id in client.fetch_metrics([one.id], credentials=credentials).readings
    window = client.rate_window()
    assert window is not None
    assert (window.limit, window.remaining, window.scope) == (1000, 996, "app")
    assert window.reset_at == datetime(2026, 4, 17, tzinfo=UTC)
    # Without any rate header: Trial waits for the next UTC day, Standard for a minute.
    empty = httpx.Headers()
    assert retry_at(empty, NOW, trial=True) == datetime(2026, 4, 17, tzinfo=UTC)
    assert retry_at(empty, NOW, trial=False) == NOW + timedelta(minutes=1)
    assert retry_at(httpx.Headers({"retry-after": "30"}), NOW, trial=True) == NOW + timedelta(
        seconds=30
    )


def test_a_401_renews_the_token_once_and_retries(
    fake: FakePinterest, user: FakeUser, credentials: dict[str, Any]
) -> None:
    renewed = fake.issue_tokens(user, client_id="app")
    asked: list[bool] = []

    def tokens(current: dict[str, Any], *, force: bool) -> dict[str, Any]:
        asked.append(force)
        return {**current, "access_token": renewed["access_token"]} if force else current

    one = pin(fake, user, impressions=3)
    fake.inject("expired_token", endpoint="pin_analytics")
    with PinterestClient(transport=fake.transport(), user_tokens=tokens) as client:
        result = client.fetch_metrics([one.id], credentials=credentials)
    assert result.readings[one.id].impressions == 3
    assert (asked, result.calls) == ([False, True], 2)
    assert [r.status for r in fake.calls("pin_analytics")] == [401, 200]


def test_bulk_reads_100_and_asks_a_left_out_pin_alone(
    fake: FakePinterest, user: FakeUser, credentials: dict[str, Any]
) -> None:
    fake.bulk_enabled = True
    pins = [pin(fake, user, impressions=n) for n in range(3)]
    fake.delete_pin(pins[0].id)
    with PinterestClient(transport=fake.transport(), bulk=True) as client:
        assert client.batch_size == 100
        result = client.fetch_metrics([p.id for p in pins], credentials=credentials)
    assert result.deleted == {pins[0].id}
    assert {k: r.impressions for k, r in result.readings.items()} == {pins[1].id: 1, pins[2].id: 2}
    assert result.calls == 2  # the bulk call, then the left-out Pin alone (404 code 50)
    assert [r.endpoint for r in fake.requests] == ["bulk_analytics", "pin_analytics"]


def test_discovery_pages_by_bookmark_and_stops_at_what_it_saw(
    fake: FakePinterest, user: FakeUser, client: PinterestClient, credentials: dict[str, Any]
) -> None:
    account = Account(user.id, user.username, user.business_name)
    old = [pin(fake, user, days=10 + n) for n in range(3)]
    first = client.discover(account, since_id=None, limit=2, credentials=credentials)
    assert [p.platform_post_id for p in first.posts] == [old[0].id, old[1].id]
    assert first.posts[0].post_url == f"https://www.pinterest.com/pin/{old[0].id}/"
    assert first.posts[0].published_at == old[0].created_at
    new = [pin(fake, user, days=1), pin(fake, user, days=2)]
    again = client.discover(account, since_id=first.newest_id, limit=50, credentials=credentials)
    assert [p.platform_post_id for p in again.posts] == [new[0].id, new[1].id]
    (listed,) = fake.calls("pins_list")[1:]
    assert (listed.params["page_size"], listed.params["pin_filter"]) == ("50", "exclude_repins")


def test_account_counts(
    fake: FakePinterest, user: FakeUser, client: PinterestClient, credentials: dict[str, Any]
) -> None:
    pin(fake, user)
    batch = client.fetch_accounts([user.id], credentials=credentials)
    reading = batch.readings[user.id]
    assert (reading.followers, reading.following, reading.posts, batch.calls) == (1200, 80, 1, 1)
    assert reading.platform_data["posts_kind"] == "pins_created_and_saved"
    other = client.fetch_accounts(["42"], credentials=credentials)
    assert isinstance(other.errors["42"], PermissionRequired)


def test_the_window_reaches_back_90_days_at_most(
    fake: FakePinterest, user: FakeUser, credentials: dict[str, Any]
) -> None:
    one = pin(fake, user)
    headers = {"Authorization": f"Bearer {credentials['access_token']}"}
    with httpx.Client(transport=fake.transport(), base_url="https://api.pinterest.com") as http:
        params = {"metric_types": "IMPRESSION", "end_date": TODAY.isoformat()}
        for start, status in ((TODAY - timedelta(days=90), 200), (date(2026, 1, 15), 400)):
            answer = http.get(
                f"/v5/pins/{one.id}/analytics",
                params={**params, "start_date": start.isoformat()},
                headers=headers,
            )
            assert answer.status_code == status
        assert answer.json() == {"code": 400, "message": "Invalid pins analytics parameters."}
        assert http.get("/v5/user_account").json() == {
            "code": 2,
            "message": "Authentication failed.",
        }


def test_the_daily_budget_counts_every_call(settings: Settings) -> None:
    budget = budgets.budget_for(settings, "pinterest")
    assert (budget.unit, budget.limit, budget.per_call) == ("quota_units", 1000, True)
    assert budget.cost(7, SPECS["pinterest"].reader.batch_size(settings)) == 7  # type: ignore[union-attr]
    bulk = settings.model_copy(update={"pinterest_bulk_analytics": True})
    assert budget.cost(150, SPECS["pinterest"].reader.batch_size(bulk)) == 2  # type: ignore[union-attr]
    assert budget.resets_at(NOW) == datetime(2026, 4, 17, tzinfo=UTC)
    standard = settings.model_copy(update={"pinterest_daily_request_limit": 0})
    assert not budgets.budget_for(standard, "pinterest").limited
    assert SPECS["pinterest"].configured(settings) is False
    ready = settings.model_copy(
        update={
            "pinterest_client_id": "id",
            "pinterest_client_secret": "secret",
            "public_base_url": "https://analytics.example.com",
        }
    )
    assert SPECS["pinterest"].configured(ready)


def test_the_fake_runs_as_a_server() -> None:
    with fake_server("pinterest", "--seed", "--oauth-client", "id:secret:http://cb.test/cb") as url:
        answer = httpx.get(url + "/v5/user_account")
        assert (answer.status_code, answer.json()["code"]) == (401, 2)
        page = httpx.get(url + "/oauth/", params={"client_id": "nobody"})
        assert page.status_code == 400
