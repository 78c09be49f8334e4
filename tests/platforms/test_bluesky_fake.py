"""The fake Bluesky AppView itself: lexicon shapes, silent omissions, feed filters and cursors,
rate headers and faults, spoken to with raw httpx."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest

from openpost.platforms.bluesky.fake import (
    GET_AUTHOR_FEED,
    GET_POSTS,
    FakeActor,
    FakeBluesky,
    seed,
)
from openpost.platforms.bluesky.fake_wire import did_for, tid
from tests.platforms.support import NOW, Clock, fake_server

POST_VIEW_KEYS = {
    "uri",
    "cid",
    "author",
    "record",
    "replyCount",
    "repostCount",
    "likeCount",
    "quoteCount",
    "bookmarkCount",
    "indexedAt",
    "labels",
}


@pytest.fixture
def fake(clock: Clock) -> FakeBluesky:
    return FakeBluesky(now=clock)


@pytest.fixture
def alice(fake: FakeBluesky) -> FakeActor:
    return fake.add_account("alice.bsky.social", display_name="Alice")


@pytest.fixture
def http(fake: FakeBluesky) -> Iterator[httpx.Client]:
    with httpx.Client(base_url="https://public.api.bsky.app", transport=fake.transport()) as c:
        yield c


def xrpc(http: httpx.Client, method: str, params: list[tuple[str, str]]) -> httpx.Response:
    return http.get(f"/xrpc/{method}", params=tuple(params))


def assert_invalid(response: httpx.Response, fragment: str) -> None:
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "InvalidRequest"
    assert fragment in body["message"]


# ---- identity and profiles --------------------------------------------------------------


def test_identifiers_look_like_bluesky_ones(alice: FakeActor) -> None:
    assert alice.did == did_for("Alice.bsky.social")
    assert alice.did.startswith("did:plc:")
    assert len(alice.did) == 32
    key = tid(NOW, 5)
    assert len(key) == 13
    assert key[0] in "234567abcdefghij"
    assert tid(NOW + timedelta(microseconds=1), 0) > key  # TIDs sort by time as strings


def test_resolve_handle_and_profile(http: httpx.Client, alice: FakeActor) -> None:
    resolved = xrpc(http, "com.atproto.identity.resolveHandle", [("handle", "alice.bsky.social")])
    assert resolved.json() == {"did": alice.did}
    profile = xrpc(http, "app.bsky.actor.getProfile", [("actor", alice.did)]).json()
    assert (profile["did"], profile["handle"], profile["displayName"]) == (
        alice.did,
        "alice.bsky.social",
        "Alice",
    )
    assert {"postsCount", "followersCount", "indexedAt", "createdAt"} <= set(profile)
    missing = xrpc(http, "com.atproto.identity.resolveHandle", [("handle", "no.bsky.social")])
    assert_invalid(missing, "Unable to resolve handle")
    assert_invalid(
        xrpc(http, "app.bsky.actor.getProfile", [("actor", "no.bsky.social")]), "Profile not found"
    )
    assert_invalid(xrpc(http, "app.bsky.actor.getProfile", []), "actor")


def test_suspended_and_deactivated_profiles(http: httpx.Client, alice: FakeActor) -> None:
    alice.takendown = True
    taken = xrpc(http, "app.bsky.actor.getProfile", [("actor", "alice.bsky.social")])
    assert (taken.status_code, taken.json()["error"]) == (400, "AccountTakedown")
    alice.takendown, alice.deactivated = False, True
    resting = xrpc(http, "app.bsky.actor.getProfile", [("actor", "alice.bsky.social")])
    assert (resting.status_code, resting.json()["error"]) == (400, "AccountDeactivated")


# ---- getPosts ---------------------------------------------------------------------------


def test_get_posts_shape_order_and_silent_omissions(
    http: httpx.Client, fake: FakeBluesky, alice: FakeActor
) -> None:
    first = fake.add_post(alice, text="one", likes=4, created_at=NOW - timedelta(hours=2))
    second = fake.add_post(alice, text="two", created_at=NOW - timedelta(hours=1))
    gone = fake.add_post(alice)
    fake.delete_post(gone.uri)
    by_handle = first.uri.replace(alice.did, "alice.bsky.social")
    uris = [second.uri, gone.uri, first.uri, by_handle, second.uri]
    body = xrpc(http, GET_POSTS, [("uris", u) for u in uris]).json()
    assert [p["uri"] for p in body["posts"]] == [second.uri, first.uri]  # request order
    view = body["posts"][1]
    assert set(view) == POST_VIEW_KEYS
    assert view["cid"] == first.cid
    assert view["author"]["did"] == alice.did
    assert view["record"] == {
        "$type": "app.bsky.feed.post",
        "createdAt": "2026-04-16T08:00:00.000Z",
        "langs": ["en"],
        "text": "one",
    }
    assert view["likeCount"] == 4
    assert view["indexedAt"] == "2026-04-16T08:00:00.850Z"


def test_get_posts_refuses_bad_parameters(http: httpx.Client, alice: FakeActor) -> None:
    uri = f"at://{alice.did}/app.bsky.feed.post/3kabcdefghijk"
    assert_invalid(xrpc(http, GET_POSTS, [("uris", uri)] * 26), "25")
    assert xrpc(http, GET_POSTS, [("uris", uri)] * 25).status_code == 200
    assert_invalid(xrpc(http, GET_POSTS, [("uris", "https://bsky.app/x")]), "uris/0")
    assert_invalid(xrpc(http, GET_POSTS, []), "uris")


def test_malformed_counts_are_served_as_set(
    http: httpx.Client, fake: FakeBluesky, alice: FakeActor
) -> None:
    made = fake.add_post(alice, bookmarks=None)
    fake.posts[made.uri].counts["likeCount"] = "lots"
    del fake.posts[made.uri].counts["quoteCount"]
    (view,) = xrpc(http, GET_POSTS, [("uris", made.uri)]).json()["posts"]
    assert view["likeCount"] == "lots"
    assert "quoteCount" not in view
    assert "bookmarkCount" not in view


# ---- getAuthorFeed ----------------------------------------------------------------------


def _feed_world(fake: FakeBluesky, alice: FakeActor) -> dict[str, str]:
    bob = fake.add_account("bob.bsky.social")
    theirs = fake.add_post(bob, created_at=NOW - timedelta(hours=9))
    top = fake.add_post(alice, created_at=NOW - timedelta(hours=8))
    thread = fake.add_post(alice, reply_to=top, created_at=NOW - timedelta(hours=7))
    reply = fake.add_post(alice, reply_to=theirs, created_at=NOW - timedelta(hours=6))
    repost = fake.repost(alice, theirs, created_at=NOW - timedelta(hours=5))
    return {"top": top.uri, "thread": thread.uri, "reply": reply.uri, "repost": repost.uri}


@pytest.mark.parametrize(
    ("feed_filter", "expected"),
    [
        (None, ["repost", "reply", "thread", "top"]),
        ("posts_with_replies", ["repost", "reply", "thread", "top"]),
        ("posts_no_replies", ["repost", "top"]),
        ("posts_and_author_threads", ["repost", "thread", "top"]),
        ("posts_with_media", ["top"]),
    ],
)
def test_author_feed_filters(
    http: httpx.Client,
    fake: FakeBluesky,
    alice: FakeActor,
    feed_filter: str | None,
    expected: list[str],
) -> None:
    world = _feed_world(fake, alice)
    params = [("actor", "alice.bsky.social")] + ([("filter", feed_filter)] if feed_filter else [])
    feed = xrpc(http, GET_AUTHOR_FEED, params).json()["feed"]
    names = {v: k for k, v in world.items()}
    seen = []
    for item in feed:
        reason = item.get("reason")
        if reason is not None:
            assert reason["$type"] == "app.bsky.feed.defs#reasonRepost"
            assert reason["by"]["did"] == alice.did
            seen.append(names[reason["uri"]])
        else:
            seen.append(names[item["post"]["uri"]])
    assert seen == expected
    thread = (
        next(i for i in feed if i["post"]["uri"] == world["thread"])
        if "thread" in expected
        else None
    )
    if thread is not None:
        assert thread["reply"]["root"]["uri"] == world["top"]
        assert thread["post"]["record"]["reply"]["parent"]["uri"] == world["top"]


def test_author_feed_cursor_pages_cover_every_item_once(
    http: httpx.Client, fake: FakeBluesky, alice: FakeActor
) -> None:
    made = [fake.add_post(alice, created_at=NOW - timedelta(minutes=n)) for n in range(23)]
    seen: list[str] = []
    cursor = None
    calls = 0
    while True:
        params = [("actor", alice.did), ("limit", "10")] + ([("cursor", cursor)] if cursor else [])
        body = xrpc(http, GET_AUTHOR_FEED, params).json()
        calls += 1
        seen += [item["post"]["uri"] for item in body["feed"]]
        cursor = body.get("cursor")
        if cursor is None:
            break
    assert seen == [p.uri for p in made]
    assert calls == 3
    bad = xrpc(http, GET_AUTHOR_FEED, [("actor", alice.did), ("cursor", "nonsense")])
    assert bad.json() == {"feed": []}


def test_author_feed_refuses_bad_parameters(http: httpx.Client, alice: FakeActor) -> None:
    assert_invalid(xrpc(http, GET_AUTHOR_FEED, [("actor", alice.did), ("limit", "101")]), "100")
    assert_invalid(xrpc(http, GET_AUTHOR_FEED, [("actor", alice.did), ("limit", "0")]), "1")
    assert_invalid(
        xrpc(http, GET_AUTHOR_FEED, [("actor", "ghost.bsky.social")]), "Profile not found"
    )
    alice.takendown = True
    assert_invalid(xrpc(http, GET_AUTHOR_FEED, [("actor", alice.did)]), "Profile not found")


# ---- limits, faults, log ------------------------------------------------------------------


def test_rate_headers_429_and_window_reset(
    http: httpx.Client, fake: FakeBluesky, clock: Clock, alice: FakeActor
) -> None:
    fake.set_rate_limit(2)
    reset = str(int((NOW + timedelta(minutes=5)).timestamp()))
    first = xrpc(http, GET_AUTHOR_FEED, [("actor", alice.did)])
    assert first.headers["ratelimit-limit"] == "2"
    assert first.headers["ratelimit-remaining"] == "1"
    assert first.headers["ratelimit-reset"] == reset
    assert first.headers["ratelimit-policy"] == "2;w=300"
    xrpc(http, GET_AUTHOR_FEED, [("actor", alice.did)])
    limited = xrpc(http, GET_AUTHOR_FEED, [("actor", alice.did)])
    assert limited.status_code == 429
    assert limited.json() == {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"}
    clock.now = NOW + timedelta(minutes=5)
    assert xrpc(http, GET_AUTHOR_FEED, [("actor", alice.did)]).status_code == 200
    fake.rate_headers = False
    assert "ratelimit-limit" not in xrpc(http, GET_AUTHOR_FEED, [("actor", alice.did)]).headers


def test_injected_faults_scope_and_count(
    http: httpx.Client, fake: FakeBluesky, alice: FakeActor
) -> None:
    fake.inject("server_error", endpoint=GET_POSTS, times=2)
    uri = [("uris", f"at://{alice.did}/app.bsky.feed.post/3kabcdefghijk")]
    assert xrpc(http, GET_AUTHOR_FEED, [("actor", alice.did)]).status_code == 200
    assert [xrpc(http, GET_POSTS, uri).status_code for _ in range(3)] == [503, 503, 200]
    fake.inject("not_json")
    assert xrpc(http, GET_POSTS, uri).headers["content-type"].startswith("text/html")
    fake.inject("slow", delay=0.2, times=None)
    started = time.perf_counter()
    assert xrpc(http, GET_POSTS, uri).status_code == 200
    assert time.perf_counter() - started >= 0.2
    fake.clear_faults()


def test_request_log_and_unknown_methods(
    http: httpx.Client, fake: FakeBluesky, alice: FakeActor
) -> None:
    xrpc(
        http,
        GET_POSTS,
        [
            ("uris", "at://a.bsky.social/app.bsky.feed.post/1"),
            ("uris", "at://b.bsky.social/app.bsky.feed.post/2"),
        ],
    )
    unknown = xrpc(http, "app.bsky.feed.getTimeline", [])
    assert (unknown.status_code, unknown.json()["error"]) == (501, "MethodNotImplemented")
    assert http.get("/nothing").status_code == 404
    (call,) = fake.calls(GET_POSTS)
    assert call.params == {
        "uris": [
            "at://a.bsky.social/app.bsky.feed.post/1",
            "at://b.bsky.social/app.bsky.feed.post/2",
        ]
    }
    assert [r.status for r in fake.requests] == [200, 501]


# ---- running as a server -------------------------------------------------------------------


def test_seed_is_deterministic(clock: Clock) -> None:
    first, second = FakeBluesky(now=clock), FakeBluesky(now=clock)
    seed(first, posts=12)
    seed(second, posts=12)
    assert list(first.posts) == list(second.posts)
    assert [p.counts for p in first.posts.values()] == [p.counts for p in second.posts.values()]


def test_runs_as_a_server_process() -> None:
    with fake_server("bluesky", "--seed", "--seed-posts", "3") as url:
        feed = f"{url}/xrpc/{GET_AUTHOR_FEED}?actor=openpost.bsky.social"
        response = httpx.get(feed, timeout=2)
    assert response.status_code == 200
    assert len(response.json()["feed"]) == 6  # 3 posts, a thread, a reply, a repost
