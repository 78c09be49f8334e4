"""LinkedIn: organization pages (Community Management API) and members' own posts (member
post analytics), connected only with their owner's consent through the operator's approved
app. Every read uses the owner's token; the integration's username is its URN.

Budget (``OPENPOST_LINKEDIN_DAILY_APP_CALLS``, ``OPENPOST_LINKEDIN_DAILY_MEMBER_CALLS``):
LinkedIn's limits are calls per UTC day, per app and per member. The unit is therefore
``quota_units`` = one API call: an organization batch costs one call (⌈N/batch⌉ for N due
posts), discovery and follower counts what they called; a member post costs one call per
metric (``post_units``: a member's posts never share a call), and each owner's token has a
day of its own (``credential_limit``) besides the app's. The planner keeps both.
"""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

import httpx

from openpost.config import Settings
from openpost.platforms.consent import UserTokenSource
from openpost.platforms.linkedin.client import PAGE_MAX, LinkedInClient, member_metrics
from openpost.platforms.linkedin.oauth import CONSENT, configured
from openpost.platforms.linkedin.reading import is_member
from openpost.platforms.linkedin.urls import URLS
from openpost.platforms.spec import (
    DailyBudgetRule,
    PlatformSpec,
    Reader,
    utc_day,
    utc_midnight_after,
)


def _build(
    settings: Settings, transport: httpx.BaseTransport | None, tokens: UserTokenSource | None
) -> LinkedInClient:
    return LinkedInClient.from_settings(settings, transport=transport, user_tokens=tokens)


def _fake() -> Any:
    from openpost.platforms.linkedin.fake import FakeLinkedIn

    return FakeLinkedIn()


def _read_credentials(username: str, stored: dict[str, Any] | None) -> dict[str, Any] | None:
    """The owner's tokens and whose posts they read (the URN: a page or the member)."""
    return None if stored is None else {**stored, "author": username}


def post_units(settings: Settings, username: str) -> int | None:
    """A member's post costs one call per metric; a page's posts share calls (``None``)."""
    return len(member_metrics(settings)) if is_member(username) else None


BUDGET = DailyBudgetRule(
    unit="quota_units",
    limit=lambda settings: settings.linkedin_daily_app_calls,
    day_of=utc_day,
    resets_at=utc_midnight_after,
    # A discovery reads pages of up to 100 posts: its pages must be left for it.
    discovery_reserve=lambda limit: max(1, math.ceil(limit / PAGE_MAX)),
    post_units=post_units,
    credential_limit=lambda settings: settings.linkedin_daily_member_calls,
)

SPEC = PlatformSpec(
    name="linkedin",
    label="LinkedIn",
    colour="#0a66c2",
    settle_time=timedelta(hours=48),  # Share statistics settle over the first two days.
    urls=URLS,
    configured=configured,
    needs="OPENPOST_LINKEDIN_CLIENT_ID and OPENPOST_LINKEDIN_CLIENT_SECRET",
    consent_only=True,
    consent=CONSENT,
    reader=Reader(
        build=_build,
        batch_size=lambda settings: settings.linkedin_batch_size,
        discovery_limit=lambda settings: settings.linkedin_max_posts_per_integration,
        read_credentials=_read_credentials,
    ),
    budget=BUDGET,
    fake=_fake,
)
