"""The contract every live platform client keeps, asked of each one against its fake.

One parametrised test per question, over the rows of ``contract_support.HARNESSES`` (X,
Bluesky, Mastodon, YouTube, Threads): partial answers, throttling, deleted posts, string ids, batch
limits, URL round trips, discovery paging, and owner tokens where the platform has them. The
per-platform client tests go deeper into each platform; a new platform's row gets every
check here for free.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest

from openpost.config import Settings
from openpost.platforms.base import (
    DiscoveryPage,
    PermissionRequired,
    PlatformClient,
    PlatformError,
)
from openpost.platforms.specs import LIVE, SPECS
from openpost.posts.urls import owned_post_id, post_id_from_url, url_for_post
from tests.platforms.contract_support import (
    HARNESSES,
    Harness,
    Throttle,
    throttle_cases,
    with_owner_tokens,
)
from tests.platforms.support import Clock

HOUR = timedelta(hours=1)


@contextmanager
def made(kind: type[Harness], clock: Clock) -> Iterator[Harness]:
    harness = kind(clock)
    try:
        yield harness
    finally:
        harness.close()


@pytest.fixture(params=HARNESSES, ids=[h.name for h in HARNESSES])
def harness(request: pytest.FixtureRequest, frozen_clock: Clock) -> Iterator[Harness]:
    with made(request.param, frozen_clock) as built:
        yield built


def posts(harness: Harness, count: int, *, oldest: timedelta = 2 * HOUR) -> list[str]:
    """``count`` posts of the account, one minute apart, the newest last."""
    return [harness.add_post(age=oldest - n * timedelta(minutes=1), likes=n) for n in range(count)]


def discover(harness: Harness, *, since_id: str | None, limit: int) -> DiscoveryPage:
    """The account's discovery with what its reads take (an owner's token, an instance)."""
    return harness.client.discover(
        harness.account, since_id=since_id, limit=limit, credentials=harness.credentials
    )


def metric_requests(harness: Harness, since: int) -> list[Any]:
    return [r for r in harness.requests()[since:] if r.endpoint == harness.metrics_endpoint]


def test_the_client_is_what_refresh_expects(harness: Harness) -> None:
    assert isinstance(harness.client, PlatformClient)
    assert (harness.client.platform, harness.client.batch_size) == (
        harness.platform,
        harness.batch_size,
    )


def test_one_bad_id_fails_alone_and_the_rest_read(harness: Harness) -> None:
    ids = posts(harness, 3)
    harness.fail(ids[1])
    before = len(harness.requests())
    result = harness.client.fetch_metrics(ids, credentials=harness.credentials)
    assert set(result.readings) == {ids[0], ids[2]}
    assert set(result.errors) == {ids[1]}
    assert isinstance(result.errors[ids[1]], harness.fail_error)
    assert result.deleted == set()
    assert [result.readings[i].likes for i in (ids[0], ids[2])] == [0, 2]
    assert result.calls == len(harness.requests()) - before  # every request counted
    # one request; or an old Mastodon's refused multi-status request, then one per post;
    # or Threads' listing, then one insights call per post
    assert result.calls == harness.metric_calls(len(ids))


@pytest.mark.parametrize(
    ("kind", "throttle"),
    list(throttle_cases()),
    ids=[f"{kind.name}-{throttle.name}" for kind, throttle in throttle_cases()],
)
def test_throttling_is_the_right_error_with_its_retry_time(
    kind: type[Harness], throttle: Throttle, frozen_clock: Clock
) -> None:
    with made(kind, frozen_clock) as harness:
        (post_id,) = posts(harness, 1)
        throttle.arrange(harness)
        with pytest.raises(PlatformError) as caught:
            harness.client.fetch_metrics([post_id], credentials=harness.credentials)
    error = caught.value
    assert type(error) is throttle.error, error
    assert error.transient
    assert error.code == throttle.code
    assert error.retry_at == throttle.retry_at(frozen_clock())


def test_an_empty_batch_calls_nothing_and_a_repeated_id_is_asked_once(harness: Harness) -> None:
    before = len(harness.requests())
    empty = harness.client.fetch_metrics([], credentials=harness.credentials)
    assert (empty.readings, empty.deleted, empty.errors, empty.calls) == ({}, set(), {}, 0)
    assert harness.requests()[before:] == []
    first, second = posts(harness, 2)
    result = harness.client.fetch_metrics([first, second, first], credentials=harness.credentials)
    assert set(result.readings) == {first, second}
    asked = [i for r in metric_requests(harness, before) for i in harness.ids_sent(r)]
    assert sorted(asked) == sorted([first, second])


def test_the_rate_window_is_the_one_the_platform_reported(
    harness: Harness, frozen_clock: Clock
) -> None:
    (post_id,) = posts(harness, 1)
    harness.client.fetch_metrics([post_id], credentials=harness.credentials)
    window = harness.client.rate_window()
    if not harness.rate_headers:
        assert window is None
        return
    assert window is not None
    assert window.limit is not None
    assert window.remaining is not None
    assert 0 <= window.remaining < window.limit
    # A fixed window says when it resets; a rolling one (Meta's usage headers) how long it is.
    assert window.reset_at is not None or window.rolling is not None
    assert window.reset_at is None or window.reset_at > frozen_clock()


def test_deleted_posts_are_reported_deleted(harness: Harness) -> None:
    ids = posts(harness, 3)
    harness.delete(ids[0])
    result = harness.client.fetch_metrics(ids, credentials=harness.credentials)
    assert result.deleted == {ids[0]}
    assert set(result.readings) == set(ids[1:])
    assert result.errors == {}
    page = discover(harness, since_id=None, limit=10)
    assert ids[0] not in {p.platform_post_id for p in page.posts}


def test_ids_stay_the_platforms_strings(harness: Harness) -> None:
    ids = posts(harness, 3)
    result = harness.client.fetch_metrics(ids, credentials=harness.credentials)
    assert all(type(key) is str for key in result.readings)
    assert sorted(result.readings) == sorted(ids)
    assert all(result.readings[i].platform_post_id == i for i in ids)
    page = discover(harness, since_id=None, limit=10)
    found = [p.platform_post_id for p in page.posts]
    assert all(type(i) is str for i in found)
    assert sorted(found) == sorted(ids)
    assert type(page.newest_id) is str
    if harness.ids_beyond_float:  # X and Mastodon ids are past 2**53: exact as strings
        assert all(i.isdigit() and int(i) > 2**53 for i in ids)
        assert set(found) == set(ids)  # not one digit rounded off


def test_a_full_batch_reads_and_no_request_carries_more_than_the_batch_size(
    harness: Harness,
) -> None:
    ids = posts(harness, harness.batch_size, oldest=harness.batch_size * timedelta(minutes=1))
    before = len(harness.requests())
    result = harness.client.fetch_metrics(ids, credentials=harness.credentials)
    assert set(result.readings) == set(ids)
    sent = metric_requests(harness, before)
    assert sent, "no metrics request was logged"
    assert all(len(harness.ids_sent(r)) <= harness.batch_size for r in sent)
    assert sorted(i for r in sent for i in harness.ids_sent(r)) == sorted(ids)
    assert result.calls == len(harness.requests()) - before

    one_more = [*ids, harness.add_post(age=timedelta(seconds=30))]
    before = len(harness.requests())
    with pytest.raises(ValueError, match=str(harness.batch_size)):
        harness.client.fetch_metrics(one_more, credentials=harness.credentials)
    assert harness.requests()[before:] == []


def test_a_discovered_posts_url_parses_back_to_the_same_post(harness: Harness) -> None:
    posts(harness, 3)
    page = discover(harness, since_id=None, limit=10)
    assert len(page.posts) == 3
    account = harness.account
    for post in page.posts:
        for url in (
            post.post_url,
            url_for_post(harness.platform, post.platform_post_id, account.username),
        ):
            assert url is not None
            parsed = post_id_from_url(harness.platform, url)
            stored = owned_post_id(
                harness.platform,
                parsed,
                username=account.username,
                account_id=account.external_account_id,
                url=url,
            )
            assert stored == post.platform_post_id, url


def test_discovery_pages_and_reads_only_what_is_newer_than_the_cursor(
    harness: Harness,
) -> None:
    old = posts(harness, 3, oldest=3 * 24 * HOUR)
    first = discover(harness, since_id=None, limit=50)
    assert [p.platform_post_id for p in first.posts] == old[::-1]  # newest first
    assert harness.cursor_post(first.newest_id) == old[-1]

    many = harness.discovery_page + 2  # more than one page holds
    new = posts(harness, many, oldest=(many + 1) * timedelta(minutes=1))
    before = len(harness.requests())
    second = discover(harness, since_id=first.newest_id, limit=many)
    logged = harness.requests()[before:]
    assert [p.platform_post_id for p in second.posts] == new[::-1]
    assert harness.cursor_post(second.newest_id) == new[-1]
    assert sum(r.endpoint == harness.discovery_endpoint for r in logged) >= 2  # it paged
    assert second.calls == len(logged)

    before = len(harness.requests())
    none_wanted = discover(harness, since_id=first.newest_id, limit=0)
    assert (none_wanted.posts, none_wanted.newest_id) == ([], first.newest_id)
    assert harness.requests()[before:] == []
    capped = discover(harness, since_id=first.newest_id, limit=2)
    assert [p.platform_post_id for p in capped.posts] == new[::-1][:2]
    nothing = discover(harness, since_id=second.newest_id, limit=50)
    assert (nothing.posts, nothing.newest_id) == ([], second.newest_id)


# ---- owner tokens (only for platforms that have them) ---------------------------------------


@pytest.fixture(params=with_owner_tokens(), ids=[h.name for h in with_owner_tokens()])
def owned(request: pytest.FixtureRequest, frozen_clock: Clock) -> Iterator[Harness]:
    with made(request.param, frozen_clock) as built:
        assert built.owner_tokens is not None
        yield built


def test_an_expiring_owner_token_is_refreshed_before_the_read(
    owned: Harness, frozen_clock: Clock
) -> None:
    tokens = owned.owner_tokens
    assert tokens is not None
    credentials = tokens.issue()
    (post_id,) = posts(owned, 1)
    assert post_id in owned.client.fetch_metrics([post_id], credentials=credentials).readings
    assert tokens.refreshes == 0
    frozen_clock.now += tokens.lifetime + timedelta(minutes=1)
    before = len(owned.requests())
    result = owned.client.fetch_metrics([post_id], credentials=credentials)
    assert post_id in result.readings
    assert tokens.refreshes == 1
    (read,) = metric_requests(owned, before)
    assert (tokens.context(read), read.status) == (tokens.owner_context, 200)


def test_a_token_the_platform_rejects_is_refreshed_once_and_the_read_retried(
    owned: Harness,
) -> None:
    tokens = owned.owner_tokens
    assert tokens is not None
    credentials = tokens.issue()
    tokens.expire_at_platform(credentials)
    (post_id,) = posts(owned, 1)
    before = len(owned.requests())
    result = owned.client.fetch_metrics([post_id], credentials=credentials)
    assert post_id in result.readings
    assert tokens.refreshes == 1
    statuses = [r.status for r in metric_requests(owned, before)]
    assert statuses == [401, 200]
    assert result.calls == 2


def test_a_refused_refresh_is_permission_required(owned: Harness) -> None:
    tokens = owned.owner_tokens
    assert tokens is not None
    credentials = tokens.issue()
    tokens.expire_at_platform(credentials)
    tokens.refuse_refresh(credentials)
    (post_id,) = posts(owned, 1)
    with pytest.raises(PermissionRequired):
        owned.client.fetch_metrics([post_id], credentials=credentials)


@pytest.mark.parametrize("kind", HARNESSES, ids=[h.name for h in HARNESSES])
def test_a_deleted_cursor_still_reads_only_what_is_newer(
    kind: type[Harness], frozen_clock: Clock
) -> None:
    with made(kind, frozen_clock) as harness:
        _deleted_cursor(harness)


def _deleted_cursor(harness: Harness) -> None:
    old = posts(harness, 4, oldest=3 * 24 * HOUR)
    cursor = discover(harness, since_id=None, limit=50).newest_id
    assert harness.cursor_post(cursor) == old[-1]
    harness.delete(old[-1])
    new = posts(harness, 2, oldest=3 * timedelta(minutes=1))
    page = discover(harness, since_id=cursor, limit=50)
    assert [p.platform_post_id for p in page.posts] == new[::-1]
    assert harness.cursor_post(page.newest_id) == new[-1]


def test_every_live_platform_has_a_contract_row() -> None:
    """A platform that gains a client (a ``reader`` in its spec) must get a row here, or it
    escapes every check of this suite."""
    assert {h.platform for h in HARNESSES} == set(LIVE)


@pytest.mark.parametrize("platform", sorted(LIVE))
def test_the_specs_batch_size_is_the_clients(platform: str, settings: Settings) -> None:
    """The planner cuts batches by the spec's size: it must be what the client accepts."""
    reader = SPECS[platform].reader
    assert reader is not None
    row = next(h for h in HARNESSES if h.platform == platform)
    assert reader.batch_size(settings.model_copy(update=row.settings)) == row.batch_size
