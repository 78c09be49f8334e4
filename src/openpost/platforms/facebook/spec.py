"""Facebook Pages: connected only with their owner's consent (Facebook Login through the
operator's Meta app); each Page is read with its own Page token."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx

from openpost.config import Settings
from openpost.platforms.consent import UserTokenSource
from openpost.platforms.facebook.client import FacebookClient
from openpost.platforms.facebook.oauth import CONSENT, client_id, client_secret
from openpost.platforms.facebook.urls import URLS
from openpost.platforms.spec import PlatformSpec, Reader


def _build(
    settings: Settings, transport: httpx.BaseTransport | None, _tokens: UserTokenSource | None
) -> FacebookClient:
    # Page tokens do not expire and cannot be refreshed: no token source is needed.
    return FacebookClient.from_settings(settings, transport=transport)


def _configured(settings: Settings) -> bool:
    return bool(client_id(settings) and client_secret(settings) and settings.public_base_url)


def _fake() -> Any:
    from openpost.platforms.facebook.fake import FakeFacebook

    return FakeFacebook()


SPEC = PlatformSpec(
    name="facebook",
    label="Facebook",
    colour="#1877f2",
    settle_time=timedelta(hours=48),  # Meta's insights settle for up to 48 hours.
    urls=URLS,
    configured=_configured,
    needs=(
        "OPENPOST_META_APP_ID and OPENPOST_META_APP_SECRET (or OPENPOST_FACEBOOK_CLIENT_ID and "
        "OPENPOST_FACEBOOK_CLIENT_SECRET), and OPENPOST_PUBLIC_BASE_URL"
    ),
    consent_only=True,
    consent=CONSENT,
    reader=Reader(
        build=_build,
        batch_size=lambda settings: min(settings.facebook_batch_size, FacebookClient.batch_size),
        discovery_limit=lambda settings: settings.facebook_max_posts_per_integration,
    ),
    fake=_fake,
)
