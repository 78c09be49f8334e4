"""X: read with the operator's app bearer token (every workspace shares it, so each account
is capped at its newest posts and a freshness window), or with the account owner's token."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx

from openpost.config import Settings
from openpost.platforms.consent import UserTokenSource
from openpost.platforms.spec import PlatformSpec, PostCap, Reader, posts_per_utc_day
from openpost.platforms.x.client import XClient
from openpost.platforms.x.oauth import CONSENT
from openpost.platforms.x.urls import URLS

# X bills each post read (pay-per-use credits): the dry run's estimate, in US dollars.
USD_PER_POST_READ = 0.005


def _build(
    settings: Settings, transport: httpx.BaseTransport | None, tokens: UserTokenSource | None
) -> XClient:
    return XClient.from_settings(settings, transport=transport, user_tokens=tokens)


def _fake() -> Any:
    from openpost.platforms.x.fake import FakeX

    return FakeX()


SPEC = PlatformSpec(
    name="twitter",
    label="X",
    colour="#1d2430",
    handle_hint="openpost",
    code_prefix="x",
    settle_time=timedelta(hours=24),
    urls=URLS,
    configured=lambda settings: bool(settings.x_bearer_token),
    needs="OPENPOST_X_BEARER_TOKEN",
    reader=Reader(
        build=_build,
        batch_size=lambda settings: min(settings.x_batch_size, XClient.batch_size),
        discovery_limit=lambda settings: settings.x_max_posts_per_integration,
    ),
    # X bills a post read once per UTC day: a post read today costs nothing more.
    budget=posts_per_utc_day(lambda settings: settings.x_daily_read_budget),
    cap=lambda settings: PostCap(
        max_posts=settings.x_max_posts_per_integration,
        window=timedelta(hours=settings.x_freshness_window_hours),
    ),
    app_credential_codes=frozenset({"x_unauthorized", "x_not_configured", "x_forbidden"}),
    usd_per_read=USD_PER_POST_READ,
    fake=_fake,
    consent=CONSENT,
    # A post's attached photo, or a video's or GIF's still (media.fields url,
    # preview_image_url), is served from X's image host.
    preview_hosts=frozenset({"pbs.twimg.com"}),
)
