"""Settings: environment variables prefixed ``OPENPOST_``, validated once at start.

``docs/settings.md`` is generated from these fields (``scripts/reference_docs.py``) and CI
fails when it is stale, so each field's description is its documentation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from limits import parse as parse_rate
from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from openpost.core import faults

Environment = Literal["production", "development", "demo", "test"]

QUEUE_SCHEMES = ("redis", "rediss", "unix")
RATE_LIMIT_STORAGE_SCHEMES = ("memory", "redis", "rediss")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
DATABASE_FORMS = (
    "sqlite:///relative/path.db, sqlite:////absolute/path.db or "
    "postgresql+psycopg://user:password@host:5432/database"
)

# Used only when OPENPOST_ENV is development, demo or test; production refuses to start.
_DEV_SECRET = "openpost-development-secret-key-not-for-production"  # noqa: S105


class Settings(BaseSettings):
    """All of the service's configuration. Build one and pass it to ``create_app``."""

    model_config = SettingsConfigDict(env_prefix="OPENPOST_", extra="ignore", frozen=True)

    env: Environment = Field(
        default="production",
        description="`production` refuses to start without a secret key; "
        "`development`, `demo` and `test` fall back to a fixed one.",
    )
    data_dir: Path = Field(default=Path("data"), description="Where SQLite files live.")
    database_url: str = Field(
        repr=False,  # may carry a password or a key
        default="",
        description="SQLAlchemy URL. Empty means SQLite at `<data_dir>/openpost.db`; "
        "`sqlite:///path/to/file.db` (four slashes for an absolute path), or PostgreSQL: "
        "`postgresql+psycopg://user:password@host:5432/db`. Other databases are refused.",
    )
    queue_url: str = Field(
        repr=False,  # may carry a password or a key
        default="",
        description="Job queue. Empty means huey on SQLite under `data_dir`; "
        "`redis://host:6379/0` (or `rediss://…`, `unix:///path/redis.sock`) for many processes.",
    )
    secret_key: str = Field(
        repr=False,  # may carry a password or a key
        default="",
        description="Secret for encrypting platform tokens (and OAuth attempts) at rest. "
        "To rotate it, move the old value to `secret_key_previous` and run "
        "`openpost secrets reseal` (docs/operations.md).",
    )
    secret_key_previous: str = Field(
        repr=False,  # carries keys
        default="",
        description="Former secret keys, comma-separated, newest first: still accepted to "
        "decrypt what they sealed, never used to seal. Keep them until `openpost secrets "
        "reseal` reports nothing left under them.",
    )
    api_rate_limit: str = Field(
        default="600/minute",
        description="Requests each API key may make: `<count>/<period>` with a period of "
        "second, minute, hour or day (`600/minute`, `10/second`); at least 1.",
    )
    rate_limit_storage_url: str = Field(
        repr=False,  # may carry a password or a key
        default="",
        description="Where rate-limit counters live: empty (or `memory://`) means this "
        "process's memory (fine for one process); `redis://…` or `rediss://…` shares them "
        "across processes.",
    )
    idempotency_ttl_hours: int = Field(
        default=24, ge=1, le=720, description="How long an `Idempotency-Key` is remembered."
    )
    metrics_token: str = Field(
        repr=False,  # a secret
        default="",
        description="Bearer token for `GET /metrics` on the API's port "
        "(`Authorization: Bearer <token>`). Empty: the API's port does not serve `/metrics` "
        "(404); `openpost serve --metrics-port` serves them on a port of their own.",
    )
    max_body_bytes: int = Field(
        default=1_048_576, ge=1024, description="Largest request body accepted (413 above)."
    )
    log_level: str = Field(
        default="INFO", description="`DEBUG`, `INFO`, `WARNING`, `ERROR` or `CRITICAL`."
    )

    x_api_base_url: str = Field(default="https://api.x.com", description="X API base URL.")
    x_bearer_token: str = Field(
        default="", repr=False, description="X app-wide bearer token. Secret."
    )
    x_client_id: str = Field(
        default="",
        description="X: the OAuth 2.0 client id of the operator's X app (developer console, "
        "Keys and tokens). With `x_client_secret` and `public_base_url` set, an account's owner "
        "can connect it with consent from the Integrations page, which adds non-public metrics "
        "(clicks, profile visits) for posts under 30 days old. Empty: the offer is not shown.",
    )
    x_client_secret: str = Field(
        default="",
        repr=False,
        description="X: the OAuth 2.0 client secret of that app (a confidential client). "
        "Secret: never logged or shown.",
    )
    x_oauth_authorize_url: str = Field(
        default="https://x.com/i/oauth2/authorize",
        description="X: the consent page an owner's browser is sent to (tests point it at a "
        "fake). Tokens are exchanged at `<x_api_base_url>/2/oauth2/token`.",
    )
    x_max_posts_per_integration: int = Field(
        default=50, ge=1, description="X: only each account's N newest posts are refreshed."
    )
    x_freshness_window_hours: int = Field(
        default=72, ge=1, description="X: posts older than this keep their last snapshot."
    )
    bluesky_api_base_url: str = Field(
        default="https://public.api.bsky.app", description="Bluesky AppView base URL."
    )
    mastodon_api_base_url: str = Field(
        default="", description="Mastodon: empty means each account's own instance."
    )
    youtube_api_base_url: str = Field(
        default="https://www.googleapis.com/youtube/v3", description="YouTube Data API base URL."
    )
    threads_api_base_url: str = Field(
        default="https://graph.threads.net", description="Threads API base URL."
    )
    instagram_api_base_url: str = Field(
        default="https://graph.facebook.com", description="Instagram Graph API base URL."
    )
    facebook_api_base_url: str = Field(
        default="https://graph.facebook.com", description="Facebook Graph API base URL."
    )
    linkedin_api_base_url: str = Field(
        default="https://api.linkedin.com", description="LinkedIn API base URL."
    )
    tiktok_api_base_url: str = Field(
        default="https://open.tiktokapis.com", description="TikTok API base URL."
    )
    pinterest_api_base_url: str = Field(
        default="https://api.pinterest.com", description="Pinterest API base URL."
    )

    # Approval-gated platforms (SPEC §9.1): the operator's approved app credentials. Each
    # platform's block holds its own settings; one Meta app may serve Threads, Instagram and
    # Facebook (its own client id/secret, where set, wins over the Meta app's).
    meta_app_id: str = Field(
        default="",
        description="Meta: the app id of the operator's Meta app (developer dashboard, App "
        "settings, Basic), used by Threads, Instagram and Facebook unless their own client id is "
        "set. Empty, with no platform id either: those platforms are listed as needing the "
        "operator's app credentials and never called.",
    )
    meta_app_secret: str = Field(
        default="",
        repr=False,
        description="Meta: the app secret of that app. Secret: never logged or shown.",
    )

    # Threads (src/openpost/platforms/threads/)
    threads_client_id: str = Field(
        default="",
        description="Threads: the Threads app id (Meta app dashboard, Use cases, Threads API; "
        "not the Facebook app id). Empty: `meta_app_id`.",
    )
    threads_client_secret: str = Field(
        default="",
        repr=False,
        description="Threads: the client secret of that app. Secret: never logged or shown.",
    )
    threads_oauth_authorize_url: str = Field(
        default="https://threads.net/oauth/authorize",
        description="Threads: the consent page an owner's browser is sent to (tests point it at "
        "a fake).",
    )

    # Instagram (src/openpost/platforms/instagram/)
    instagram_client_id: str = Field(
        default="",
        description="Instagram: the Instagram app id for Instagram Login (Meta app dashboard, "
        "Instagram, API setup with Instagram login). Empty: `meta_app_id`.",
    )
    instagram_client_secret: str = Field(
        default="",
        repr=False,
        description="Instagram: the client secret of that app. Secret: never logged or shown.",
    )
    instagram_oauth_authorize_url: str = Field(
        default="https://www.instagram.com/oauth/authorize",
        description="Instagram: the consent page an owner's browser is sent to (tests point it at "
        "a fake).",
    )
    instagram_login_api_base_url: str = Field(
        default="https://graph.instagram.com",
        description="Instagram: the Graph host of accounts connected with Instagram Login (reads, "
        "the long-lived token exchange and its refresh). `instagram_api_base_url` is the Facebook "
        "Login path's host.",
    )
    instagram_token_base_url: str = Field(
        default="https://api.instagram.com",
        description="Instagram: the host of Instagram Login's code exchange "
        "(`POST <host>/oauth/access_token`).",
    )
    instagram_graph_version: str = Field(
        default="v25.0",
        pattern=r"^v[0-9]{1,3}\.[0-9]$",
        description="Instagram: the Graph API version in read paths "
        "(`/v25.0/{media-id}/insights`).",
    )
    instagram_multi_id_counters: bool = Field(
        default=True,
        description="Instagram: read like and comment counts of up to 50 posts in one "
        "`GET /?ids=a,b,…&fields=like_count,comments_count` call. Documented for "
        "graph.facebook.com, unconfirmed for graph.instagram.com: false reads them one post "
        "per call.",
    )
    instagram_max_posts_per_discovery: int = Field(
        default=100,
        ge=1,
        description="Instagram: at most this many of an account's newest posts per discovery run.",
    )

    # Facebook (src/openpost/platforms/facebook/)
    facebook_client_id: str = Field(
        default="",
        description="Facebook: the app id for Facebook Login (Pages, and Instagram accounts "
        "linked to a Page). Empty: `meta_app_id`.",
    )
    facebook_client_secret: str = Field(
        default="",
        repr=False,
        description="Facebook: the client secret of that app. Secret: never logged or shown.",
    )
    facebook_oauth_authorize_url: str = Field(
        default="https://www.facebook.com/v25.0/dialog/oauth",
        description="Facebook: the consent page an owner's browser is sent to (tests point it at "
        "a fake).",
    )
    facebook_graph_version: str = Field(
        default="v25.0",
        pattern=r"^v[0-9]{1,3}\.[0-9]$",
        description="Facebook: the Graph API version written into every path "
        "(`<facebook_api_base_url>/v25.0/...`), the token endpoint's included.",
    )
    facebook_batch_size: int = Field(
        default=25,
        ge=1,
        le=25,
        description="Facebook: posts per Graph batch request (two operations each, counters "
        "and insights; a batch takes at most 50 operations).",
    )
    facebook_max_posts_per_integration: int = Field(
        default=100,
        ge=1,
        description="Facebook: discovery reads at most this many of a Page's newest posts per run.",
    )

    # LinkedIn (src/openpost/platforms/linkedin/)
    linkedin_client_id: str = Field(
        default="",
        description="LinkedIn: LinkedIn app client id (developer portal, Auth tab).",
    )
    linkedin_client_secret: str = Field(
        default="",
        repr=False,
        description="LinkedIn: the client secret of that app. Secret: never logged or shown.",
    )
    linkedin_oauth_authorize_url: str = Field(
        default="https://www.linkedin.com/oauth/v2/authorization",
        description="LinkedIn: the consent page an owner's browser is sent to (tests point it at "
        "a fake).",
    )
    linkedin_oauth_token_url: str = Field(
        default="https://www.linkedin.com/oauth/v2/accessToken",
        description="LinkedIn: the token endpoint (code exchange and refresh). It is on "
        "www.linkedin.com, not on `linkedin_api_base_url` (tests point it at a fake).",
    )
    linkedin_api_version: str = Field(
        default="202604",
        pattern=r"^20[0-9]{2}(0[1-9]|1[0-2])$",
        description="LinkedIn: the `LinkedIn-Version` header (YYYYMM) sent on every REST call. "
        "LinkedIn retires a version about a year after release (426 for a retired one).",
    )
    linkedin_batch_size: int = Field(
        default=20,
        ge=1,
        le=100,
        description="LinkedIn: organization posts per share-statistics call (`shares=List(…)` "
        "and `ugcPosts=List(…)`). LinkedIn does not document a maximum; 20 is a cautious "
        "default.",
    )
    linkedin_max_posts_per_integration: int = Field(
        default=200,
        ge=1,
        description="LinkedIn: at most this many of an organization's newest posts per "
        "discovery run (Posts API pages of up to 100).",
    )
    linkedin_member_metrics: str = Field(
        default="IMPRESSION,REACTION,COMMENT,RESHARE",
        pattern=r"^[A-Z_]+(,[A-Z_]+)*$",
        description="LinkedIn: the member post analytics read for each member post, "
        "comma-separated `queryType`s (one call per metric per post: each costs one unit of "
        "the daily budgets). IMPRESSION, REACTION, COMMENT and RESHARE fill the four counters; "
        "others (MEMBERS_REACHED, POST_SAVE, POST_SEND, LINK_CLICKS) go to `platform_data`.",
    )
    linkedin_daily_app_calls: int = Field(
        default=0,
        ge=0,
        description="LinkedIn: API calls the operator's app may make per UTC day for post "
        "metrics, discovery and follower counts (LinkedIn publishes no number: read it in "
        "the Developer Portal, Analytics). The planner never plans beyond it. 0: no budget "
        "(a 429 still pauses the platform until 00:00 UTC).",
    )
    linkedin_daily_member_calls: int = Field(
        default=0,
        ge=0,
        description="LinkedIn: post-metrics calls one connected member's token may make per "
        "UTC day (LinkedIn's per-member limit). 0: no budget.",
    )

    @field_validator("linkedin_oauth_token_url")
    @classmethod
    def _linkedin_token_url(cls, value: str) -> str:
        return check_http_url(value.strip())

    # TikTok (src/openpost/platforms/tiktok/)
    tiktok_client_id: str = Field(
        default="",
        description="TikTok: the app's client key (developer portal, app details; sent to "
        "TikTok as `client_key`).",
    )
    tiktok_client_secret: str = Field(
        default="",
        repr=False,
        description="TikTok: the client secret of that app. Secret: never logged or shown.",
    )
    tiktok_oauth_authorize_url: str = Field(
        default="https://www.tiktok.com/v2/auth/authorize/",
        description="TikTok: the consent page an owner's browser is sent to (tests point it at "
        "a fake).",
    )
    tiktok_max_posts_per_discovery: int = Field(
        default=100,
        ge=1,
        le=1000,
        description="TikTok: at most this many of an account's newest videos are imported per "
        "discovery run (the video list gives 20 per request).",
    )

    # Pinterest (src/openpost/platforms/pinterest/)
    pinterest_client_id: str = Field(
        default="",
        description="Pinterest: Pinterest app id (developer portal, My apps).",
    )
    pinterest_client_secret: str = Field(
        default="",
        repr=False,
        description="Pinterest: the client secret of that app. Secret: never logged or shown.",
    )
    pinterest_oauth_authorize_url: str = Field(
        default="https://www.pinterest.com/oauth/",
        description="Pinterest: the consent page an owner's browser is sent to (tests point it at "
        "a fake).",
    )
    pinterest_continuous_refresh: bool = Field(
        default=False,
        description="Pinterest: send `continuous_refresh=true` with every token request. Apps "
        "created before 2025-09-25 need it to get continuous refresh tokens (60 days, renewed "
        "with each refresh); newer apps get them anyway.",
    )
    pinterest_bulk_analytics: bool = Field(
        default=False,
        description="Pinterest: the app has the beta `GET /v5/pins/analytics` (up to 100 Pins "
        "per call). Off: one `GET /v5/pins/{pin_id}/analytics` call per Pin.",
    )
    pinterest_daily_request_limit: int = Field(
        default=1000,
        ge=0,
        description="Pinterest: most API requests per UTC day for the whole app (Trial access "
        "allows 1,000 a day); the planner never plans past it. 0 means no daily limit "
        "(Standard access, limited per minute instead).",
    )
    pinterest_max_posts_per_integration: int = Field(
        default=50,
        ge=1,
        description="Pinterest: at most this many of an account's newest Pins per discovery run.",
    )

    # Bluesky and Mastodon (src/openpost/platforms/bluesky.py, mastodon.py, netguard.py)
    bluesky_batch_size: int = Field(
        default=25,
        ge=1,
        le=25,
        description="Bluesky: post ids per `app.bsky.feed.getPosts` call (Bluesky allows 25).",
    )
    bluesky_max_posts_per_integration: int = Field(
        default=100,
        ge=1,
        description="Bluesky: discovery reads at most this many of an account's newest posts "
        "per run (reposts and replies to others are not counted).",
    )
    mastodon_batch_size: int = Field(
        default=20,
        ge=1,
        le=20,
        description="Mastodon: status ids per `GET /api/v1/statuses` call (Mastodon allows 20; "
        "instances older than 4.3 are read one status per call).",
    )
    mastodon_max_posts_per_integration: int = Field(
        default=100,
        ge=1,
        description="Mastodon: discovery reads at most this many of an account's newest posts "
        "per run (boosts and replies to others are not counted).",
    )
    mastodon_allow_private_addresses: bool = Field(
        default=False,
        description="Mastodon: allow instances on private, loopback or link-local addresses, "
        "over plain http or on other ports. Instance names come from users, so leave this off "
        "unless every instance you read is your own (tests turn it on to reach a fake).",
    )

    # Dashboard (docs/dashboard.md)
    public_base_url: str = Field(
        default="",
        description="Dashboard: the address browsers reach this server at, scheme and host "
        "(`https://analytics.example.com`, no trailing slash). OAuth consent sends the browser "
        "back to `<public_base_url>/integrations/<slug>/callback` (X: "
        "`/integrations/x/callback`), which must be registered as the platform app's callback "
        "URL. Empty: no OAuth connection is offered.",
    )
    session_lifetime_hours: int = Field(
        default=168,
        ge=1,
        le=8760,
        description="Dashboard: a login lasts this long (hours), then the member logs in "
        "again. Logging out ends it at once.",
    )
    login_max_failures: int = Field(
        default=5,
        ge=1,
        description="Dashboard: failed logins allowed per email and client address within "
        "`login_failure_window_minutes` before further attempts are refused (429).",
    )
    login_failure_window_minutes: int = Field(
        default=15, ge=1, description="Dashboard: the window for `login_max_failures`."
    )

    # Collection (docs/collection.md)
    tier_fresh_hours: int = Field(
        default=24, ge=1, description="Tiers: posts younger than this are `fresh`."
    )
    tier_recent_days: int = Field(
        default=7, ge=1, description="Tiers: posts younger than this (and not fresh) are `recent`."
    )
    tier_long_tail_days: int = Field(
        default=90,
        ge=1,
        description="Tiers: posts younger than this are `long-tail`; older ones are `frozen` "
        "(never refreshed again).",
    )
    refresh_fresh_minutes: int = Field(
        default=30, ge=1, description="Tiers: a `fresh` post is re-read this often (minutes)."
    )
    refresh_recent_hours: int = Field(
        default=6, ge=1, description="Tiers: a `recent` post is re-read this often (hours)."
    )
    refresh_long_tail_hours: int = Field(
        default=24, ge=1, description="Tiers: a `long-tail` post is re-read this often (hours)."
    )
    x_batch_size: int = Field(
        default=100,
        ge=1,
        le=100,
        description="X: post ids per `GET /2/tweets` (X allows 100); due posts of every "
        "workspace share batches.",
    )
    x_daily_read_budget: int = Field(
        default=0,
        ge=0,
        description="X: most posts read per UTC day (X bills each post read once a day); "
        "0 means no limit. Over budget, the freshest, most engaged posts are read first.",
    )
    discovery_interval_minutes: int = Field(
        default=60,
        ge=1,
        description="How often each integration is checked for new posts (only posts newer "
        "than the last one seen are read).",
    )
    scheduler_interval_seconds: float = Field(
        default=60.0,
        ge=0.2,
        le=3600,
        description="How often the scheduler looks for due posts and discoveries.",
    )
    capture_lease_seconds: int = Field(
        default=300,
        ge=2,
        description="A queued capture owns its posts this long; if its worker dies, the posts "
        "are planned again after it (no reading is lost or written twice).",
    )
    retry_base_seconds: int = Field(
        default=60,
        ge=1,
        description="First retry delay after a transient failure; it doubles per failure, "
        "with jitter, up to `retry_max_seconds`.",
    )
    retry_max_seconds: int = Field(
        default=21600, ge=1, description="Longest retry delay after transient failures."
    )
    worker_threads: int = Field(
        default=4,
        ge=1,
        le=64,
        description="Job threads per `openpost worker` (and in `openpost serve`'s own worker).",
    )
    plan_max_targets: int = Field(
        default=20000,
        ge=1,
        description="Most due posts one scheduler pass queues; the rest wait for the next pass.",
    )

    # YouTube (src/openpost/platforms/youtube.py)
    youtube_api_key: str = Field(
        repr=False,  # may carry a password or a key
        default="",
        description="YouTube: the Data API v3 key (a Google Cloud API key with the YouTube "
        "Data API enabled). Secret. Empty means YouTube cannot be connected or read.",
    )
    youtube_batch_size: int = Field(
        default=50,
        ge=1,
        le=50,
        description="YouTube: video ids per `videos.list` call (YouTube allows 50; every "
        "call costs one quota unit whatever the number of ids).",
    )
    youtube_daily_quota_units: int = Field(
        default=10000,
        ge=1,
        description="YouTube: quota units the project may spend per day (10,000 by default "
        "at Google); the day ends at midnight Pacific time, when the quota comes back.",
    )
    youtube_max_posts_per_integration: int = Field(
        default=50,
        ge=1,
        description="YouTube: discovery reads at most this many of a channel's newest videos "
        "per run (one `playlistItems.list` page and one `videos.list` call per 50).",
    )

    # Webhooks (src/openpost/webhooks/, SPEC §9.7)
    webhook_allow_private_addresses: bool = Field(
        default=False,
        description="Webhooks: allow URLs on private, loopback or link-local addresses, http "
        "and other ports (a receiver on your own network). Off: such URLs are refused when "
        "created and, after DNS resolution, when delivered.",
    )
    webhook_timeout_seconds: int = Field(
        default=10, ge=1, le=60, description="Webhooks: how long one delivery attempt waits."
    )
    webhook_retry_hours: int = Field(
        default=24,
        ge=1,
        le=72,
        description="Webhooks: a delivery without a 2xx answer is retried (30 s doubling to "
        "an hour between attempts) for this long after its event, then marked failed.",
    )
    webhook_poll_seconds: float = Field(
        default=1.0,
        gt=0,
        le=60,
        description="Webhooks: how often each collecting process looks for due deliveries.",
    )
    collection_failed_after: int = Field(
        default=5,
        ge=1,
        description="Webhooks: `collection.failed` fires when an integration's collection has "
        "failed this many times in a row (discovery runs or post reads, counted per integration "
        "since its last success), once per streak.",
    )

    outperforming_multiple: float = Field(
        default=3.0,
        gt=1,
        le=100,
        description="Webhooks: `post.outperforming` fires when a post's engagements are at "
        "least this many times the median of its account's earlier posts at the same age.",
    )
    outperforming_min_posts: int = Field(
        default=5,
        ge=1,
        description="Webhooks: `post.outperforming` needs at least this many earlier posts of "
        "the account, each read by the same age, to compare with (fewer: nothing fires).",
    )

    # Tests (tests/faults)
    fault_injection: str = Field(
        default="",
        description="Tests only: fault points, comma-separated: `capture.commit` (the process "
        "kills itself inside a capture's commit), `capture.fetch:0.3` (it sleeps 0.3 s before "
        "each platform call). See `core/faults.py`. Refused unless `env` is `test`.",
    )

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        return check_database_url(value.strip())

    @field_validator("queue_url")
    @classmethod
    def _queue_url(cls, value: str) -> str:
        value = value.strip()
        if value and not _has_scheme(value, QUEUE_SCHEMES):
            raise ValueError(
                "must be empty (huey on SQLite under OPENPOST_DATA_DIR) or a Redis URL: "
                "redis://host:6379/0, rediss://host:6379/0 or unix:///path/to/redis.sock"
            )
        return value

    @field_validator("rate_limit_storage_url")
    @classmethod
    def _rate_limit_storage_url(cls, value: str) -> str:
        value = value.strip()
        if value and not _has_scheme(value, RATE_LIMIT_STORAGE_SCHEMES):
            raise ValueError(
                "must be empty (this process's memory), memory:// or a Redis URL: "
                "redis://host:6379/0 or rediss://host:6379/0"
            )
        return value

    @field_validator("api_rate_limit")
    @classmethod
    def _api_rate_limit(cls, value: str) -> str:
        value = value.strip()
        try:
            item = parse_rate(value)
        except ValueError:
            raise ValueError(
                "is not a rate: use <count>/<period>, such as 600/minute, 10/second, "
                "5000/hour or 100000/day"
            ) from None
        if item.amount < 1:
            raise ValueError("must allow at least 1 request per period (such as 600/minute)")
        return value

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in LOG_LEVELS:
            raise ValueError(f"must be one of {', '.join(LOG_LEVELS)}")
        return level

    @field_validator("data_dir")
    @classmethod
    def _data_dir(cls, value: Path) -> Path:
        if value.exists() and not value.is_dir():
            raise ValueError("is a file; it must be a directory (created if missing)")
        return value

    @field_validator(
        "x_api_base_url",
        "x_oauth_authorize_url",
        "bluesky_api_base_url",
        "youtube_api_base_url",
        "threads_api_base_url",
        "instagram_api_base_url",
        "facebook_api_base_url",
        "linkedin_api_base_url",
        "tiktok_api_base_url",
        "pinterest_api_base_url",
        "threads_oauth_authorize_url",
        "instagram_oauth_authorize_url",
        "instagram_login_api_base_url",
        "instagram_token_base_url",
        "facebook_oauth_authorize_url",
        "linkedin_oauth_authorize_url",
        "tiktok_oauth_authorize_url",
        "pinterest_oauth_authorize_url",
    )
    @classmethod
    def _http_url(cls, value: str) -> str:
        return check_http_url(value.strip())

    @field_validator("mastodon_api_base_url")
    @classmethod
    def _optional_http_url(cls, value: str) -> str:
        value = value.strip()
        return check_http_url(value) if value else value

    @field_validator("public_base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        return check_http_url(value) if value else value

    @property
    def x_oauth_configured(self) -> bool:
        """Whether owners can connect X accounts with consent (client id, secret, base URL)."""
        return bool(self.x_client_id and self.x_client_secret and self.public_base_url)

    @model_validator(mode="after")
    def _require_secret_in_production(self) -> Settings:
        if self.env == "production" and not self.secret_key:
            raise ValueError(
                "OPENPOST_SECRET_KEY must be set in production "
                "(or set OPENPOST_ENV=development for a local run)"
            )
        if self.secret_key and len(self.secret_key) < 16:
            raise ValueError("OPENPOST_SECRET_KEY must be at least 16 characters")
        if any(len(key) < 16 for key in self.previous_secret_keys):
            raise ValueError("each OPENPOST_SECRET_KEY_PREVIOUS key must be 16+ characters")
        if self.fault_injection:
            if self.env != "test":
                raise ValueError("OPENPOST_FAULT_INJECTION is for tests: OPENPOST_ENV=test only")
            faults.parse(self.fault_injection)
        return self

    @model_validator(mode="after")
    def _consistent_intervals(self) -> Settings:
        if self.retry_base_seconds > self.retry_max_seconds:
            raise ValueError(
                f"OPENPOST_RETRY_BASE_SECONDS ({self.retry_base_seconds}) must not exceed "
                f"OPENPOST_RETRY_MAX_SECONDS ({self.retry_max_seconds})"
            )
        recent_hours, long_tail_hours = self.tier_recent_days * 24, self.tier_long_tail_days * 24
        if not self.tier_fresh_hours < recent_hours < long_tail_hours:
            raise ValueError(
                "tiers must grow: OPENPOST_TIER_FRESH_HOURS "
                f"({self.tier_fresh_hours} h) < OPENPOST_TIER_RECENT_DAYS ({recent_hours} h) "
                f"< OPENPOST_TIER_LONG_TAIL_DAYS ({long_tail_hours} h)"
            )
        return self

    @property
    def previous_secret_keys(self) -> tuple[str, ...]:
        return tuple(k.strip() for k in self.secret_key_previous.split(",") if k.strip())

    @property
    def effective_secret_key(self) -> str:
        return self.secret_key or _DEV_SECRET

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'openpost.db'}"

    @property
    def is_sqlite(self) -> bool:
        return self.effective_database_url.startswith("sqlite")


def _has_scheme(url: str, schemes: tuple[str, ...]) -> bool:
    return url.partition("://")[0].lower() in schemes and "://" in url


def check_database_url(url: str) -> str:
    """``url`` if SQLAlchemy can use it here (SQLite or PostgreSQL through psycopg)."""
    if not url:
        return url
    # Here, not at the top: platform clients read Settings and must not load SQLAlchemy.
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        parsed = make_url(url)
        backend, driver = parsed.get_backend_name(), parsed.get_driver_name()
    except (ArgumentError, NoSuchModuleError, ValueError):
        raise ValueError(f"is not a database URL; use {DATABASE_FORMS}") from None
    if (backend, driver) not in (("sqlite", "pysqlite"), ("postgresql", "psycopg")):
        raise ValueError(f"{backend}+{driver} is not supported; use {DATABASE_FORMS}")
    return url


def check_http_url(url: str) -> str:
    """``url`` if it is an absolute http(s) URL with a host."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError("must be an absolute URL starting with https:// (or http://)")
    return url


def describe_errors(exc: ValidationError) -> list[str]:
    """One line per invalid setting, naming its variable; secret values are never echoed."""
    lines = []
    for error in exc.errors():
        message = error["msg"].removeprefix("Value error, ")
        if not error["loc"]:
            lines.append(message)
            continue
        name = str(error["loc"][0])
        field = Settings.model_fields.get(name)
        shown = ""
        if field is not None and field.repr and error.get("input") is not None:
            shown = f" (got {str(error['input'])!r})"
        lines.append(f"OPENPOST_{name.upper()}: {message}{shown}")
    return lines
