"""Pinterest: connected only with its owner's consent, through the operator's approved app
(no client yet: accounts are listed as needing the operator's app credentials)."""

from __future__ import annotations

from datetime import timedelta

from openpost.platforms.pinterest.urls import URLS
from openpost.platforms.spec import PlatformSpec

SPEC = PlatformSpec(
    name="pinterest",
    label="Pinterest",
    colour="#bd081c",
    settle_time=timedelta(hours=48),  # Pin analytics settle over the first two days.
    urls=URLS,
    needs="OPENPOST_PINTEREST_CLIENT_ID and OPENPOST_PINTEREST_CLIENT_SECRET",
    consent_only=True,
)
