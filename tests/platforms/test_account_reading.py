"""Each open platform's ``fetch_accounts`` against its fake (SPEC §9.4): the counters under
the platform's names, at most one batch per call, gone accounts missing (not zero), and
malformed counters failing one account alone."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from openpost.core import clock
from openpost.platforms.base import AccountReader, MalformedResponse, NotFound
from openpost.platforms.bluesky.client import BlueskyClient
from openpost.platforms.bluesky.fake import FakeBluesky
from openpost.platforms.mastodon.client import InstanceMemory, MastodonClient
from openpost.platforms.mastodon.fake import FakeMastodon
from openpost.platforms.synthetic.client import SyntheticClient, simulate_account
from openpost.platforms.x.client import XClient
from openpost.platforms.x.fake import FakeX
from openpost.platforms.youtube.client import YouTubeClient
from openpost.platforms.youtube.fake import DEFAULT_API_KEY, FakeYouTube
from tests.platforms.support import NOW
from tests.platforms.test_mastodon_client import DOMAIN, PUBLIC, resolver

TOKEN = "t0ken"


def test_x_users_lookup() -> None:
    fake = FakeX(app_token=TOKEN)
    alice, bob, gone = (fake.add_account(n) for n in ("alice", "bob", "gone"))
    fake.set_account_counts(alice, followers_count=5, following_count=0, tweet_count=9)
    bob.suspended = True
    fake.set_account_counts(gone, followers_count="lots")
    with XClient(bearer_token=TOKEN, transport=fake.transport()) as x:
        assert isinstance(x, AccountReader)
        batch = x.fetch_accounts([alice.id, bob.id, gone.id, "999", "not-an-id"])
        with pytest.raises(ValueError, match="at most 100"):
            x.fetch_accounts([str(n) for n in range(101)])
    assert batch.calls == 1
    (call,) = fake.calls("users_lookup")
    assert call.params == {
        "ids": f"{alice.id},{bob.id},{gone.id},999",
        "user.fields": "public_metrics",
    }
    reading = batch.readings[alice.id]
    assert (reading.followers, reading.following, reading.posts) == (5, 0, 9)
    assert reading.platform_data == {
        "followers_count": 5, "following_count": 0, "tweet_count": 9, "listed_count": 0,
        "like_count": 0,
    }  # fmt: skip
    assert batch.missing == {"999"}
    assert isinstance(batch.errors[bob.id], NotFound)
    assert isinstance(batch.errors[gone.id], MalformedResponse)
    assert isinstance(batch.errors["not-an-id"], NotFound)


def test_bluesky_get_profiles() -> None:
    fake = FakeBluesky()
    actors = [fake.add_account(f"u{n}.bsky.social") for n in range(3)]
    actors[0].followers, actors[0].follows = 42, 7
    actors[1].takendown = True
    fake.add_post(actors[0], created_at=NOW)
    with BlueskyClient(transport=fake.transport()) as bluesky:
        batch = bluesky.fetch_accounts([a.did for a in actors] + ["alice.bsky.social"])
        with pytest.raises(ValueError, match="at most 25"):
            bluesky.fetch_accounts([f"did:plc:{n:024d}" for n in range(26)])
    (call,) = fake.calls("app.bsky.actor.getProfiles")
    assert call.params["actors"] == [a.did for a in actors]
    first = batch.readings[actors[0].did]
    assert (first.followers, first.following, first.posts) == (42, 7, 1)
    assert first.platform_data == {"followersCount": 42, "followsCount": 7, "postsCount": 1}
    assert batch.missing == {actors[1].did}
    assert set(batch.readings) == {actors[0].did, actors[2].did}
    assert "alice.bsky.social" in batch.errors  # a handle is not an account id


def test_youtube_channels_statistics() -> None:
    fake = FakeYouTube()
    shown, hidden, gone = (fake.add_channel(n) for n in ("shown", "hidden", "gone"))
    shown.subscribers, shown.views = 1200, 99
    hidden.hidden_subscribers = True
    fake.terminate_channel(gone)
    fake.add_video(shown, published_at=NOW)
    with YouTubeClient(api_key=DEFAULT_API_KEY, transport=fake.transport()) as youtube:
        batch = youtube.fetch_accounts([shown.id, hidden.id, gone.id])
        assert youtube.quota().units_spent == 1
    (call,) = fake.calls("channels.list")
    assert call.params["part"] == "statistics"
    one = batch.readings[shown.id]
    assert (one.followers, one.following, one.posts) == (1200, None, 1)
    assert one.platform_data == {
        "subscriberCount": 1200, "videoCount": 1, "viewCount": 99, "hiddenSubscriberCount": False
    }  # fmt: skip
    two = batch.readings[hidden.id]
    assert two.followers is None  # hidden: unknown, never 0
    assert two.platform_data["hiddenSubscriberCount"] is True
    assert batch.missing == {gone.id}
    assert batch.calls == 1


def test_mastodon_one_account_per_call() -> None:
    fake = FakeMastodon(domain=DOMAIN)
    alice = fake.add_account("alice")
    alice.followers, alice.following = 3, 4
    banned = fake.add_account("banned")
    banned.suspended = True
    client: Any = MastodonClient(
        transport=fake.transport(), resolver=resolver(PUBLIC), memory=InstanceMemory()
    )
    with client:
        assert client.account_batch_size == 1
        ok = client.fetch_accounts([alice.id], credentials={"instance": DOMAIN})
        suspended = client.fetch_accounts([banned.id], credentials={"instance": DOMAIN})
        unknown = client.fetch_accounts(["1234"], credentials={"instance": DOMAIN})
        with pytest.raises(ValueError, match="one account per call"):
            client.fetch_accounts([alice.id, banned.id], credentials={"instance": DOMAIN})
    reading = ok.readings[alice.id]
    assert (reading.followers, reading.following, reading.posts) == (3, 4, 0)
    assert suspended.missing == {banned.id}  # its counts read 0 there: not a reading
    assert unknown.missing == {"1234"}
    assert [r.path for r in fake.calls("account")] == [
        f"/api/v1/accounts/{alice.id}", f"/api/v1/accounts/{banned.id}", "/api/v1/accounts/1234"
    ]  # fmt: skip


def test_synthetic_accounts_are_deterministic_and_platform_shaped() -> None:
    client = SyntheticClient("youtube")
    assert client.account_batch_size == 50
    clock.set_clock(lambda: NOW)
    try:
        first = client.fetch_accounts(["UCabc"]).readings["UCabc"]
    finally:
        clock.set_clock(None)
    assert first == simulate_account("youtube", "UCabc", NOW)
    later = simulate_account("youtube", "UCabc", NOW + timedelta(days=30))
    assert first.followers is not None
    assert later.followers is not None
    assert later.followers > first.followers
    assert simulate_account("youtube", "UCabc", NOW) == simulate_account("youtube", "UCabc", NOW)
    assert simulate_account("youtube", "UCabc", NOW).following is None
    assert set(simulate_account("bluesky", "did:plc:x", NOW).platform_data) == {
        "followersCount", "followsCount", "postsCount"
    }  # fmt: skip
    assert SyntheticClient("mastodon").account_batch_size == 1
