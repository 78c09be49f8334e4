"""Instagram professional accounts: connected only with their owner's consent, through
Instagram Login (``oauth.CONSENT``) or, for an account linked to a Facebook Page, Facebook
Login (``oauth.FACEBOOK_CONSENT``); read with the owner's token (``client``)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx

from openpost.config import Settings
from openpost.platforms.consent import UserTokenSource
from openpost.platforms.instagram.client import BATCH_SIZE, InstagramClient
from openpost.platforms.instagram.oauth import CONSENT, FACEBOOK_CONSENT, configured
from openpost.platforms.instagram.urls import URLS
from openpost.platforms.spec import PlatformSpec, Reader


def _build(
    settings: Settings, transport: httpx.BaseTransport | None, tokens: UserTokenSource | None
) -> InstagramClient:
    return InstagramClient.from_settings(settings, transport=transport, user_tokens=tokens)


def _fake() -> Any:
    from openpost.platforms.instagram.fake import FakeInstagram

    return FakeInstagram()


SPEC = PlatformSpec(
    name="instagram",
    label="Instagram",
    colour="#c13584",
    settle_time=timedelta(hours=48),  # Meta's insights settle for up to 48 hours.
    urls=URLS,
    configured=configured,
    needs=(
        "OPENPOST_META_APP_ID and OPENPOST_META_APP_SECRET (or OPENPOST_INSTAGRAM_CLIENT_ID and "
        "OPENPOST_INSTAGRAM_CLIENT_SECRET), and OPENPOST_PUBLIC_BASE_URL"
    ),
    consent_only=True,
    reader=Reader(
        build=_build,
        batch_size=lambda _settings: BATCH_SIZE,
        discovery_limit=lambda settings: settings.instagram_max_posts_per_discovery,
    ),
    fake=_fake,
    consent=CONSENT,
    more_consents=(FACEBOOK_CONSENT,),
)
