"""The fake Mastodon instance itself: entities, Link paging, the multi-status endpoint and
its absence before 4.3, rate headers, sign-in and faults, spoken to with raw httpx."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest

from openpost.platforms.mastodon.fake import FakeAccount, FakeMastodon, seed
from tests.platforms.support import NOW, Clock, fake_server

STATUS_KEYS = {
    "id", "created_at", "in_reply_to_id", "in_reply_to_account_id", "sensitive", "spoiler_text",
    "visibility", "language", "uri", "url", "replies_count", "reblogs_count", "favourites_count",
    "edited_at", "content", "reblog", "account", "media_attachments", "mentions", "tags",
    "emojis", "card", "poll",
}  # fmt: skip
LINK = re.compile(r'<https://mastodon\.example(/[^>]*)>; rel="(next|prev)"')


@pytest.fixture
def fake(clock: Clock) -> FakeMastodon:
    return FakeMastodon(now=clock)


@pytest.fixture
def alice(fake: FakeMastodon) -> FakeAccount:
    return fake.add_account("alice", display_name="Alice")


@pytest.fixture
def http(fake: FakeMastodon) -> Iterator[httpx.Client]:
    with httpx.Client(base_url="https://mastodon.example", transport=fake.transport()) as c:
        yield c


def links(response: httpx.Response) -> dict[str, httpx.URL]:
    found = LINK.findall(response.headers.get("link", ""))
    return {rel: httpx.URL("https://mastodon.example" + path) for path, rel in found}


# ---- accounts and statuses ------------------------------------------------------------------


def test_lookup_returns_the_account_entity(http: httpx.Client, alice: FakeAccount) -> None:
    for acct in ("alice", "@Alice", "alice@mastodon.example"):
        body = http.get("/api/v1/accounts/lookup", params={"acct": acct}).json()
        assert (body["id"], body["username"], body["acct"]) == (alice.id, "alice", "alice")
    assert body["display_name"] == "Alice"
    assert body["url"] == "https://mastodon.example/@alice"
    for missing in ("bob", "alice@elsewhere.example", ""):
        response = http.get("/api/v1/accounts/lookup", params={"acct": missing})
        assert (response.status_code, response.json()) == (404, {"error": "Record not found"})
    alice.suspended = True
    assert http.get("/api/v1/accounts/lookup", params={"acct": "alice"}).json()["suspended"]


def test_status_entity_shape_and_string_ids(
    http: httpx.Client, fake: FakeMastodon, alice: FakeAccount
) -> None:
    made = fake.add_status(alice, content="<p>Hi</p>", created_at=NOW, favourites=3, quotes=1)
    assert int(made.id) > 2**53  # a float would round it: ids stay strings
    body = http.get(f"/api/v1/statuses/{made.id}").json()
    assert set(body) == STATUS_KEYS
    assert (body["id"], body["created_at"], body["favourites_count"]) == (
        made.id,
        "2026-04-16T10:00:00.000Z",
        3,
    )
    assert body["url"] == f"https://mastodon.example/@alice/{made.id}"
    assert body["account"]["id"] == alice.id
    fake.version = "4.5.0"
    assert http.get(f"/api/v1/statuses/{made.id}").json()["quotes_count"] == 1
    fake.delete_status(made.id)
    gone = http.get(f"/api/v1/statuses/{made.id}")
    assert (gone.status_code, gone.json()) == (404, {"error": "Record not found"})


def test_boosts_carry_the_original(
    http: httpx.Client, fake: FakeMastodon, alice: FakeAccount
) -> None:
    bob = fake.add_account("bob")
    original = fake.add_status(bob, content="<p>original</p>")
    boost = fake.boost(alice, original)
    body = http.get(f"/api/v1/statuses/{boost.id}").json()
    assert (body["url"], body["content"], body["reblog"]["id"]) == (None, "", original.id)


# ---- the multi-status endpoint -----------------------------------------------------------------


def test_multi_get_leaves_out_missing_and_private_statuses_in_its_own_order(
    http: httpx.Client, fake: FakeMastodon, alice: FakeAccount
) -> None:
    ids = [fake.add_status(alice, created_at=NOW - timedelta(minutes=n)).id for n in range(3)]
    private = fake.add_status(alice, visibility="private").id
    fake.delete_status(ids[1])
    asked = [ids[0], ids[1], "1", private, ids[2]]
    response = http.get("/api/v1/statuses", params=[("id[]", i) for i in asked])
    assert [s["id"] for s in response.json()] == [ids[2], ids[0]]  # by id, not as asked
    too_many = http.get("/api/v1/statuses", params=[("id[]", str(n)) for n in range(21)])
    assert too_many.status_code == 422
    assert too_many.json()["error"].startswith("Validation failed")


def test_before_4_3_the_multi_get_does_not_exist(
    http: httpx.Client, fake: FakeMastodon, alice: FakeAccount
) -> None:
    made = fake.add_status(alice)
    fake.version = "4.2.10"
    missing = http.get("/api/v1/statuses", params={"id[]": made.id})
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("text/html")
    assert http.get(f"/api/v1/statuses/{made.id}").status_code == 200
    assert http.get("/api/v2/instance").json()["version"] == "4.2.10"
    assert http.get("/api/v1/instance").json()["uri"] == "mastodon.example"


# ---- account statuses and Link paging ------------------------------------------------------------


def test_account_statuses_filters(
    http: httpx.Client, fake: FakeMastodon, alice: FakeAccount
) -> None:
    bob = fake.add_account("bob")
    theirs = fake.add_status(bob, created_at=NOW - timedelta(hours=9))
    top = fake.add_status(alice, created_at=NOW - timedelta(hours=8))
    thread = fake.add_status(alice, reply_to=top, created_at=NOW - timedelta(hours=7))
    reply = fake.add_status(alice, reply_to=theirs, created_at=NOW - timedelta(hours=6))
    boost = fake.boost(alice, theirs, created_at=NOW - timedelta(hours=5))
    fake.add_status(alice, visibility="private", created_at=NOW - timedelta(hours=4))
    path = f"/api/v1/accounts/{alice.id}/statuses"

    def ids(**params: str) -> list[str]:
        return [s["id"] for s in http.get(path, params=params).json()]

    assert ids() == [boost.id, reply.id, thread.id, top.id]
    assert ids(exclude_reblogs="true") == [reply.id, thread.id, top.id]
    assert ids(exclude_replies="true", exclude_reblogs="1") == [thread.id, top.id]
    assert http.get("/api/v1/accounts/1/statuses").status_code == 404


def test_link_paging_covers_every_status_once_and_drops_since_id(
    http: httpx.Client, fake: FakeMastodon, alice: FakeAccount
) -> None:
    made = [fake.add_status(alice, created_at=NOW - timedelta(minutes=n)) for n in range(25)]
    path = f"/api/v1/accounts/{alice.id}/statuses"
    first = http.get(path, params={"limit": "10", "exclude_reblogs": "true", "since_id": "1"})
    assert [s["id"] for s in first.json()] == [s.id for s in made[:10]]
    nxt = links(first)["next"]
    assert dict(nxt.params) == {"limit": "10", "exclude_reblogs": "true", "max_id": made[9].id}
    assert dict(links(first)["prev"].params)["min_id"] == made[0].id
    seen: list[str] = []
    response, pages = first, 1
    while True:
        seen += [s["id"] for s in response.json()]
        if "next" not in links(response):
            break
        nxt = links(response)["next"]
        response, pages = http.get(nxt.path, params=nxt.params), pages + 1
    assert pages == 3
    assert seen == [s.id for s in made]
    newer = http.get(path, params={"min_id": made[5].id, "limit": "2"}).json()
    assert [s["id"] for s in newer] == [made[3].id, made[4].id]


@pytest.mark.parametrize(("given", "served"), [(None, 20), ("5", 5), ("80", 40), ("0", 1)])
def test_limit_is_clamped(
    http: httpx.Client, fake: FakeMastodon, alice: FakeAccount, given: str | None, served: int
) -> None:
    for n in range(50):
        fake.add_status(alice, created_at=NOW - timedelta(minutes=n))
    params = {"limit": given} if given else {}
    assert len(http.get(f"/api/v1/accounts/{alice.id}/statuses", params=params).json()) == served


# ---- limits, sign-in, faults, log -------------------------------------------------------------


def test_rate_headers_iso_reset_and_429(
    http: httpx.Client, fake: FakeMastodon, clock: Clock
) -> None:
    fake.set_rate_limit(2)
    first = http.get("/api/v1/instance")
    assert first.headers["x-ratelimit-limit"] == "2"
    assert first.headers["x-ratelimit-remaining"] == "1"
    assert first.headers["x-ratelimit-reset"] == "2026-04-16T10:05:00.000000Z"
    http.get("/api/v1/instance")
    limited = http.get("/api/v1/instance")
    assert (limited.status_code, limited.json()) == (429, {"error": "Too many requests"})
    clock.now = NOW + timedelta(minutes=5)
    assert http.get("/api/v1/instance").status_code == 200


def test_sign_in_requirement_and_tokens(
    http: httpx.Client, fake: FakeMastodon, alice: FakeAccount
) -> None:
    hidden = fake.add_status(alice, visibility="private")
    fake.tokens.add("good")
    assert http.get(f"/api/v1/statuses/{hidden.id}").status_code == 404
    signed = http.get(f"/api/v1/statuses/{hidden.id}", headers={"Authorization": "Bearer good"})
    assert signed.status_code == 200
    bad = http.get(f"/api/v1/statuses/{hidden.id}", headers={"Authorization": "Bearer bad"})
    assert (bad.status_code, bad.json()) == (401, {"error": "The access token is invalid"})
    fake.require_token = True
    refused = http.get("/api/v1/accounts/lookup", params={"acct": "alice"})
    assert refused.json() == {"error": "This API requires an authenticated user"}
    assert fake.requests[1].token == "good"


def test_injected_faults_scope_count_and_delay(http: httpx.Client, fake: FakeMastodon) -> None:
    fake.inject("server_error", endpoint="status", times=2, status=502)
    assert http.get("/api/v1/instance").status_code == 200
    assert [http.get("/api/v1/statuses/1").status_code for _ in range(3)] == [502, 502, 404]
    fake.inject("forbidden")
    assert http.get("/api/v1/instance").json() == {"error": "This action is not allowed"}
    fake.inject("slow", delay=0.2, times=None)
    started = time.perf_counter()
    assert http.get("/api/v1/instance").status_code == 200
    assert time.perf_counter() - started >= 0.2
    fake.clear_faults()


def test_request_log_and_unknown_paths(http: httpx.Client, fake: FakeMastodon) -> None:
    http.get("/api/v1/statuses", params=[("id[]", "1"), ("id[]", "2")])
    assert http.get("/api/v1/timelines/public").status_code == 404
    (call,) = fake.calls("statuses")
    assert (call.params, call.status, call.token) == ({"id[]": ["1", "2"]}, 200, None)


# ---- running as a server -------------------------------------------------------------------------


def test_seed_is_deterministic(clock: Clock) -> None:
    first, second = FakeMastodon(now=clock), FakeMastodon(now=clock)
    seed(first, posts=12)
    seed(second, posts=12)
    assert list(first.statuses) == list(second.statuses)
    assert [s.counts for s in first.statuses.values()] == [
        s.counts for s in second.statuses.values()
    ]


def test_runs_as_a_server_process() -> None:
    with fake_server("mastodon", "--seed", "--seed-posts", "3", "--version", "4.2.0") as url:
        response = httpx.get(f"{url}/api/v1/accounts/lookup?acct=openpost", timeout=2)
        assert response.json()["username"] == "openpost"
        assert httpx.get(f"{url}/api/v2/instance", timeout=2).json()["version"] == "4.2.0"
