"""Threads: connected only with its owner's consent, through the operator's Threads app
(App Review for other people's accounts; Threads testers before that). Reads spend the
owner's token: Threads limits each app-user pair over 24 hours."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx

from openpost.config import Settings
from openpost.platforms.consent import UserTokenSource
from openpost.platforms.spec import PlatformSpec, Reader
from openpost.platforms.threads.client import PAGE_MAX, ThreadsClient
from openpost.platforms.threads.oauth import CONSENT, configured
from openpost.platforms.threads.urls import URLS


def _build(
    settings: Settings, transport: httpx.BaseTransport | None, tokens: UserTokenSource | None
) -> ThreadsClient:
    return ThreadsClient.from_settings(settings, transport=transport, user_tokens=tokens)


def _fake() -> Any:
    from openpost.platforms.threads.fake import FakeThreads

    return FakeThreads()


SPEC = PlatformSpec(
    name="threads",
    label="Threads",
    colour="#7a7a7a",
    settle_time=timedelta(hours=48),  # Meta's insights settle for up to 48 hours.
    urls=URLS,
    configured=configured,
    needs=(
        "OPENPOST_THREADS_CLIENT_ID and OPENPOST_THREADS_CLIENT_SECRET (or OPENPOST_META_APP_ID "
        "and OPENPOST_META_APP_SECRET), and OPENPOST_PUBLIC_BASE_URL"
    ),
    consent_only=True,
    reader=Reader(
        build=_build,
        # One insights call per post (no multi-post insights): a batch is a unit of work.
        batch_size=lambda _settings: ThreadsClient.batch_size,
        discovery_limit=lambda _settings: PAGE_MAX,
    ),
    fake=_fake,
    consent=CONSENT,
)
