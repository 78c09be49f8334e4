"""Pinterest: connected only with its owner's consent (OAuth 2.0, continuous refresh
tokens), read through the operator's approved app; on Trial access every workspace shares
the app's 1,000 requests a day (the daily budget, in requests per UTC day)."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

import httpx

from openpost.config import Settings
from openpost.platforms.consent import UserTokenSource
from openpost.platforms.pinterest.client import BULK_MAX, PAGE_MAX, PinterestClient
from openpost.platforms.pinterest.oauth import CONSENT, configured
from openpost.platforms.pinterest.urls import URLS
from openpost.platforms.spec import (
    DailyBudgetRule,
    PlatformSpec,
    Reader,
    utc_day,
    utc_midnight_after,
)


def _build(
    settings: Settings, transport: httpx.BaseTransport | None, tokens: UserTokenSource | None
) -> PinterestClient:
    return PinterestClient.from_settings(settings, transport=transport, user_tokens=tokens)


def _batch_size(settings: Settings) -> int:
    """One Pin per analytics call, or up to 100 with the beta bulk endpoint."""
    return BULK_MAX if settings.pinterest_bulk_analytics else 1


def _discovery_calls(limit: int) -> int:
    """Requests one discovery of at most ``limit`` Pins may take (250 Pins a page)."""
    return max(math.ceil(limit / PAGE_MAX), 1)


def _fake() -> Any:
    from openpost.platforms.pinterest.fake import FakePinterest

    return FakePinterest()


SPEC = PlatformSpec(
    name="pinterest",
    label="Pinterest",
    colour="#bd081c",
    settle_time=timedelta(hours=48),  # Pin analytics settle over the first two days.
    urls=URLS,
    configured=configured,
    needs="OPENPOST_PINTEREST_CLIENT_ID and OPENPOST_PINTEREST_CLIENT_SECRET",
    consent_only=True,
    reader=Reader(
        build=_build,
        batch_size=_batch_size,
        discovery_limit=lambda settings: settings.pinterest_max_posts_per_integration,
    ),
    # Trial access: 1,000 requests a day per app, every call counted (a re-read too).
    budget=DailyBudgetRule(
        unit="quota_units",
        limit=lambda settings: settings.pinterest_daily_request_limit,
        day_of=utc_day,
        resets_at=utc_midnight_after,
        discovery_reserve=_discovery_calls,
    ),
    app_credential_codes=frozenset({"pinterest_not_configured", "pinterest_oauth_client"}),
    fake=_fake,
    consent=CONSENT,
)
