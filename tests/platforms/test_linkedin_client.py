"""The LinkedIn client against its fake: organization share statistics in one call per
batch, member post analytics one metric per call, discovery, followers, versioned headers,
daily limits, deleted posts and the consent's fixed end."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from openpost.platforms.base import (
    Account,
    BudgetExhausted,
    NotFound,
    PermissionRequired,
    PlatformError,
    RateLimited,
)
from openpost.platforms.consent import TokenRefused, TokenSet
from openpost.platforms.linkedin.client import LinkedInClient
from openpost.platforms.linkedin.fake import FakeLinkedIn, FakeMember, FakeOrganization
from openpost.platforms.linkedin.oauth import SCOPES, LinkedInOAuth
from tests.platforms.support import Clock

API = "https://api.linkedin.com"
TOKEN_URL = "https://www.linkedin.com/oauth/v2/accessToken"


class World:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.fake = FakeLinkedIn(now=clock)
        self.admin = self.fake.add_member("Ada", "Admin")
        self.org = self.fake.add_organization("Acme", admin=self.admin, followers=321)
        self.solo = self.fake.add_member("Mo", "Member")
        self.fake.add_oauth_client("cid", "secret", "https://op.test/cb")
        self.client = LinkedInClient(
            base_url=API, version="202604", transport=self.fake.transport()
        )

    def creds(self, who: FakeMember, author: FakeOrganization | FakeMember) -> dict[str, Any]:
        issued = self.fake.issue_tokens(who, "cid", " ".join(SCOPES))
        ends = self.clock() + timedelta(seconds=issued["refresh_token_expires_in"])
        return {
            "access_token": issued["access_token"],
            "author": author.urn,
            "refresh_token": issued["refresh_token"],
            "refresh_expires_at": ends.isoformat(),
        }

    def oauth(self) -> LinkedInOAuth:
        return LinkedInOAuth(
            client_id="cid",
            client_secret="secret",
            token_url=TOKEN_URL,
            api_base_url=API,
            version="202604",
            transport=self.fake.transport(),
        )


@pytest.fixture
def world(frozen_clock: Clock) -> Iterator[World]:
    built = World(frozen_clock)
    yield built
    built.client.close()


def test_org_posts_of_both_kinds_read_in_one_call_with_encoded_lists(world: World) -> None:
    posts = [
        world.fake.add_post(
            world.org,
            kind="share" if n % 2 else "ugcPost",
            impressions=100 + n,
            likes=n,
            comments=1,
            shares=2,
        )
        for n in range(20)
    ]
    ids = [p.urn for p in posts]
    result = world.client.fetch_metrics(ids, credentials=world.creds(world.admin, world.org))
    assert result.calls == 1
    assert set(result.readings) == set(ids)
    first = result.readings[ids[3]]
    assert (first.impressions, first.likes, first.comments, first.shares) == (103, 3, 1, 2)
    assert {"uniqueImpressionsCount", "clickCount", "engagement"} <= set(first.platform_data)
    (request,) = world.fake.calls("share_statistics")
    assert request.version == "202604"
    assert request.params["shares"].startswith("List(urn:li:share:")


def test_the_fake_accepts_the_indexed_form_and_refuses_unencoded_lists(world: World) -> None:
    post = world.fake.add_post(world.org, impressions=5)
    token = world.creds(world.admin, world.org)["access_token"]
    headers = {
        "Authorization": f"Bearer {token}",
        "LinkedIn-Version": "202604",
        "X-Restli-Protocol-Version": "2.0.0",
    }
    http = httpx.Client(transport=world.fake.transport(), base_url=API)
    org = world.org.urn.replace(":", "%3A")
    base = (
        "/rest/organizationalEntityShareStatistics?q=organizationalEntity"
        f"&organizationalEntity={org}"
    )
    indexed = http.get(f"{base}&shares[0]={post.urn.replace(':', '%3A')}", headers=headers)
    assert indexed.json()["elements"][0]["share"] == post.urn
    raw = http.get(f"{base}&shares=List({post.urn})", headers=headers)
    assert raw.status_code == 400
    missing = http.get(base, headers={k: v for k, v in headers.items() if k != "LinkedIn-Version"})
    assert (missing.status_code, missing.json()["code"]) == (400, "VERSION_MISSING")
    old = http.get(base, headers=headers | {"LinkedIn-Version": "202401"})
    assert (old.status_code, old.json()["code"]) == (426, "NONEXISTENT_VERSION")


def test_a_retired_version_is_the_operators_error(world: World) -> None:
    post = world.fake.add_post(world.org)
    old = LinkedInClient(base_url=API, version="202301", transport=world.fake.transport())
    with pytest.raises(PlatformError) as caught:
        old.fetch_metrics([post.urn], credentials=world.creds(world.admin, world.org))
    assert caught.value.code == "linkedin_version_retired"


def test_deleted_and_too_new_org_posts(world: World) -> None:
    gone, fresh, kept = (world.fake.add_post(world.org, likes=n) for n in range(3))
    world.fake.delete_post(gone.urn)
    world.fake.posts[fresh.urn].pending = True
    ids = [gone.urn, fresh.urn, kept.urn]
    result = world.client.fetch_metrics(ids, credentials=world.creds(world.admin, world.org))
    assert result.deleted == {gone.urn}
    assert result.readings[fresh.urn].impressions is None  # not reported yet, never 0
    assert result.readings[kept.urn].likes == 2
    assert result.calls == 3  # the batch, then one look at each post it left out


def test_member_posts_cost_one_call_per_metric_per_post(world: World) -> None:
    posts = [world.fake.add_post(world.solo, impressions=50 * n, likes=n) for n in range(1, 4)]
    world.fake.posts[posts[2].urn].pending = True
    gone = world.fake.add_post(world.solo, kind="ugcPost")
    world.fake.delete_post(gone.urn)
    ids = [p.urn for p in posts] + [gone.urn]
    result = world.client.fetch_metrics(ids, credentials=world.creds(world.solo, world.solo))
    assert result.calls == len(world.fake.calls("member_analytics")) == 3 * 4 + 1
    assert result.readings[posts[1].urn].impressions == 100
    assert result.readings[posts[1].urn].likes == 2
    assert result.readings[posts[2].urn].impressions is None  # empty elements: not reported
    assert result.deleted == {gone.urn}
    queried = [r.params["queryType"] for r in world.fake.calls("member_analytics")[:4]]
    assert queried == ["IMPRESSION", "REACTION", "COMMENT", "RESHARE"]


def test_activity_urns_fail_alone_without_a_call(world: World) -> None:
    result = world.client.fetch_metrics(
        ["urn:li:activity:1"], credentials=world.creds(world.admin, world.org)
    )
    assert result.calls == 0
    assert isinstance(result.errors["urn:li:activity:1"], NotFound)


def test_daily_limits_are_budget_or_rate_errors_until_utc_midnight(
    world: World, frozen_clock: Clock
) -> None:
    post = world.fake.add_post(world.solo)
    creds = world.creds(world.solo, world.solo)
    midnight = (frozen_clock() + timedelta(days=1)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    world.fake.set_daily_limit("member_analytics", member=2)
    with pytest.raises(RateLimited) as member:
        world.client.fetch_metrics([post.urn], credentials=creds)
    assert (member.value.code, member.value.retry_at) == ("linkedin_member_day_limit", midnight)
    world.fake.set_daily_limit("member_analytics", app=0)
    with pytest.raises(BudgetExhausted) as app:
        world.client.fetch_metrics([post.urn], credentials=creds)
    assert app.value.retry_at == midnight
    (window,) = world.client.rate_windows()
    assert (window.scope, window.reset_at, window.spent) == ("app", midnight, True)


def test_discovery_pages_an_organization_and_never_lists_a_member(world: World) -> None:
    for n in range(5):
        world.fake.add_post(world.org, published_at=world.clock() - timedelta(hours=n + 1))
    creds = world.creds(world.admin, world.org)
    account = Account(world.org.urn, world.org.urn, "Acme")
    page = world.client.discover(account, since_id=None, limit=3, credentials=creds)
    assert len(page.posts) == 3
    (listed,) = world.fake.calls("posts")
    assert listed.params["count"] == "3"
    member = Account(world.solo.urn, world.solo.urn, "Mo")
    none = world.client.discover(member, since_id=None, limit=10, credentials=creds)
    assert (none.posts, none.calls) == ([], 0)


def test_followers_of_an_organization_and_none_for_a_member(world: World) -> None:
    batch = world.client.fetch_accounts(
        [world.org.urn], credentials=world.creds(world.admin, world.org)
    )
    assert batch.readings[world.org.urn].followers == 321
    assert batch.calls == 1
    solo = world.client.fetch_accounts(
        [world.solo.urn], credentials=world.creds(world.solo, world.solo)
    )
    assert (solo.readings[world.solo.urn].followers, solo.calls) == (None, 0)


def test_not_the_pages_admin_is_permission_required(world: World) -> None:
    post = world.fake.add_post(world.org)
    with pytest.raises(PermissionRequired):
        world.client.fetch_metrics([post.urn], credentials=world.creds(world.solo, world.org))


def test_refresh_never_extends_the_consent_and_it_ends(world: World, frozen_clock: Clock) -> None:
    creds = world.creds(world.admin, world.org)
    ends = creds["refresh_expires_at"]
    oauth = world.oauth()
    stored = TokenSet(
        creds["access_token"],
        creds["refresh_token"],
        None,
        "",
        frozen_clock() + timedelta(days=365),
    )
    frozen_clock.now += timedelta(days=200)
    renewed = oauth.renew(stored, now=frozen_clock())
    assert renewed.refresh_expires_at is not None
    assert renewed.refresh_expires_at.isoformat() <= ends
    assert renewed.expires_at == frozen_clock() + timedelta(days=60)
    frozen_clock.now += timedelta(days=166)
    with pytest.raises(TokenRefused):
        oauth.renew(renewed, now=frozen_clock())
    post = world.fake.add_post(world.org)
    with pytest.raises(TokenRefused) as ended:
        world.client.fetch_metrics([post.urn], credentials=creds)
    assert ended.value.code == "linkedin_consent_ended"
    oauth.close()


def test_identify_names_the_page_or_the_member(world: World) -> None:
    oauth = world.oauth()
    page = oauth.identify(world.creds(world.admin, world.org)["access_token"])
    assert (page.external_account_id, page.display_name) == (world.org.urn, "Acme")
    member = oauth.identify(world.creds(world.solo, world.solo)["access_token"])
    assert (member.external_account_id, member.display_name) == (world.solo.urn, "Mo Member")
    oauth.close()
