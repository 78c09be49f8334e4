"""Every platform's spec, by its stored code."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from openpost.platforms.spec import PlatformSpec

if TYPE_CHECKING:
    from openpost.config import Settings


def _always(_settings: Settings) -> bool:
    return True


def _x(settings: Settings) -> bool:
    return bool(settings.x_bearer_token)


def _youtube(settings: Settings) -> bool:
    return bool(settings.youtube_api_key)


_META = "OPENPOST_META_APP_ID and OPENPOST_META_APP_SECRET"

SPECS: dict[str, PlatformSpec] = {
    spec.name: spec
    for spec in (
        PlatformSpec(
            "twitter",
            "X",
            "#1d2430",
            "openpost",
            timedelta(hours=24),
            _x,
            "OPENPOST_X_BEARER_TOKEN",
        ),
        PlatformSpec("bluesky", "Bluesky", "#1185fe", "bsky.app", timedelta(hours=1), _always),
        PlatformSpec(
            "mastodon",
            "Mastodon",
            "#6364ff",
            "Gargron@mastodon.social",
            timedelta(hours=1),
            _always,
        ),
        PlatformSpec(
            "youtube",
            "YouTube",
            "#e62117",
            "@GoogleDevelopers",
            timedelta(hours=48),
            _youtube,
            "OPENPOST_YOUTUBE_API_KEY",
            thumbnail_url="https://i.ytimg.com/vi/{post_id}/mqdefault.jpg",
        ),
        PlatformSpec(
            "threads",
            "Threads",
            "#7a7a7a",
            "",
            timedelta(hours=48),
            needs=_META,
            consent_only=True,
        ),
        PlatformSpec(
            "instagram",
            "Instagram",
            "#c13584",
            "",
            timedelta(hours=48),
            needs=_META,
            consent_only=True,
        ),
        PlatformSpec(
            "facebook",
            "Facebook",
            "#1877f2",
            "",
            timedelta(hours=48),
            needs=_META,
            consent_only=True,
        ),
        PlatformSpec(
            "linkedin",
            "LinkedIn",
            "#0a66c2",
            "",
            timedelta(hours=48),
            needs="OPENPOST_LINKEDIN_CLIENT_ID and OPENPOST_LINKEDIN_CLIENT_SECRET",
            consent_only=True,
        ),
        PlatformSpec(
            "tiktok",
            "TikTok",
            "#00a7a0",
            "",
            timedelta(hours=48),
            needs="OPENPOST_TIKTOK_CLIENT_ID and OPENPOST_TIKTOK_CLIENT_SECRET",
            consent_only=True,
        ),
        PlatformSpec(
            "pinterest",
            "Pinterest",
            "#bd081c",
            "",
            timedelta(hours=48),
            needs="OPENPOST_PINTEREST_CLIENT_ID and OPENPOST_PINTEREST_CLIENT_SECRET",
            consent_only=True,
        ),
    )
}


def spec_for(platform: str) -> PlatformSpec:
    """The spec of a stored platform code (every ``Platform`` value has one)."""
    return SPECS[platform]


def label(platform: str) -> str:
    """What people read for a platform code: ``twitter`` → ``X``; unknown codes as given."""
    spec = SPECS.get(platform)
    return spec.label if spec else platform
