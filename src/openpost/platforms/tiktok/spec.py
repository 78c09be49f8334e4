"""TikTok: connected only with its owner's consent (Login Kit v2), read with the owner's
token through the Display API (``client.py``), 20 videos per metrics request."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx

from openpost.config import Settings
from openpost.platforms.consent import UserTokenSource
from openpost.platforms.spec import PlatformSpec, Reader
from openpost.platforms.tiktok.client import TikTokClient
from openpost.platforms.tiktok.oauth import CONSENT, configured
from openpost.platforms.tiktok.urls import URLS


def _build(
    settings: Settings, transport: httpx.BaseTransport | None, tokens: UserTokenSource | None
) -> TikTokClient:
    return TikTokClient.from_settings(settings, transport=transport, user_tokens=tokens)


def _fake() -> Any:
    from openpost.platforms.tiktok.fake import FakeTikTok

    return FakeTikTok()


SPEC = PlatformSpec(
    name="tiktok",
    label="TikTok",
    colour="#00a7a0",
    settle_time=timedelta(hours=48),  # Video counters settle over the first two days.
    urls=URLS,
    configured=configured,
    needs="OPENPOST_TIKTOK_CLIENT_ID, OPENPOST_TIKTOK_CLIENT_SECRET and OPENPOST_PUBLIC_BASE_URL",
    consent_only=True,
    reader=Reader(
        build=_build,
        batch_size=lambda _settings: TikTokClient.batch_size,
        discovery_limit=lambda settings: settings.tiktok_max_posts_per_discovery,
    ),
    # The operator's app refused (client key or secret): pause TikTok, blame no account.
    app_credential_codes=frozenset({"tiktok_oauth_client", "tiktok_oauth_not_configured"}),
    fake=_fake,
    consent=CONSENT,
)
