"""The refresh tiers (SPEC §5.1): how often a target is re-read, by its age. Pure policy.

| tier      | age           | refresh every |
|-----------|---------------|---------------|
| fresh     | [0, 24 h)     | 30 min        |
| recent    | [24 h, 7 d)   | 6 h           |
| long-tail | [7 d, 90 d)   | 24 h          |
| frozen    | ≥ 90 d        | never         |

Age is ``now - published_at``; lower bounds are inclusive, upper bounds exclusive.

Decisions the table leaves open:

- **Negative age** (``published_at`` after ``now``: clock skew, or a platform stamping a
  post slightly ahead) counts as age 0, i.e. ``fresh``. A reading then simply shows zeros.
- **Never attempted** targets are due at once, whatever their age, frozen included: a
  target tracked at 120 days old gets one baseline reading and is then left alone.
  ``next_due_at(published_at, None)`` is ``published_at`` (due since publication).
- **Due** follows the spec literally: ``now ≥ last attempt + interval(tier at now)``. The
  tier is the one in force *now*, not at the last attempt, so crossing a bound lengthens
  the wait: a target read at 23 h 40 min is next due at 29 h 40 min, not at 24 h 10 min.
  ``next_due_at`` is the first instant at which ``is_due`` holds.
- ``capture_schedule`` is what a perfectly punctual collector obeying ``is_due`` records:
  the first reading at publication, then each reading at ``next_due_at`` of the one
  before, up to and including ``until``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class Tier(StrEnum):
    fresh = "fresh"
    recent = "recent"
    long_tail = "long-tail"
    frozen = "frozen"


@dataclass(frozen=True, slots=True)
class TierPolicy:
    """Tier bounds (upper, exclusive) and refresh intervals. Defaults are SPEC §5.1."""

    fresh_until: timedelta = timedelta(hours=24)
    recent_until: timedelta = timedelta(days=7)
    long_tail_until: timedelta = timedelta(days=90)
    fresh_every: timedelta = timedelta(minutes=30)
    recent_every: timedelta = timedelta(hours=6)
    long_tail_every: timedelta = timedelta(hours=24)

    def __post_init__(self) -> None:
        if not timedelta(0) < self.fresh_until < self.recent_until < self.long_tail_until:
            raise ValueError("tier bounds must be positive and strictly increasing")
        if min(self.fresh_every, self.recent_every, self.long_tail_every) <= timedelta(0):
            raise ValueError("refresh intervals must be positive")

    def bounds(self, tier: Tier) -> tuple[timedelta | None, timedelta | None]:
        """The ages ``[low, high)`` of ``tier``; ``None`` means unbounded on that side."""
        return {
            Tier.fresh: (None, self.fresh_until),
            Tier.recent: (self.fresh_until, self.recent_until),
            Tier.long_tail: (self.recent_until, self.long_tail_until),
            Tier.frozen: (self.long_tail_until, None),
        }[tier]

    def interval(self, tier: Tier) -> timedelta | None:
        """How often ``tier`` is refreshed; ``None`` for frozen (never)."""
        return {
            Tier.fresh: self.fresh_every,
            Tier.recent: self.recent_every,
            Tier.long_tail: self.long_tail_every,
            Tier.frozen: None,
        }[tier]


DEFAULT_POLICY = TierPolicy()

_ORDER = (Tier.fresh, Tier.recent, Tier.long_tail, Tier.frozen)


def tier_for(age: timedelta, policy: TierPolicy = DEFAULT_POLICY) -> Tier:
    """The tier of a target of this age (a negative age counts as fresh)."""
    if age < policy.fresh_until:
        return Tier.fresh
    if age < policy.recent_until:
        return Tier.recent
    if age < policy.long_tail_until:
        return Tier.long_tail
    return Tier.frozen


def interval_for(age: timedelta, policy: TierPolicy = DEFAULT_POLICY) -> timedelta | None:
    """The refresh interval at this age; ``None`` when frozen."""
    return policy.interval(tier_for(age, policy))


def is_due(
    published_at: datetime,
    last_attempt_at: datetime | None,
    now: datetime,
    policy: TierPolicy = DEFAULT_POLICY,
) -> bool:
    """Whether the target should be read at ``now``."""
    if last_attempt_at is None:
        return True
    interval = interval_for(now - published_at, policy)
    return interval is not None and now >= last_attempt_at + interval


def next_due_at(
    published_at: datetime,
    last_attempt_at: datetime | None,
    policy: TierPolicy = DEFAULT_POLICY,
) -> datetime | None:
    """The first instant at which ``is_due`` holds; ``None`` if the target is never due."""
    if last_attempt_at is None:
        return published_at
    for tier in _ORDER:
        interval = policy.interval(tier)
        if interval is None:
            return None
        low, high = policy.bounds(tier)
        candidate = last_attempt_at + interval
        if low is not None:
            candidate = max(candidate, published_at + low)
        if high is None or candidate < published_at + high:
            return candidate
    return None  # pragma: no cover - the frozen tier always ends the loop


def capture_schedule(
    published_at: datetime, until: datetime, policy: TierPolicy = DEFAULT_POLICY
) -> list[datetime]:
    """Reading times of a punctual collector from publication up to ``until`` (inclusive)."""
    times: list[datetime] = []
    moment: datetime | None = published_at
    while moment is not None and moment <= until:
        times.append(moment)
        moment = next_due_at(published_at, moment, policy)
    return times
