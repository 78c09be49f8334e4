"""Mastodon: each account's own instance, whose rate limits are its own (a batch never
mixes instances: the credential key carries the instance)."""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache
from typing import Any

import httpx

from openpost.config import Settings
from openpost.platforms.base import PlatformError
from openpost.platforms.consent import UserTokenSource
from openpost.platforms.mastodon.client import MastodonClient
from openpost.platforms.mastodon.urls import URLS
from openpost.platforms.spec import PlatformSpec, Reader, posts_per_utc_day


@lru_cache(maxsize=65536)
def instance_of(username: str) -> str | None:
    """An account's instance (cached: parsing a host name is not cheap, and the planner
    asks once per integration with due posts on every pass)."""
    try:
        return MastodonClient.instance_of(username)
    except (PlatformError, ValueError):
        return None


def _read_credentials(username: str, stored: dict[str, Any] | None) -> dict[str, Any]:
    instance = instance_of(username)
    return {**(stored or {}), **({"instance": instance} if instance else {})}


def _build(
    settings: Settings, transport: httpx.BaseTransport | None, _tokens: UserTokenSource | None
) -> Any:
    return MastodonClient.from_settings(settings, transport=transport)


def _fake() -> Any:
    from openpost.platforms.mastodon.fake import FakeMastodon

    return FakeMastodon()


SPEC = PlatformSpec(
    name="mastodon",
    label="Mastodon",
    colour="#6364ff",
    handle_hint="Gargron@mastodon.social",
    settle_time=timedelta(hours=1),
    urls=URLS,
    configured=lambda _settings: True,
    reader=Reader(
        build=_build,
        batch_size=lambda settings: min(settings.mastodon_batch_size, MastodonClient.batch_size),
        discovery_limit=lambda settings: settings.mastodon_max_posts_per_integration,
        credential_scope=lambda username: instance_of(username) or "?",
        read_credentials=_read_credentials,
    ),
    budget=posts_per_utc_day(lambda _settings: 0),
    fake=_fake,
)
