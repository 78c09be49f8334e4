"""Instagram: connected only with its owner's consent, through the operator's approved app
(no client yet: accounts are listed as needing the operator's app credentials)."""

from __future__ import annotations

from datetime import timedelta

from openpost.platforms.instagram.urls import URLS
from openpost.platforms.spec import PlatformSpec

SPEC = PlatformSpec(
    name="instagram",
    label="Instagram",
    colour="#c13584",
    settle_time=timedelta(hours=48),  # Meta's insights settle for up to 48 hours.
    urls=URLS,
    needs=(
        "OPENPOST_META_APP_ID and OPENPOST_META_APP_SECRET (or OPENPOST_INSTAGRAM_CLIENT_ID and "
        "OPENPOST_INSTAGRAM_CLIENT_SECRET)"
    ),
    consent_only=True,
)
