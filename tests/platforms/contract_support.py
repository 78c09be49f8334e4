"""The platform contract suite's adapter table: one row per live platform, saying how to
build its client against its fake in-process and how to make that fake do what each check
needs (seed posts, delete one, fail one id alone, throttle, expire an owner token, count the
ids a metrics request carried).

A new platform gets every check of ``test_contract`` by adding its ``Harness`` subclass to
``HARNESSES``. A feature the platform lacks is ``None`` in its row (``owner_tokens``): the
checks of that feature are not generated for it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

import httpx

from openpost.core import clock
from openpost.platforms.base import (
    Account,
    BudgetExhausted,
    MalformedResponse,
    PermissionRequired,
    PlatformClient,
    PlatformError,
    RateLimited,
)
from openpost.platforms.bluesky import fake as bluesky_fake
from openpost.platforms.bluesky.client import BlueskyClient, HandleCache
from openpost.platforms.consent import TokenSet
from openpost.platforms.facebook import fake as facebook_fake
from openpost.platforms.facebook.client import FacebookClient
from openpost.platforms.facebook.oauth import FacebookLogin
from openpost.platforms.facebook.reading import parse_cursor as facebook_cursor
from openpost.platforms.instagram import fake as instagram_fake
from openpost.platforms.instagram.client import (
    INSTAGRAM_LOGIN,
    InsightsWithheld,
    InstagramClient,
)
from openpost.platforms.instagram.client import MediaIds as InstagramMediaIds
from openpost.platforms.instagram.reading import parse_cursor as instagram_cursor
from openpost.platforms.linkedin import fake as linkedin_fake
from openpost.platforms.linkedin.client import LinkedInClient
from openpost.platforms.linkedin.client import parse_cursor as linkedin_cursor
from openpost.platforms.linkedin.oauth import SCOPES as LINKEDIN_SCOPES
from openpost.platforms.linkedin.oauth import LinkedInOAuth
from openpost.platforms.mastodon import fake as mastodon_fake
from openpost.platforms.mastodon.client import InstanceMemory, MastodonClient
from openpost.platforms.pinterest import fake as pinterest_fake
from openpost.platforms.pinterest.client import PinterestClient
from openpost.platforms.pinterest.client import parse_cursor as pinterest_cursor
from openpost.platforms.pinterest.oauth import PinterestOAuth
from openpost.platforms.pinterest.reading import next_utc_midnight as pinterest_midnight
from openpost.platforms.spec import utc_midnight_after
from openpost.platforms.threads import fake as threads_fake
from openpost.platforms.threads.client import MediaIds as ThreadsMediaIds
from openpost.platforms.threads.client import ThreadsClient
from openpost.platforms.threads.reading import parse_cursor as threads_cursor
from openpost.platforms.tiktok import fake as tiktok_fake
from openpost.platforms.tiktok.client import TikTokClient
from openpost.platforms.tiktok.oauth import SCOPES as TIKTOK_SCOPES
from openpost.platforms.tiktok.oauth import TikTokOAuth
from openpost.platforms.x import fake as x_fake
from openpost.platforms.x.client import XClient
from openpost.platforms.x.oauth import SCOPES, XOAuth
from openpost.platforms.x.reading import CREDITS_PROBE_INTERVAL, next_utc_midnight
from openpost.platforms.youtube import fake as youtube_fake
from openpost.platforms.youtube.client import YouTubeClient
from openpost.platforms.youtube.quota import next_quota_reset
from openpost.platforms.youtube.reading import DEFAULT_RATE_PAUSE as YOUTUBE_RATE_PAUSE
from openpost.platforms.youtube.reading import parse_cursor
from tests.platforms.support import Clock


@dataclass(frozen=True)
class Throttle:
    """One way the platform says "not now", and what the client must make of it."""

    name: str
    arrange: Callable[[Harness], None]
    error: type[PlatformError]
    code: str
    retry_at: Callable[[datetime], datetime]  # from the moment of the call


class OwnerTokens:
    """The owner-token side of a platform that has one (X's OAuth 2.0 user context): issue
    the owner's tokens, let them expire, and the token source the client asks before each
    read, which refreshes them at the fake's token endpoint (``refreshes`` counts that)."""

    def issue(self) -> dict[str, Any]:
        raise NotImplementedError

    def expire_at_platform(self, credentials: dict[str, Any]) -> None:
        """The platform stops taking the access token although it is not due to expire."""
        raise NotImplementedError

    def refuse_refresh(self, credentials: dict[str, Any]) -> None:
        """The platform stops taking the refresh token (revoked consent)."""
        raise NotImplementedError

    lifetime: timedelta  # how long an access token lives
    refreshes: int  # refreshes the token source made
    owner_context: str  # what the fake's request log says for a read with the owner's token

    def context(self, request: Any) -> str:
        """Whose token one logged request carried."""
        raise NotImplementedError

    def close(self) -> None:
        pass


class Harness:
    """A platform's fake, its client built against it in-process, one account, and the
    platform's answers a check needs. Subclasses are the rows of the table."""

    platform: ClassVar[str]
    name: ClassVar[str]  # the row's test id (a platform may have several rows)
    batch_size: ClassVar[int]
    metrics_endpoint: ClassVar[str]  # the fake's name for the metrics read
    discovery_endpoint: ClassVar[str]
    discovery_page: ClassVar[int]  # the most posts one discovery request returns
    ids_beyond_float: ClassVar[bool]  # numeric ids past 2**53 (a float would round them)
    fail_error: ClassVar[type[PlatformError]]  # what the one failed id is reported as
    throttles: ClassVar[list[Throttle]]
    handle: ClassVar[str]  # what a user types to connect the account
    has_owner_tokens: ClassVar[bool] = False
    one_request_per_batch: ClassVar[bool] = True  # else: one per post (an old Mastodon)
    rate_headers: ClassVar[bool] = True  # the platform reports its rate window in headers
    settings: ClassVar[dict[str, Any]] = {}  # settings the row's client is built with

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.owner_tokens: OwnerTokens | None = None
        self.fake: Any = None
        self.client: PlatformClient = self._build()
        self.account: Account = self._account()

    def _build(self) -> PlatformClient:
        raise NotImplementedError

    def _account(self) -> Account:
        """The account the checks read (a platform without lookup by handle: its owner's)."""
        return self.client.lookup_account(self.handle)

    def metric_calls(self, posts: int) -> int:
        """The requests a metrics read of ``posts`` known-good posts takes, the first time."""
        return 1 if self.one_request_per_batch else posts + 1

    def close(self) -> None:
        close = getattr(self.client, "close", None)
        if close is not None:
            close()

    @property
    def credentials(self) -> dict[str, Any] | None:
        """What a metrics read of the account's posts takes (Mastodon: its instance)."""
        return None

    # ---- arranging the fake ------------------------------------------------------------

    def add_post(self, *, age: timedelta, likes: int = 0) -> str:
        """A post of the account published ``age`` ago; its platform post id."""
        raise NotImplementedError

    def delete(self, post_id: str) -> None:
        raise NotImplementedError

    def fail(self, post_id: str) -> None:
        """Make that post fail alone in the next reads (the rest of a batch still reads)."""
        raise NotImplementedError

    # ---- reading the fake's request log -----------------------------------------------

    def requests(self) -> list[Any]:
        return list(self.fake.requests)

    def cursor_post(self, cursor: str | None) -> str | None:
        """The post a discovery cursor names (the cursor is the client's own: most are the
        newest post's id)."""
        return cursor

    def ids_sent(self, request: Any) -> list[str]:
        """The post ids one logged metrics request carried."""
        raise NotImplementedError


# ---- X ------------------------------------------------------------------------------------

X_TOKEN = "contract-x-app-token"
X_CLIENT_ID, X_SECRET = "contract-client", "contract-secret"


class XOwnerTokens(OwnerTokens):
    def __init__(self, fake: x_fake.FakeX, account: x_fake.FakeAccount, clock: Clock) -> None:
        self.fake, self.owner, self.clock = fake, account, clock
        fake.add_oauth_client(X_CLIENT_ID, X_SECRET, "https://openpost.test/callback")
        self.oauth = XOAuth(
            client_id=X_CLIENT_ID,
            client_secret=X_SECRET,
            base_url="https://api.x.com",
            transport=fake.transport(),
        )
        self.lifetime = fake.oauth.access_lifetime
        self.refreshes = 0
        self.owner_context = f"user:{account.id}"

    def issue(self) -> dict[str, Any]:
        issued = self.fake.issue_user_token(
            self.owner, client_id=X_CLIENT_ID, scope=" ".join(SCOPES)
        )
        return {
            "access_token": issued["access_token"],
            "refresh_token": issued["refresh_token"],
            "expires_at": (self.clock() + timedelta(seconds=issued["expires_in"])).isoformat(),
        }

    def expire_at_platform(self, credentials: dict[str, Any]) -> None:
        self.fake.user_token_expiry[credentials["access_token"]] = self.clock()

    def refuse_refresh(self, credentials: dict[str, Any]) -> None:
        del self.fake.oauth.refresh_tokens[credentials["refresh_token"]]

    def __call__(self, credentials: dict[str, Any], *, force: bool) -> dict[str, Any]:
        """The client's token source: refresh when the token expires within five minutes,
        or when X rejected it (``force``), as ``refresh.user_tokens`` does with the stored
        tokens."""
        expires_at = datetime.fromisoformat(credentials["expires_at"])
        if not force and expires_at - clock.now() > timedelta(minutes=5):
            return credentials
        tokens = self.oauth.refresh(credentials["refresh_token"], now=clock.now())
        self.refreshes += 1
        return {
            "access_token": tokens.access_token,
            "refresh_token": tokens.refresh_token,
            "expires_at": tokens.expires_at.isoformat(),
        }

    def context(self, request: Any) -> str:
        return str(request.context)

    def close(self) -> None:
        self.oauth.close()


class XHarness(Harness):
    platform = name = "twitter"
    batch_size = 100
    metrics_endpoint = "tweets_lookup"
    discovery_endpoint = "user_tweets"
    discovery_page = 100
    ids_beyond_float = True
    fail_error = PermissionRequired  # X's errors[] entry for a protected author's post
    handle = "@openpost"
    has_owner_tokens = True
    throttles: ClassVar[list[Throttle]] = [
        Throttle(
            "429-window",
            lambda h: h.fake.set_rate_limit("tweets_lookup", 0),
            RateLimited,
            "x_rate_limited",
            lambda now: now + x_fake.WINDOW,
        ),
        Throttle(
            "402-credits",
            lambda h: h.fake.inject("credits_depleted", endpoint="tweets_lookup"),
            BudgetExhausted,
            "x_credits_depleted",
            lambda now: now + CREDITS_PROBE_INTERVAL,
        ),
        Throttle(
            "429-usage-cap",
            lambda h: h.fake.inject("usage_capped", endpoint="tweets_lookup", period="Daily"),
            BudgetExhausted,
            "x_usage_capped",
            next_utc_midnight,
        ),
    ]

    def _build(self) -> PlatformClient:
        self.fake = fake = x_fake.FakeX(app_token=X_TOKEN, now=self.clock)
        self.owner = fake.add_account("OpenPost", name="OpenPost HQ")
        self.protected = fake.add_account("locked_acct", protected=True)
        self.owner_tokens = self.tokens = XOwnerTokens(fake, self.owner, self.clock)
        return XClient(bearer_token=X_TOKEN, transport=fake.transport(), user_tokens=self.tokens)

    def close(self) -> None:
        self.tokens.close()
        super().close()

    def add_post(self, *, age: timedelta, likes: int = 0) -> str:
        post = self.fake.add_post(self.owner, created_at=self.clock() - age, likes=likes)
        return str(post.id)

    def delete(self, post_id: str) -> None:
        self.fake.delete_post(post_id)

    def fail(self, post_id: str) -> None:
        self.fake.posts[post_id].author_id = self.protected.id

    def ids_sent(self, request: Any) -> list[str]:
        return str(request.params["ids"]).split(",")


# ---- Bluesky ------------------------------------------------------------------------------


class BlueskyHarness(Harness):
    platform = name = "bluesky"
    batch_size = 25
    metrics_endpoint = bluesky_fake.GET_POSTS
    discovery_endpoint = bluesky_fake.GET_AUTHOR_FEED
    discovery_page = 100
    ids_beyond_float = False  # AT-URIs
    fail_error = MalformedResponse  # the AppView has no per-post error: a broken count
    handle = "openpost.bsky.social"
    throttles: ClassVar[list[Throttle]] = [
        Throttle(
            "429-ratelimit-headers",
            lambda h: h.fake.set_rate_limit(0),
            RateLimited,
            "bluesky_rate_limited",
            lambda now: now + bluesky_fake.WINDOW,
        ),
    ]

    def _build(self) -> PlatformClient:
        self.fake = fake = bluesky_fake.FakeBluesky(now=self.clock)
        self.actor = fake.add_account(self.handle, display_name="OpenPost")
        return BlueskyClient(transport=fake.transport(), handles=HandleCache())

    def add_post(self, *, age: timedelta, likes: int = 0) -> str:
        post = self.fake.add_post(self.actor, created_at=self.clock() - age, likes=likes)
        return str(post.uri)

    def delete(self, post_id: str) -> None:
        self.fake.delete_post(post_id)

    def fail(self, post_id: str) -> None:
        self.fake.set_counts(post_id, likeCount="many")

    def ids_sent(self, request: Any) -> list[str]:
        return list(request.params.get("uris", []))


# ---- Mastodon -----------------------------------------------------------------------------

MASTODON_DOMAIN = "mastodon.example"


def _public_resolver(host: str, _port: int) -> list[str]:
    if host != MASTODON_DOMAIN:
        raise OSError(f"unknown host {host}")
    return ["93.184.215.14"]  # a public address: the URL guard stays on


class MastodonHarness(Harness):
    platform = name = "mastodon"
    version = mastodon_fake.DEFAULT_VERSION
    batch_size = 20
    metrics_endpoint = "statuses"
    discovery_endpoint = "account_statuses"
    discovery_page = 40
    ids_beyond_float = True
    fail_error = MalformedResponse
    handle = f"@alice@{MASTODON_DOMAIN}"
    throttles: ClassVar[list[Throttle]] = [
        Throttle(
            "429-x-ratelimit-reset",
            lambda h: h.fake.set_rate_limit(0),
            RateLimited,
            "mastodon_rate_limited",
            lambda now: now + mastodon_fake.WINDOW,
        ),
    ]

    def _build(self) -> PlatformClient:
        self.fake = fake = mastodon_fake.FakeMastodon(
            domain=MASTODON_DOMAIN, version=self.version, now=self.clock
        )
        self.alice = fake.add_account("alice", display_name="Alice")
        return MastodonClient(
            transport=fake.transport(), resolver=_public_resolver, memory=InstanceMemory()
        )

    @property
    def credentials(self) -> dict[str, Any] | None:
        return {"instance": MastodonClient.instance_of(self.account.username)}

    def add_post(self, *, age: timedelta, likes: int = 0) -> str:
        status = self.fake.add_status(self.alice, created_at=self.clock() - age, favourites=likes)
        return str(status.id)

    def delete(self, post_id: str) -> None:
        self.fake.delete_status(post_id)

    def fail(self, post_id: str) -> None:
        self.fake.set_counts(post_id, favourites_count=-1)

    def ids_sent(self, request: Any) -> list[str]:
        return list(request.params.get("id[]", []))


# ---- YouTube ------------------------------------------------------------------------------


class OldMastodonHarness(MastodonHarness):
    """An instance before 4.3: no ``GET /api/v1/statuses?id[]=``, so the client reads each
    status alone (``GET /api/v1/statuses/:id``) after one refused multi-status request."""

    name = "mastodon-4.2"
    version = "4.2.10"
    metrics_endpoint = "status"
    one_request_per_batch = False

    def ids_sent(self, request: Any) -> list[str]:
        return [str(request.path).rsplit("/", 1)[-1]]


class YouTubeHarness(Harness):
    platform = name = "youtube"
    batch_size = 50
    metrics_endpoint = "videos.list"
    discovery_endpoint = "playlistItems.list"
    discovery_page = 50
    ids_beyond_float = False  # 11-character video ids
    fail_error = MalformedResponse
    handle = "@openpost"
    rate_headers = False  # its limit is the daily quota, sent in no header

    def cursor_post(self, cursor: str | None) -> str | None:
        return parse_cursor(cursor)[0] if cursor is not None else None

    throttles: ClassVar[list[Throttle]] = [
        Throttle(
            "403-quotaExceeded",
            lambda h: h.fake.exhaust_quota(),
            BudgetExhausted,
            "youtube_quota_exceeded",
            next_quota_reset,
        ),
        Throttle(
            "403-rateLimitExceeded",
            lambda h: h.fake.inject("rate_limited", endpoint="videos.list"),
            RateLimited,
            "youtube_rate_limited",
            lambda now: now + YOUTUBE_RATE_PAUSE,
        ),
        Throttle(
            "429-retry-after",
            lambda h: h.fake.inject("too_many_requests", endpoint="videos.list"),
            RateLimited,
            "youtube_rate_limited",
            lambda now: now + timedelta(seconds=30),
        ),
    ]

    def _build(self) -> PlatformClient:
        self.fake = fake = youtube_fake.FakeYouTube(now=self.clock)
        self.channel = fake.add_channel("openpost", title="OpenPost")
        return YouTubeClient(
            api_key=youtube_fake.DEFAULT_API_KEY,
            base_url="https://youtube.test/youtube/v3",
            transport=fake.transport(),
        )

    def add_post(self, *, age: timedelta, likes: int = 0) -> str:
        video = self.fake.add_video(self.channel, published_at=self.clock() - age, likes=likes)
        return str(video.id)

    def delete(self, post_id: str) -> None:
        self.fake.remove_video(post_id)

    def fail(self, post_id: str) -> None:
        self.fake.set_stats(post_id, viewCount="lots")

    def ids_sent(self, request: Any) -> list[str]:
        return str(request.params["id"]).split(",")


# ---- TikTok -------------------------------------------------------------------------------

TIKTOK_KEY, TIKTOK_SECRET = "contract-tiktok-key", "contract-tiktok-secret"
TIKTOK_BASE = "https://open.tiktokapis.test"


class TikTokOwnerTokens(OwnerTokens):
    """Login Kit tokens of the fake's user; refreshing rotates the refresh token."""

    def __init__(
        self, fake: tiktok_fake.FakeTikTok, user: tiktok_fake.FakeUser, clock: Clock
    ) -> None:
        self.fake, self.user, self.clock = fake, user, clock
        fake.add_oauth_client(TIKTOK_KEY, TIKTOK_SECRET, "https://openpost.test/callback")
        self.oauth = TikTokOAuth(
            client_key=TIKTOK_KEY,
            client_secret=TIKTOK_SECRET,
            base_url=TIKTOK_BASE,
            transport=fake.transport(),
        )
        self.lifetime = fake.oauth.access_lifetime
        self.refreshes = 0
        self.owner_context = f"user:{user.open_id}"

    def issue(self) -> dict[str, Any]:
        issued = self.fake.issue_tokens(
            self.user, client_key=TIKTOK_KEY, scope=",".join(TIKTOK_SCOPES)
        )
        return {
            "access_token": issued["access_token"],
            "refresh_token": issued["refresh_token"],
            "expires_at": (self.clock() + timedelta(seconds=issued["expires_in"])).isoformat(),
        }

    def expire_at_platform(self, credentials: dict[str, Any]) -> None:
        self.fake.expire_token(credentials["access_token"])

    def refuse_refresh(self, credentials: dict[str, Any]) -> None:
        self.fake.oauth.refresh_tokens[credentials["refresh_token"]].used = True

    def __call__(self, credentials: dict[str, Any], *, force: bool) -> dict[str, Any]:
        expires_at = datetime.fromisoformat(credentials["expires_at"])
        if not force and expires_at - clock.now() > timedelta(minutes=5):
            return credentials
        tokens = self.oauth.refresh(credentials["refresh_token"], now=clock.now())
        self.refreshes += 1
        assert tokens.expires_at is not None
        return {
            "access_token": tokens.access_token,
            "refresh_token": tokens.refresh_token,
            "expires_at": tokens.expires_at.isoformat(),
        }

    def context(self, request: Any) -> str:
        return str(request.context)

    def close(self) -> None:
        self.oauth.close()


class TikTokHarness(Harness):
    """Every TikTok read is made with the owner's token (Login Kit), and the account is the
    token's own (there is no lookup by handle)."""

    platform = name = "tiktok"
    batch_size = 20
    metrics_endpoint = "video_query"
    discovery_endpoint = "video_list"
    discovery_page = 20
    ids_beyond_float = True  # 19-digit video ids
    fail_error = MalformedResponse
    handle = "openpost"
    has_owner_tokens = True
    rate_headers = False  # TikTok sends no rate headers
    throttles: ClassVar[list[Throttle]] = [
        Throttle(
            "429-sliding-minute",
            lambda h: h.fake.set_rate_limit("video_query", 0),
            RateLimited,
            "tiktok_rate_limited",
            lambda now: now + tiktok_fake.WINDOW,
        ),
        Throttle(
            "429-injected",
            lambda h: h.fake.inject("rate_limited", endpoint="video_query"),
            RateLimited,
            "tiktok_rate_limited",
            lambda now: now + tiktok_fake.WINDOW,
        ),
    ]

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.owner_tokens = None
        self.client = self._build()
        self.account = Account(self.user.open_id, self.user.username, self.user.display_name)
        self._credentials = self.tokens.issue()

    def _build(self) -> PlatformClient:
        self.fake = fake = tiktok_fake.FakeTikTok(now=self.clock)
        self.user = fake.add_user("openpost", display_name="OpenPost")
        self.owner_tokens = self.tokens = TikTokOwnerTokens(fake, self.user, self.clock)
        return TikTokClient(
            base_url=TIKTOK_BASE, transport=fake.transport(), user_tokens=self.tokens
        )

    def close(self) -> None:
        self.tokens.close()
        super().close()

    @property
    def credentials(self) -> dict[str, Any] | None:
        return self._credentials

    def add_post(self, *, age: timedelta, likes: int = 0) -> str:
        video = self.fake.add_video(self.user, created_at=self.clock() - age, likes=likes)
        return str(video.id)

    def delete(self, post_id: str) -> None:
        self.fake.delete_video(post_id)

    def fail(self, post_id: str) -> None:
        self.fake.set_counts(post_id, like_count="many")

    def ids_sent(self, request: Any) -> list[str]:
        return list(request.params.get("video_ids", []))


# ---- Facebook -----------------------------------------------------------------------------


class FacebookHarness(Harness):
    """A Page connected through Facebook Login against the fake (``lookup_account`` is not
    how Pages connect), read with its Page token."""

    platform = name = "facebook"
    batch_size = 25  # two Graph batch operations per post, at most 50 per batch
    metrics_endpoint = "batch"
    discovery_endpoint = "published_posts"
    discovery_page = 100
    ids_beyond_float = False  # <page>_<post> ids, or a reel's video id
    fail_error = MalformedResponse
    handle = "Corner Bakery"
    throttles: ClassVar[list[Throttle]] = [
        Throttle(
            "80001-pages",
            lambda h: h.fake.inject("page_throttled", endpoint="batch"),
            RateLimited,
            "facebook_rate_limited",
            lambda now: now + timedelta(minutes=30),
        ),
        Throttle(
            "80001-window-spent",
            lambda h: h.fake.set_limits(page_calls=1),
            RateLimited,
            "facebook_rate_limited",
            lambda now: now + timedelta(hours=24),
        ),
        Throttle(
            "4-app",
            lambda h: h.fake.inject("app_throttled", endpoint="batch"),
            RateLimited,
            "facebook_rate_limited",
            lambda now: now + timedelta(hours=1),  # no regain time given: an hour
        ),
    ]

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.owner_tokens = None
        self.client = self._build()
        self.account = self._consent()

    def _build(self) -> PlatformClient:
        self.fake = fake = facebook_fake.FakeFacebook(now=self.clock)
        self.owner = fake.add_user("Pat Owner")
        self.page = fake.add_page(self.owner, self.handle, followers=120)
        fake.oauth.consenting = self.owner
        return FacebookClient(base_url="https://graph.facebook.com", transport=fake.transport())

    def _consent(self) -> Account:
        """The owner consents (the fake's dialog approves for them); the Page and its token
        come from ``/me/accounts``, as a connection stores them."""
        redirect = "https://openpost.test/integrations/facebook/callback"
        oauth = self.fake.oauth
        oauth.redirect_uris.add(redirect)
        query = {"client_id": oauth.app_id, "redirect_uri": redirect, "state": "s"}
        with httpx.Client(transport=self.fake.transport()) as browser:
            answer = browser.get("https://www.facebook.com/v25.0/dialog/oauth", params=query)
        assert answer.status_code == 302, answer.text
        code = parse_qs(urlsplit(answer.headers["location"]).query)["code"][0]
        login = FacebookLogin(
            app_id=oauth.app_id,
            app_secret=oauth.app_secret,
            base_url="https://graph.facebook.com",
            version="v25.0",
            transport=self.fake.transport(),
        )
        now = clock.now()
        try:
            short = login.exchange_code(code, verifier=None, redirect_uri=redirect, now=now)
            (page,) = login.accounts(login.long_lived(short, now=now), now=now)
        finally:
            login.close()
        self.page_token = page.tokens.access_token
        return page.account

    @property
    def credentials(self) -> dict[str, Any] | None:
        return {"access_token": self.page_token}

    def cursor_post(self, cursor: str | None) -> str | None:
        return facebook_cursor(cursor)[0] if cursor is not None else None

    def add_post(self, *, age: timedelta, likes: int = 0) -> str:
        return self.fake.add_post(self.page, created_at=self.clock() - age, likes=likes).id

    def delete(self, post_id: str) -> None:
        self.fake.delete_post(post_id)

    def fail(self, post_id: str) -> None:
        self.fake.posts[post_id].comments = "many"

    def ids_sent(self, request: Any) -> list[str]:
        return list(request.ids)


# ---- Instagram ----------------------------------------------------------------------------


class _OwnersInstagram(InstagramClient):
    """Instagram reads only with the owner's token: discovery here takes the row's own when
    a check passes none (the service always passes the integration's)."""

    owner: dict[str, Any] | None = None

    def discover(
        self,
        account: Account,
        *,
        since_id: str | None,
        limit: int,
        credentials: dict[str, Any] | None = None,
    ) -> Any:
        chosen = credentials if credentials is not None else self.owner
        return super().discover(account, since_id=since_id, limit=limit, credentials=chosen)


class InstagramHarness(Harness):
    platform = name = "instagram"
    batch_size = 50
    metrics_endpoint = "insights"
    discovery_endpoint = "media"
    discovery_page = 100
    ids_beyond_float = False  # stored ids are shortcodes (the media ids stay inside)
    fail_error = InsightsWithheld  # (#10) "Not enough viewers": that post's insights only
    handle = "openpost"
    one_request_per_batch = False  # insights: one call per post (after one listing call)
    throttles: ClassVar[list[Throttle]] = [
        Throttle(
            "80002-business-use-case",
            lambda h: h.spend_business_window(),
            RateLimited,
            "instagram_rate_limited",
            lambda now: now + timedelta(hours=24),
        ),
        Throttle(
            "4-app-limit",
            lambda h: h.spend_app_window(),
            RateLimited,
            "instagram_rate_limited",
            lambda now: now + timedelta(hours=1),
        ),
        Throttle(
            "80002-injected",
            lambda h: h.fake.inject("throttled", endpoint="media"),
            RateLimited,
            "instagram_rate_limited",
            lambda now: now + timedelta(minutes=30),
        ),
    ]

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.owner_tokens = None
        self.fake = instagram_fake.FakeInstagram(now=clock)
        self.ig = self.fake.add_account("openpost", name="OpenPost")
        self.token = self.fake.issue_token(self.ig)
        self.client = client = _OwnersInstagram(
            transport=self.fake.transport(), media_ids=InstagramMediaIds()
        )
        client.owner = self.credentials
        self.account = Account(self.ig.id, self.ig.username, self.ig.name)

    @property
    def credentials(self) -> dict[str, Any] | None:
        return {"kind": INSTAGRAM_LOGIN, "access_token": self.token}

    def spend_business_window(self) -> None:
        self.fake.business_limit = 0
        self.fake.forget_windows()

    def spend_app_window(self) -> None:
        self.fake.app_limit = 0
        self.fake.forget_windows()

    def add_post(self, *, age: timedelta, likes: int = 0) -> str:
        media = self.fake.add_media(self.ig, created_at=self.clock() - age, likes=likes)
        return media.code

    def delete(self, post_id: str) -> None:
        self.fake.delete_media(self.fake.by_code(post_id).id)

    def fail(self, post_id: str) -> None:
        self.fake.by_code(post_id).refused = True

    def cursor_post(self, cursor: str | None) -> str | None:
        parsed = instagram_cursor(cursor)
        return parsed[1] if parsed is not None else None

    def ids_sent(self, request: Any) -> list[str]:
        media_id = str(request.path).split("/")[-2]
        return [self.fake.media[media_id].code]


# ---- Threads ------------------------------------------------------------------------------

THREADS_APP = "contract-threads-app"


class ThreadsHarness(Harness):
    """Threads reads only with the owner's token (``credentials``); stored ids are
    shortcodes, and insights are one call per post after one listing that finds the media
    ids of shortcodes the client has not seen. Owner-token renewal differs from X's (the
    long-lived token renews itself, never after a refusal): ``test_threads_client`` covers
    it, so the row has no ``owner_tokens``."""

    platform = name = "threads"
    batch_size = 25
    metrics_endpoint = "insights"
    discovery_endpoint = "threads"
    discovery_page = 100
    ids_beyond_float = False  # shortcodes (the media ids stay inside the client)
    fail_error = MalformedResponse
    handle = "@openpost"
    one_request_per_batch = False
    throttles: ClassVar[list[Throttle]] = [
        Throttle(
            "code-17-app-user-window",
            lambda h: h.fake.set_rate_limit(0),
            RateLimited,
            "threads_rate_limited",
            lambda now: now + threads_fake.WINDOW,
        ),
        Throttle(
            "code-4-regain-header",
            lambda h: h.fake.inject("throttled"),
            RateLimited,
            "threads_rate_limited",
            lambda now: now + timedelta(minutes=30),
        ),
    ]

    def _build(self) -> PlatformClient:
        self.fake = fake = threads_fake.FakeThreads(now=self.clock)
        self.owner = fake.add_user("openpost", name="OpenPost")
        self.token = fake.issue_token(self.owner, client_id=THREADS_APP)["access_token"]
        return ThreadsClient(
            base_url="https://graph.threads.test",
            transport=fake.transport(),
            media_ids=ThreadsMediaIds(),
        )

    def _account(self) -> Account:
        return Account(self.owner.id, self.owner.username, self.owner.name)

    @property
    def credentials(self) -> dict[str, Any] | None:
        return {"access_token": self.token}

    def metric_calls(self, posts: int) -> int:
        return posts + 1  # the listing that finds the media ids, then one insights call each

    def add_post(self, *, age: timedelta, likes: int = 0) -> str:
        media = self.fake.add_media(self.owner, created_at=self.clock() - age, likes=likes)
        return str(media.shortcode)

    def delete(self, post_id: str) -> None:
        self.fake.delete_media(self.fake.by_shortcode(post_id).id)

    def fail(self, post_id: str) -> None:
        self.fake.set_metrics(self.fake.by_shortcode(post_id).id, likes="lots")

    def cursor_post(self, cursor: str | None) -> str | None:
        return threads_cursor(cursor)[1] if cursor is not None else None

    def ids_sent(self, request: Any) -> list[str]:
        return [self.fake.media[request.object_id].shortcode]


# ---- LinkedIn -----------------------------------------------------------------------------

LI_CLIENT_ID, LI_SECRET = "contract-linkedin", "contract-linkedin-secret"


class LinkedInOwnerTokens(OwnerTokens):
    """A page administrator's tokens: 60-day access tokens, a refresh token fixed at 365
    days, renewed at the fake's www.linkedin.com token endpoint."""

    def __init__(self, harness: LinkedInHarness) -> None:
        self.harness, self.fake = harness, harness.fake
        self.fake.add_oauth_client(LI_CLIENT_ID, LI_SECRET, "https://openpost.test/callback")
        self.oauth = LinkedInOAuth(
            client_id=LI_CLIENT_ID,
            client_secret=LI_SECRET,
            token_url="https://www.linkedin.com/oauth/v2/accessToken",
            api_base_url="https://api.linkedin.com",
            version="202604",
            transport=self.fake.transport(),
        )
        self.lifetime = self.fake.oauth.access_lifetime
        self.refreshes = 0
        self.owner_context = f"member:{harness.admin.id}"

    def issue(self) -> dict[str, Any]:
        issued = self.fake.issue_tokens(self.harness.admin, LI_CLIENT_ID, " ".join(LINKEDIN_SCOPES))
        now = self.harness.clock()
        return {
            "access_token": issued["access_token"],
            "refresh_token": issued["refresh_token"],
            "expires_at": (now + timedelta(seconds=issued["expires_in"])).isoformat(),
            "refresh_expires_at": (
                now + timedelta(seconds=issued["refresh_token_expires_in"])
            ).isoformat(),
            "author": self.harness.org.urn,
        }

    def expire_at_platform(self, credentials: dict[str, Any]) -> None:
        self.fake.tokens[credentials["access_token"]].expires_at = self.harness.clock()

    def refuse_refresh(self, credentials: dict[str, Any]) -> None:  # noqa: ARG002
        self.fake.revoke(self.harness.admin)

    def __call__(self, credentials: dict[str, Any], *, force: bool) -> dict[str, Any]:
        expires_at = datetime.fromisoformat(credentials["expires_at"])
        if not force and expires_at - clock.now() > timedelta(minutes=5):
            return credentials
        stored = TokenSet(
            credentials["access_token"],
            credentials["refresh_token"],
            expires_at,
            "",
            datetime.fromisoformat(credentials["refresh_expires_at"]),
        )
        tokens = self.oauth.renew(stored, now=clock.now())
        self.refreshes += 1
        assert tokens.expires_at is not None
        assert tokens.refresh_expires_at is not None
        return {
            "access_token": tokens.access_token,
            "refresh_token": tokens.refresh_token,
            "expires_at": tokens.expires_at.isoformat(),
            "refresh_expires_at": tokens.refresh_expires_at.isoformat(),
        }

    def context(self, request: Any) -> str:
        return str(request.context)

    def close(self) -> None:
        self.oauth.close()


def _share_urns(value: str) -> list[str]:
    inner = value.removeprefix("List(").removesuffix(")")
    return [u for u in inner.split(",") if u]


class LinkedInHarness(Harness):
    """An organization page read with its administrator's token (share statistics)."""

    platform = name = "linkedin"
    batch_size = 20
    metrics_endpoint = "share_statistics"
    discovery_endpoint = "posts"
    discovery_page = 100
    ids_beyond_float = False  # URNs
    fail_error = MalformedResponse
    has_owner_tokens = True
    handle = ""  # none: connected with the owner's consent only
    rate_headers = False  # daily limits, sent in no header
    throttles: ClassVar[list[Throttle]] = [
        Throttle(
            "429-application-day",
            lambda h: h.fake.set_daily_limit("share_statistics", app=0),
            BudgetExhausted,
            "linkedin_app_day_limit",
            utc_midnight_after,
        ),
        Throttle(
            "429-member-day",
            lambda h: h.fake.set_daily_limit("share_statistics", member=0),
            RateLimited,
            "linkedin_member_day_limit",
            utc_midnight_after,
        ),
    ]

    def __init__(self, clock: Clock) -> None:  # no lookup by handle: the consent names it
        self.clock = clock
        self.owner_tokens = None
        self.client = self._build()
        self.account = Account(self.org.urn, self.org.urn, self.org.name)

    def _build(self) -> PlatformClient:
        self.fake = fake = linkedin_fake.FakeLinkedIn(now=self.clock)
        self.admin = fake.add_member("Ada", "Admin")
        self.org = fake.add_organization("OpenPost", admin=self.admin, followers=10)
        self.owner_tokens = self.tokens = LinkedInOwnerTokens(self)
        self._credentials = self.tokens.issue()
        return LinkedInClient(
            base_url="https://api.linkedin.com",
            version="202604",
            transport=fake.transport(),
            user_tokens=self.tokens,
        )

    def close(self) -> None:
        self.tokens.close()
        super().close()

    @property
    def credentials(self) -> dict[str, Any] | None:
        return self._credentials

    def add_post(self, *, age: timedelta, likes: int = 0) -> str:
        return str(self.fake.add_post(self.org, published_at=self.clock() - age, likes=likes).urn)

    def delete(self, post_id: str) -> None:
        self.fake.delete_post(post_id)

    def fail(self, post_id: str) -> None:
        self.fake.posts[post_id].stats["likeCount"] = "many"

    def cursor_post(self, cursor: str | None) -> str | None:
        parsed = linkedin_cursor(cursor)
        return parsed[1] if parsed is not None else None

    def ids_sent(self, request: Any) -> list[str]:
        params = request.params
        return _share_urns(params.get("shares", "")) + _share_urns(params.get("ugcPosts", ""))


# ---- Pinterest ----------------------------------------------------------------------------

PINTEREST_ID, PINTEREST_SECRET = "contract-pinterest-app", "contract-pinterest-secret"


class PinterestOwnerTokens(OwnerTokens):
    """Every Pinterest read is the owner's: tokens from the fake's token endpoint, renewed
    (continuous refresh: a new refresh token each time) by the fake's Basic-auth endpoint."""

    def __init__(self, fake: pinterest_fake.FakePinterest, user: pinterest_fake.FakeUser) -> None:
        self.fake, self.user = fake, user
        fake.add_app(PINTEREST_ID, PINTEREST_SECRET, "https://openpost.test/callback")
        self.oauth = PinterestOAuth(
            client_id=PINTEREST_ID,
            client_secret=PINTEREST_SECRET,
            base_url="https://api.pinterest.com",
            transport=fake.transport(),
        )
        self.lifetime = fake.oauth.access_lifetime
        self.refreshes = 0
        self.owner_context = user.id

    def issue(self) -> dict[str, Any]:
        issued = self.fake.issue_tokens(self.user, client_id=PINTEREST_ID)
        return {
            "access_token": issued["access_token"],
            "refresh_token": issued["refresh_token"],
            "expires_at": (clock.now() + timedelta(seconds=issued["expires_in"])).isoformat(),
        }

    def expire_at_platform(self, credentials: dict[str, Any]) -> None:
        self.fake.expire_access_token(credentials["access_token"])

    def refuse_refresh(self, credentials: dict[str, Any]) -> None:
        self.fake.revoke_refresh_token(credentials["refresh_token"])

    def __call__(self, credentials: dict[str, Any], *, force: bool) -> dict[str, Any]:
        expires_at = datetime.fromisoformat(credentials["expires_at"])
        if not force and expires_at - clock.now() > timedelta(minutes=5):
            return credentials
        tokens = self.oauth.refresh(credentials["refresh_token"], now=clock.now())
        self.refreshes += 1
        assert tokens.expires_at is not None
        return {
            "access_token": tokens.access_token,
            "refresh_token": tokens.refresh_token,
            "expires_at": tokens.expires_at.isoformat(),
        }

    def context(self, request: Any) -> str:
        return str(request.user)

    def close(self) -> None:
        self.oauth.close()


class PinterestHarness(Harness):
    """Pinterest with the beta bulk analytics (100 Pins a call); the one-Pin-per-call mode
    (batch size 1) is covered by ``test_pinterest_client``."""

    platform = name = "pinterest"
    batch_size = 100
    metrics_endpoint = "bulk_analytics"
    discovery_endpoint = "pins_list"
    discovery_page = 250
    ids_beyond_float = True
    fail_error = MalformedResponse  # a broken daily count fails that Pin alone
    handle = "openpost"
    has_owner_tokens = True
    settings: ClassVar[dict[str, Any]] = {"pinterest_bulk_analytics": True}
    throttles: ClassVar[list[Throttle]] = [
        Throttle(
            "429-code-8-daily-limit",
            lambda h: h.fake.set_daily_limit("org_analytics", 0),
            RateLimited,
            "pinterest_rate_limited",
            pinterest_midnight,
        ),
        Throttle(
            "429-code-8-injected",
            lambda h: h.fake.inject("rate_limited", endpoint="bulk_analytics"),
            RateLimited,
            "pinterest_rate_limited",
            pinterest_midnight,
        ),
    ]

    def _build(self) -> PlatformClient:
        self.fake = fake = pinterest_fake.FakePinterest(now=self.clock)
        fake.bulk_enabled = True
        self.user = fake.add_user(self.handle, business_name="OpenPost")
        self.owner_tokens = self.tokens = PinterestOwnerTokens(fake, self.user)
        self._credentials = self.tokens.issue()
        return PinterestClient(transport=fake.transport(), user_tokens=self.tokens, bulk=True)

    def _account(self) -> Account:  # no lookup by handle: consent only
        return Account(self.user.id, self.user.username, self.user.business_name)

    @property
    def credentials(self) -> dict[str, Any] | None:
        return self._credentials

    def close(self) -> None:
        self.tokens.close()
        super().close()

    def cursor_post(self, cursor: str | None) -> str | None:
        return str(pinterest_cursor(cursor)[1]) if cursor is not None else None

    def add_post(self, *, age: timedelta, likes: int = 0) -> str:
        return self.fake.add_pin(self.user, created_at=self.clock() - age, reactions=likes).id

    def delete(self, post_id: str) -> None:
        self.fake.delete_pin(post_id)

    def fail(self, post_id: str) -> None:
        pin = self.fake.pins[post_id]
        pin.daily[pin.created_at.date()]["IMPRESSION"] = "lots"

    def ids_sent(self, request: Any) -> list[str]:
        return str(request.params["pin_ids"]).split(",")


HARNESSES: list[type[Harness]] = [
    XHarness,
    BlueskyHarness,
    MastodonHarness,
    OldMastodonHarness,
    YouTubeHarness,
    LinkedInHarness,
    PinterestHarness,
    TikTokHarness,
    FacebookHarness,
    InstagramHarness,
    ThreadsHarness,
]


def with_owner_tokens() -> list[type[Harness]]:
    """The rows whose platform has owner tokens (the only ones token checks are made for)."""
    return [h for h in HARNESSES if h.has_owner_tokens]


def throttle_cases() -> Iterator[tuple[type[Harness], Throttle]]:
    for harness in HARNESSES:
        for throttle in harness.throttles:
            yield harness, throttle
