"""Collection policy built from settings: tiers (SPEC §5.1), platform caps (§5.2), retries.

Platform policy. A platform's spec may cap re-reading (``PlatformSpec.cap``): X's app-wide
bearer token is shared by every workspace, so an X target is refreshed only while it is
among its integration's ``x_max_posts_per_integration`` newest published posts (by
``published_at``) and younger than ``x_freshness_window_hours``; after that it keeps its
last snapshot with outcome ``frozen``. A newly tracked target still gets
its one first reading whatever its age (SPEC §5.1: "a newly tracked target is due at
once"); only re-reads are capped. Synthetic X integrations follow the same policy, so a
test workspace behaves as a live one would.

Retries. Transient failures are retried after ``base · 2^(n-1)`` (capped), with "equal
jitter": a random point in the upper half of that delay, so workers that failed together
do not come back together.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from openpost.config import Settings
from openpost.platforms.spec import PostCap as PlatformCap
from openpost.platforms.specs import SPECS
from openpost.refresh.tiers import Tier, TierPolicy, next_due_at, tier_for
from openpost.webhooks.outperforming import DEFAULT_RULE, Rule

TIER_ORDER = {Tier.fresh: 0, Tier.recent: 1, Tier.long_tail: 2, Tier.frozen: 3}
UNSUPPORTED_RECHECK = timedelta(hours=24)
PERMISSION_PROBE = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class CollectionPolicy:
    tiers: TierPolicy
    caps: dict[str, PlatformCap]
    retry_base: timedelta
    retry_max: timedelta
    lease: timedelta
    discovery_interval: timedelta
    discovery_limit: int = 50  # platforms without a setting of their own
    failed_after: int = 5  # failures in a row that fire collection.failed (SPEC §9.7)
    outperforming: Rule = DEFAULT_RULE  # post.outperforming (SPEC §9.7)

    @classmethod
    def from_settings(cls, settings: Settings) -> CollectionPolicy:
        tiers = TierPolicy(
            fresh_until=timedelta(hours=settings.tier_fresh_hours),
            recent_until=timedelta(days=settings.tier_recent_days),
            long_tail_until=timedelta(days=settings.tier_long_tail_days),
            fresh_every=timedelta(minutes=settings.refresh_fresh_minutes),
            recent_every=timedelta(hours=settings.refresh_recent_hours),
            long_tail_every=timedelta(hours=settings.refresh_long_tail_hours),
        )
        return cls(
            tiers=tiers,
            caps={name: spec.cap(settings) for name, spec in SPECS.items() if spec.cap},
            retry_base=timedelta(seconds=settings.retry_base_seconds),
            retry_max=timedelta(
                seconds=max(settings.retry_max_seconds, settings.retry_base_seconds)
            ),
            lease=timedelta(seconds=settings.capture_lease_seconds),
            discovery_interval=timedelta(minutes=settings.discovery_interval_minutes),
            failed_after=settings.collection_failed_after,
            outperforming=Rule(
                multiple=settings.outperforming_multiple,
                min_posts=settings.outperforming_min_posts,
            ),
        )

    def refreshable(
        self, platform: str, published_at: datetime, now: datetime, rank: int | None
    ) -> bool:
        """Whether the platform's cap still allows re-reading a target (``rank``: 1 = the
        integration's newest published post; ``None`` when unknown)."""
        cap = self.caps.get(platform)
        if cap is None:
            return True
        if now - published_at >= cap.window:
            return False
        return rank is None or rank <= cap.max_posts

    def next_due(
        self, platform: str, published_at: datetime, attempt_at: datetime
    ) -> datetime | None:
        """When a target read at ``attempt_at`` is next due; ``None`` once it is frozen (its
        tier, or its platform's freshness window, allows no further reading)."""
        due = next_due_at(published_at, attempt_at, self.tiers)
        cap = self.caps.get(platform)
        if due is not None and cap is not None and due >= published_at + cap.window:
            return None
        return due

    def tier_rank(self, published_at: datetime, now: datetime) -> int:
        return TIER_ORDER[tier_for(now - published_at, self.tiers)]

    def backoff(self, failures: int, rng: random.Random | None = None) -> timedelta:
        """The delay before retry number ``failures`` (1 = first retry), jittered."""
        exponent = min(max(failures, 1) - 1, 30)
        delay = min(self.retry_max, self.retry_base * (2**exponent))
        spread = (rng or _rng).uniform(0.5, 1.0)
        return timedelta(seconds=round(delay.total_seconds() * spread))

    def jitter(self, moment: datetime, rng: random.Random | None = None) -> datetime:
        """``moment`` plus up to 30 s, so that paused work does not all resume at once."""
        return moment + timedelta(seconds=(rng or _rng).randint(0, 30))


_rng = random.Random()  # noqa: S311 - retry jitter needs spread, not secrecy
