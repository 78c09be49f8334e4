"""Bluesky: the public AppView, no credential at all."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx

from openpost.config import Settings
from openpost.platforms.bluesky.client import BlueskyClient
from openpost.platforms.bluesky.urls import URLS
from openpost.platforms.consent import UserTokenSource
from openpost.platforms.spec import PlatformSpec, Reader, posts_per_utc_day


def _build(
    settings: Settings, transport: httpx.BaseTransport | None, _tokens: UserTokenSource | None
) -> Any:
    return BlueskyClient.from_settings(settings, transport=transport)


def _fake() -> Any:
    from openpost.platforms.bluesky.fake import FakeBluesky

    return FakeBluesky()


SPEC = PlatformSpec(
    name="bluesky",
    label="Bluesky",
    colour="#1185fe",
    handle_hint="bsky.app",
    settle_time=timedelta(hours=1),
    urls=URLS,
    configured=lambda _settings: True,
    reader=Reader(
        build=_build,
        batch_size=lambda settings: min(settings.bluesky_batch_size, BlueskyClient.batch_size),
        discovery_limit=lambda settings: settings.bluesky_max_posts_per_integration,
    ),
    budget=posts_per_utc_day(lambda _settings: 0),
    fake=_fake,
)
