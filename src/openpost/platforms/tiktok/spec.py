"""TikTok: connected only with its owner's consent, through the operator's approved app
(no client yet: accounts are listed as needing the operator's app credentials)."""

from __future__ import annotations

from datetime import timedelta

from openpost.platforms.spec import PlatformSpec
from openpost.platforms.tiktok.urls import URLS

SPEC = PlatformSpec(
    name="tiktok",
    label="TikTok",
    colour="#00a7a0",
    settle_time=timedelta(hours=48),  # Video counters settle over the first two days.
    urls=URLS,
    needs="OPENPOST_TIKTOK_CLIENT_ID and OPENPOST_TIKTOK_CLIENT_SECRET",
    consent_only=True,
)
