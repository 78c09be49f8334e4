"""Facebook: connected only with its owner's consent, through the operator's approved app
(no client yet: accounts are listed as needing the operator's app credentials)."""

from __future__ import annotations

from datetime import timedelta

from openpost.platforms.facebook.urls import URLS
from openpost.platforms.spec import PlatformSpec

SPEC = PlatformSpec(
    name="facebook",
    label="Facebook",
    colour="#1877f2",
    settle_time=timedelta(hours=48),  # Meta's insights settle for up to 48 hours.
    urls=URLS,
    needs=(
        "OPENPOST_META_APP_ID and OPENPOST_META_APP_SECRET (or OPENPOST_FACEBOOK_CLIENT_ID and "
        "OPENPOST_FACEBOOK_CLIENT_SECRET)"
    ),
    consent_only=True,
)
