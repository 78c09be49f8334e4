"""YouTube: the Data API with the operator's one API key, whose daily quota (units per
Pacific day, every call costs) every workspace shares."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx

from openpost.config import Settings
from openpost.platforms.consent import UserTokenSource
from openpost.platforms.spec import DailyBudgetRule, PlatformSpec, Reader
from openpost.platforms.youtube import quota
from openpost.platforms.youtube.client import YouTubeClient
from openpost.platforms.youtube.urls import URLS


def _build(
    settings: Settings, transport: httpx.BaseTransport | None, _tokens: UserTokenSource | None
) -> Any:
    return YouTubeClient.from_settings(settings, transport=transport)


def _fake() -> Any:
    from openpost.platforms.youtube.fake import FakeYouTube

    return FakeYouTube()


SPEC = PlatformSpec(
    name="youtube",
    label="YouTube",
    colour="#e62117",
    handle_hint="@GoogleDevelopers",
    settle_time=timedelta(hours=48),
    urls=URLS,
    configured=lambda settings: bool(settings.youtube_api_key),
    needs="OPENPOST_YOUTUBE_API_KEY",
    reader=Reader(
        build=_build,
        batch_size=lambda settings: min(settings.youtube_batch_size, YouTubeClient.batch_size),
        discovery_limit=lambda settings: settings.youtube_max_posts_per_integration,
    ),
    budget=DailyBudgetRule(
        unit="quota_units",
        limit=lambda settings: settings.youtube_daily_quota_units,
        day_of=quota.quota_day,
        resets_at=quota.next_quota_reset,
        discovery_reserve=quota.discovery_units,
    ),
    app_credential_codes=frozenset(
        {
            "youtube_not_configured",
            "youtube_key_invalid",
            "youtube_key_restricted",
            "youtube_access_not_configured",
            "youtube_unauthorized",
            "youtube_forbidden",
        }
    ),
    fake=_fake,
    thumbnail_url="https://i.ytimg.com/vi/{post_id}/mqdefault.jpg",
)
