"""LinkedIn: connected only with its owner's consent, through the operator's approved app
(no client yet: accounts are listed as needing the operator's app credentials)."""

from __future__ import annotations

from datetime import timedelta

from openpost.platforms.linkedin.urls import URLS
from openpost.platforms.spec import PlatformSpec

SPEC = PlatformSpec(
    name="linkedin",
    label="LinkedIn",
    colour="#0a66c2",
    settle_time=timedelta(hours=48),  # Share statistics settle over the first two days.
    urls=URLS,
    needs="OPENPOST_LINKEDIN_CLIENT_ID and OPENPOST_LINKEDIN_CLIENT_SECRET",
    consent_only=True,
)
