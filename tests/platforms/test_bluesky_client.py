"""BlueskyClient against the fake AppView: mapping, deleted posts, handles, errors, discovery."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from openpost.config import Settings
from openpost.platforms.base import (
    Account,
    MalformedResponse,
    NotFound,
    PlatformClient,
    PlatformError,
    RateLimited,
    RateWindow,
    TransientError,
)
from openpost.platforms.bluesky.client import BlueskyClient, HandleCache
from openpost.platforms.bluesky.fake import (
    GET_AUTHOR_FEED,
    GET_POSTS,
    GET_PROFILE,
    RESOLVE_HANDLE,
    FakeActor,
    FakeBluesky,
    seed,
)
from openpost.platforms.fakes import LiveServer
from tests.platforms.support import NOW

RESET = NOW + timedelta(minutes=5)


pytestmark = pytest.mark.usefixtures("frozen_clock")


@pytest.fixture
def fake() -> FakeBluesky:
    return FakeBluesky()


@pytest.fixture
def alice(fake: FakeBluesky) -> FakeActor:
    return fake.add_account("alice.bsky.social", display_name="Alice")


@pytest.fixture
def client(fake: FakeBluesky) -> Iterator[BlueskyClient]:
    with BlueskyClient(transport=fake.transport()) as bluesky:
        yield bluesky


def post(fake: FakeBluesky, actor: FakeActor, hours_ago: float = 1, **counts: Any) -> str:
    return fake.add_post(actor, created_at=NOW - timedelta(hours=hours_ago), **counts).uri


def as_account(actor: FakeActor) -> Account:
    return Account(actor.did, actor.handle, actor.display_name)


def test_is_a_platform_client(client: BlueskyClient) -> None:
    assert isinstance(client, PlatformClient)
    assert (client.platform, client.batch_size) == ("bluesky", 25)


def test_built_from_settings(fake: FakeBluesky, alice: FakeActor) -> None:
    settings = Settings(env="test", bluesky_api_base_url="https://appview.test/")
    with BlueskyClient.from_settings(
        settings, transport=fake.transport(), handles=HandleCache()
    ) as client:
        assert client.base_url == "https://appview.test"
        assert client.lookup_account("alice.bsky.social").external_account_id == alice.did
    with BlueskyClient() as default:
        assert default.base_url == "https://public.api.bsky.app"


# ---- lookup_account ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed",
    [
        "alice.bsky.social",
        "@Alice.Bsky.Social",
        " alice.bsky.social ",
        "https://bsky.app/profile/alice.bsky.social",
        "bsky.app/profile/alice.bsky.social/",
    ],
)
def test_lookup_resolves_a_handle_to_its_did(
    client: BlueskyClient, fake: FakeBluesky, alice: FakeActor, typed: str
) -> None:
    assert client.lookup_account(typed) == Account(alice.did, "alice.bsky.social", "Alice")
    (request,) = fake.requests
    assert (request.endpoint, request.params) == (GET_PROFILE, {"actor": ["alice.bsky.social"]})


def test_lookup_by_did_and_display_name_fallback(client: BlueskyClient, fake: FakeBluesky) -> None:
    nameless = fake.add_account("quiet.example.com", display_name="")
    found = client.lookup_account(nameless.did)
    assert found == Account(nameless.did, "quiet.example.com", "quiet.example.com")


@pytest.mark.parametrize(
    "handle", ["", "@", "alice", "two words.bsky.social", "a..b", "-x.bsky.social", "1.2.3.4"]
)
def test_lookup_refuses_impossible_handles_without_a_call(
    client: BlueskyClient, fake: FakeBluesky, handle: str
) -> None:
    with pytest.raises(NotFound) as caught:
        client.lookup_account(handle)
    assert caught.value.code == "bluesky_invalid_handle"
    assert "alice.bsky.social" in caught.value.message
    assert fake.requests == []


def test_lookup_of_missing_suspended_and_deactivated_accounts(
    client: BlueskyClient, fake: FakeBluesky, alice: FakeActor
) -> None:
    with pytest.raises(NotFound) as missing:
        client.lookup_account("nobody.bsky.social")
    assert missing.value.code == "bluesky_account_not_found"
    alice.takendown = True
    with pytest.raises(NotFound) as banned:
        client.lookup_account("alice.bsky.social")
    assert banned.value.code == "bluesky_suspended"
    alice.takendown, alice.deactivated = False, True
    with pytest.raises(NotFound) as resting:
        client.lookup_account("alice.bsky.social")
    assert resting.value.code == "bluesky_deactivated"
    assert [r.status for r in fake.requests] == [400, 400, 400]


# ---- fetch_metrics: mapping ---------------------------------------------------------------


def test_metrics_are_normalised_and_raw_counts_kept(
    client: BlueskyClient, fake: FakeBluesky, alice: FakeActor
) -> None:
    uri = post(fake, alice, likes=42, reposts=5, replies=3, quotes=1, bookmarks=2)
    result = client.fetch_metrics([uri])
    reading = result.readings[uri]
    assert reading.platform_post_id == uri
    assert (reading.impressions, reading.likes, reading.comments, reading.shares) == (
        None,
        42,
        3,
        6,
    )
    assert reading.platform_data == {
        "likeCount": 42,
        "repostCount": 5,
        "replyCount": 3,
        "quoteCount": 1,
        "bookmarkCount": 2,
    }
    assert (result.deleted, result.errors) == (set(), {})
    (request,) = fake.requests
    assert (request.endpoint, request.params) == (GET_POSTS, {"uris": [uri]})


def test_zero_is_measured_zero_and_bookmarks_only_when_sent(
    client: BlueskyClient, fake: FakeBluesky, alice: FakeActor
) -> None:
    uri = post(fake, alice, bookmarks=None)
    reading = client.fetch_metrics([uri]).readings[uri]
    assert (reading.impressions, reading.likes, reading.comments, reading.shares) == (
        None,
        0,
        0,
        0,
    )
    assert "bookmarkCount" not in reading.platform_data


def test_counters_are_read_afresh(
    client: BlueskyClient, fake: FakeBluesky, alice: FakeActor
) -> None:
    uri = post(fake, alice, likes=1)
    assert client.fetch_metrics([uri]).readings[uri].likes == 1
    fake.set_counts(uri, likeCount=99, repostCount=7, quoteCount=2)
    reading = client.fetch_metrics([uri]).readings[uri]
    assert (reading.likes, reading.shares) == (99, 9)


# ---- fetch_metrics: deleted posts, handles, malformed answers ----------------------------


def test_deleted_and_unknown_posts_are_silently_missing_so_reported_deleted(
    client: BlueskyClient, fake: FakeBluesky, alice: FakeActor
) -> None:
    alive = post(fake, alice, likes=5)
    deleted = post(fake, alice)
    fake.delete_post(deleted)
    never = f"at://{alice.did}/app.bsky.feed.post/3zzzzzzzzzzzz"
    banned = fake.add_account("banned.bsky.social")
    gone_author = post(fake, banned)
    banned.takendown = True

    result = client.fetch_metrics([alive, deleted, never, gone_author])

    assert set(result.readings) == {alive}
    assert result.readings[alive].likes == 5
    assert result.deleted == {deleted, never, gone_author}
    assert result.errors == {}
    assert len(fake.requests) == 1


def test_handle_form_ids_are_resolved_once_and_answered_under_the_given_id(
    client: BlueskyClient, fake: FakeBluesky, alice: FakeActor
) -> None:
    created = fake.add_post(alice, created_at=NOW, likes=8)
    by_handle = f"at://Alice.bsky.social/app.bsky.feed.post/{created.rkey}"
    other = post(fake, alice, likes=2)
    other_by_handle = other.replace(alice.did, "alice.bsky.social")

    result = client.fetch_metrics([by_handle, created.uri, other_by_handle])

    assert result.readings[by_handle].likes == 8
    assert result.readings[by_handle].platform_post_id == by_handle
    assert result.readings[created.uri].likes == 8
    assert result.readings[other_by_handle].likes == 2
    resolve, read = fake.requests
    assert (resolve.endpoint, resolve.params) == (RESOLVE_HANDLE, {"handle": ["alice.bsky.social"]})
    assert read.params == {"uris": [created.uri, other]}  # DIDs only, each post once
    client.fetch_metrics([by_handle])
    assert len(fake.calls(RESOLVE_HANDLE)) == 1  # cached


def test_a_handle_that_no_longer_resolves_fails_its_posts_only(
    client: BlueskyClient, fake: FakeBluesky, alice: FakeActor
) -> None:
    kept = post(fake, alice, likes=1)
    orphan = "at://gone.bsky.social/app.bsky.feed.post/3kabcdefghijk"
    result = client.fetch_metrics([kept, orphan])
    assert set(result.readings) == {kept}
    assert isinstance(result.errors[orphan], NotFound)
    assert result.errors[orphan].code == "bluesky_handle_not_found"
    assert result.deleted == set()


@pytest.mark.parametrize(
    "corrupt",
    [
        pytest.param(lambda c: c.pop("likeCount"), id="missing-likeCount"),
        pytest.param(lambda c: c.pop("quoteCount"), id="missing-quoteCount"),
        pytest.param(lambda c: c.update(replyCount="12"), id="string"),
        pytest.param(lambda c: c.update(repostCount=1.5), id="float"),
        pytest.param(lambda c: c.update(likeCount=True), id="bool"),
        pytest.param(lambda c: c.update(likeCount=None), id="null"),
        pytest.param(lambda c: c.update(quoteCount=-1), id="negative"),
        pytest.param(lambda c: c.update(bookmarkCount="2"), id="bad-bookmarkCount"),
    ],
)
def test_a_malformed_count_fails_that_post_only(
    client: BlueskyClient, fake: FakeBluesky, alice: FakeActor, corrupt: Any
) -> None:
    good = post(fake, alice, likes=2)
    bad = post(fake, alice, likes=3)
    corrupt(fake.posts[bad].counts)
    result = client.fetch_metrics([good, bad])
    assert result.readings[good].likes == 2
    assert bad not in result.readings
    assert bad not in result.deleted
    error = result.errors[bad]
    assert isinstance(error, MalformedResponse)
    assert error.code == "bluesky_malformed"
    assert "Count" in error.message


def test_n_ids_cost_ceil_n_over_25_requests(
    client: BlueskyClient, fake: FakeBluesky, alice: FakeActor
) -> None:
    ids = [post(fake, alice, hours_ago=i / 10, likes=i) for i in range(60)]
    readings = {}
    for start in range(0, len(ids), client.batch_size):
        readings.update(client.fetch_metrics(ids[start : start + client.batch_size]).readings)
    assert {uri: r.likes for uri, r in readings.items()} == {uri: i for i, uri in enumerate(ids)}
    assert len(fake.calls(GET_POSTS)) == math.ceil(60 / 25) == 3
    assert [len(r.params["uris"]) for r in fake.requests] == [25, 25, 10]


def test_more_than_25_ids_and_impossible_ids_are_refused_without_a_call(
    client: BlueskyClient, fake: FakeBluesky, alice: FakeActor
) -> None:
    ids = [f"at://{alice.did}/app.bsky.feed.post/3k{n:011d}" for n in range(26)]
    with pytest.raises(ValueError, match="at most 25"):
        client.fetch_metrics(ids)
    bad = [
        "",
        "https://bsky.app/profile/a/post/b",
        "at://x/app.bsky.feed.like/1",
        "at:// /p",
        f"at://{alice.did}/app.bsky.feed.post/..",
        "at://did:plc:abc:/app.bsky.feed.post/3kabcdefghijk",
    ]
    result = client.fetch_metrics(bad)
    assert set(result.errors) == set(bad)
    assert {e.code for e in result.errors.values()} == {"bluesky_invalid_id"}
    assert client.fetch_metrics([]).readings == {}
    assert fake.requests == []


# ---- HTTP errors and the rate window ------------------------------------------------------


def _raises(client: BlueskyClient, post_ids: list[str]) -> PlatformError:
    with pytest.raises(PlatformError) as caught:
        client.fetch_metrics(post_ids)
    assert caught.value.__cause__ is None
    return caught.value


@pytest.mark.parametrize(
    ("fault", "status", "kind", "code"),
    [
        ("server_error", 503, TransientError, "bluesky_server_error"),
        ("server_error", 502, TransientError, "bluesky_server_error"),
        ("not_json", 200, MalformedResponse, "bluesky_malformed"),
        ("wrong_shape", 200, MalformedResponse, "bluesky_malformed"),
    ],
)
def test_error_answers_map_to_platform_errors(
    client: BlueskyClient,
    fake: FakeBluesky,
    alice: FakeActor,
    fault: Any,
    status: int,
    kind: type[PlatformError],
    code: str,
) -> None:
    uri = post(fake, alice)
    fake.inject(fault, status=status)
    error = _raises(client, [uri])
    assert (type(error), error.code) == (kind, code)
    assert client.fetch_metrics([uri]).readings  # the fault was one answer only


def test_slow_answer_times_out_as_transient(fake: FakeBluesky, alice: FakeActor) -> None:
    uri = post(fake, alice)
    fake.inject("slow", delay=2.0)
    with BlueskyClient(transport=fake.transport(), timeout=0.05) as impatient:
        error = _raises(impatient, [uri])
    assert (type(error), error.code) == (TransientError, "bluesky_timeout")


def test_rate_window_and_429_until_the_reset(
    client: BlueskyClient, fake: FakeBluesky, alice: FakeActor
) -> None:
    assert client.rate_window() is None
    uri = post(fake, alice)
    fake.set_rate_limit(2)
    client.fetch_metrics([uri])
    assert client.rate_window() == RateWindow(limit=2, remaining=1, reset_at=RESET)
    client.fetch_metrics([uri])
    error = _raises(client, [uri])
    assert type(error) is RateLimited
    assert (error.code, error.outcome, error.transient) == (
        "bluesky_rate_limited",
        "rate_limited",
        True,
    )
    assert error.retry_at == RESET
    assert client.rate_window() == RateWindow(limit=2, remaining=0, reset_at=RESET)


def test_without_rate_headers_there_is_no_window_and_429_pauses_a_while(
    client: BlueskyClient, fake: FakeBluesky, alice: FakeActor
) -> None:
    uri = post(fake, alice)
    fake.rate_headers = False
    client.fetch_metrics([uri])
    assert client.rate_window() is None
    fake.set_rate_limit(0)
    error = _raises(client, [uri])
    assert type(error) is RateLimited
    assert error.retry_at == NOW + timedelta(minutes=5)


# ---- discovery -----------------------------------------------------------------------------


def test_discovery_returns_own_posts_and_threads_newest_first(
    client: BlueskyClient, fake: FakeBluesky, alice: FakeActor
) -> None:
    bob = fake.add_account("bob.bsky.social")
    theirs = fake.add_post(bob, created_at=NOW - timedelta(hours=20))
    own = [
        fake.add_post(alice, created_at=NOW - timedelta(hours=10 - n), likes=n) for n in range(4)
    ]
    thread = fake.add_post(alice, reply_to=own[0], created_at=NOW - timedelta(minutes=30))
    fake.add_post(alice, reply_to=theirs, created_at=NOW - timedelta(minutes=20))
    fake.repost(alice, theirs, created_at=NOW - timedelta(minutes=10))

    page = client.discover(as_account(alice), since_id=None, limit=50)

    expected = [thread.uri] + [p.uri for p in own[::-1]]
    assert [p.platform_post_id for p in page.posts] == expected
    assert page.newest_id == thread.uri
    newest = page.posts[1]
    assert newest.post_url == f"https://bsky.app/profile/alice.bsky.social/post/{own[3].rkey}"
    assert newest.published_at == NOW - timedelta(hours=7)
    assert newest.content == own[3].text
    assert newest.reading is not None
    assert (newest.reading.likes, newest.reading.impressions) == (3, None)
    (request,) = fake.requests
    assert (request.endpoint, request.params) == (
        GET_AUTHOR_FEED,
        {"actor": [alice.did], "limit": ["50"], "filter": ["posts_and_author_threads"]},
    )


@pytest.mark.parametrize(
    ("posts", "reposts", "limit", "pages"),
    [
        (120, 0, 50, [50]),
        (230, 0, 150, [100, 50]),
        (30, 0, 150, [100]),
        (12, 0, 3, [3]),
        (0, 0, 50, [50]),
        (20, 10, 20, [20, 10]),  # reposts take room in a page; the next asks for the rest
    ],
)
def test_discovery_pages_but_never_returns_more_than_its_limit(
    client: BlueskyClient,
    fake: FakeBluesky,
    alice: FakeActor,
    posts: int,
    reposts: int,
    limit: int,
    pages: list[int],
) -> None:
    bob = fake.add_account("bob.bsky.social")
    theirs = fake.add_post(bob, created_at=NOW - timedelta(days=30))
    made = [post(fake, alice, hours_ago=2 * (posts - n)) for n in range(posts)]
    for n in range(reposts):
        fake.repost(alice, theirs, created_at=NOW - timedelta(minutes=n + 1))
    page = client.discover(as_account(alice), since_id=None, limit=limit)
    assert [p.platform_post_id for p in page.posts] == made[::-1][:limit]
    assert [int(r.params["limit"][0]) for r in fake.requests] == pages
    assert "cursor" not in fake.requests[0].params
    assert all("cursor" in r.params for r in fake.requests[1:])
    assert page.newest_id == (made[-1] if made else None)


def test_discovery_since_id_reads_only_what_is_new(
    client: BlueskyClient, fake: FakeBluesky, alice: FakeActor
) -> None:
    for n in range(80):
        post(fake, alice, hours_ago=100 - n)
    first = client.discover(as_account(alice), since_id=None, limit=10)
    later = [post(fake, alice, hours_ago=1), post(fake, alice, hours_ago=0.5)]

    second = client.discover(as_account(alice), since_id=first.newest_id, limit=50)
    assert [p.platform_post_id for p in second.posts] == later[::-1]
    assert second.newest_id == later[-1]
    assert len(fake.requests) == 2  # it stopped at the first known post, no further page

    third = client.discover(as_account(alice), since_id=second.newest_id, limit=50)
    assert (third.posts, third.newest_id) == ([], second.newest_id)
    assert client.discover(as_account(alice), since_id=None, limit=0).posts == []
    assert len(fake.requests) == 3


def test_a_repost_of_an_old_own_post_neither_duplicates_nor_hides_new_posts(
    client: BlueskyClient, fake: FakeBluesky, alice: FakeActor
) -> None:
    old = [fake.add_post(alice, created_at=NOW - timedelta(hours=30 - n)) for n in range(5)]
    first = client.discover(as_account(alice), since_id=None, limit=50)
    fresh = post(fake, alice, hours_ago=2)
    fake.repost(alice, old[0], created_at=NOW - timedelta(hours=1))  # tops the feed
    page = client.discover(as_account(alice), since_id=first.newest_id, limit=50)
    assert [p.platform_post_id for p in page.posts] == [fresh]
    everything = client.discover(as_account(alice), since_id=None, limit=50)
    assert [p.platform_post_id for p in everything.posts] == [fresh] + [p.uri for p in old[::-1]]


def test_discovery_since_a_deleted_post_still_stops_at_older_ones(
    client: BlueskyClient, fake: FakeBluesky, alice: FakeActor
) -> None:
    for n in range(30):
        post(fake, alice, hours_ago=50 - n)
    newest = post(fake, alice, hours_ago=2)
    fake.delete_post(newest)
    fresh = post(fake, alice, hours_ago=1)
    page = client.discover(as_account(alice), since_id=newest, limit=50)
    assert [p.platform_post_id for p in page.posts] == [fresh]
    with pytest.raises(ValueError, match="AT-URI"):
        client.discover(as_account(alice), since_id="12345", limit=50)


def test_discovery_keeps_a_post_whose_counts_are_malformed(
    client: BlueskyClient, fake: FakeBluesky, alice: FakeActor
) -> None:
    bad = post(fake, alice)
    fake.posts[bad].counts["likeCount"] = "many"
    page = client.discover(as_account(alice), since_id=None, limit=50)
    assert [(p.platform_post_id, p.reading) for p in page.posts] == [(bad, None)]


def test_discovery_of_unknown_and_invalid_accounts(
    client: BlueskyClient, fake: FakeBluesky
) -> None:
    ghost = Account("did:plc:aaaaaaaaaaaaaaaaaaaaaaaa", "ghost.bsky.social", "Ghost")
    with pytest.raises(NotFound) as gone:
        client.discover(ghost, since_id=None, limit=50)
    assert gone.value.code == "bluesky_account_not_found"
    with pytest.raises(NotFound) as invalid:
        client.discover(Account("not-a-did", "x", "x"), since_id=None, limit=50)
    assert invalid.value.code == "bluesky_invalid_account"
    assert len(fake.requests) == 1


def test_discovery_of_a_wrong_shaped_feed_is_malformed(
    client: BlueskyClient, fake: FakeBluesky, alice: FakeActor
) -> None:
    fake.inject("wrong_shape")
    with pytest.raises(MalformedResponse):
        client.discover(as_account(alice), since_id=None, limit=50)


# ---- over a real socket ----------------------------------------------------------------------


def test_seeded_world_through_a_real_server() -> None:
    fake = FakeBluesky()
    seed(fake, posts=30)
    with LiveServer(fake.app) as server, BlueskyClient(base_url=server.url) as client:
        account = client.lookup_account("openpost.bsky.social")
        page = client.discover(account, since_id=None, limit=100)
        result = client.fetch_metrics([p.platform_post_id for p in page.posts[:25]])
    assert len(page.posts) == 31  # 30 posts and a self-thread; no repost, reply or deleted
    assert set(result.readings) == {p.platform_post_id for p in page.posts[:25]}
    assert client.rate_window() is not None
