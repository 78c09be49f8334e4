"""Threads: connected only with its owner's consent, through the operator's approved app
(no client yet: accounts are listed as needing the operator's app credentials)."""

from __future__ import annotations

from datetime import timedelta

from openpost.platforms.spec import PlatformSpec
from openpost.platforms.threads.urls import URLS

SPEC = PlatformSpec(
    name="threads",
    label="Threads",
    colour="#7a7a7a",
    settle_time=timedelta(hours=48),  # Meta's insights settle for up to 48 hours.
    urls=URLS,
    needs=(
        "OPENPOST_META_APP_ID and OPENPOST_META_APP_SECRET (or OPENPOST_THREADS_CLIENT_ID and "
        "OPENPOST_THREADS_CLIENT_SECRET)"
    ),
    consent_only=True,
)
