"""Daily budgets: what each platform lets the service spend per day, in its own unit and day.

A platform's spec says how its day is counted (``PlatformSpec.budget``, a
``DailyBudgetRule``), for example:

- **X** bills each post read, once per UTC day per post: a post already read today costs
  nothing more. The unit is *posts*, the day a UTC day, the limit
  ``OPENPOST_X_DAILY_READ_BUDGET`` (0: no budget).
- **YouTube** charges one quota unit per call, whatever the number of ids in it; every call
  counts, including a re-read. The unit is *quota units*, the day a Pacific day (the quota
  comes back at midnight America/Los_Angeles), the limit
  ``OPENPOST_YOUTUBE_DAILY_QUOTA_UNITS``.
- **LinkedIn** limits calls per UTC day, per app and per member. The unit is *quota units*
  (one call each): a page's batch costs one, but a member's post costs one per metric
  whatever its batch (the rule's ``post_units``), and each owner's token has a day of its own
  (``credential_limit``), counted on its ``<credential key>/budget`` row; the planner keeps
  the tighter of the two.

A platform whose spec names no budget is counted in posts per UTC day with no limit, so the
status page can say how much was read. The count lives in the platform's
``platform_states`` row (``refresh.ratestate``), shared by every worker; the planner charges
a batch when it claims it, discovery when it has read.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime

from openpost.config import Settings
from openpost.platforms.spec import DailyBudgetRule, Unit, posts_per_utc_day
from openpost.platforms.specs import SPECS

_UNLIMITED = posts_per_utc_day(lambda _settings: 0)


@dataclass(frozen=True, slots=True)
class DailyBudget:
    """How one platform's day is counted and how much of it there is (``limit`` 0: none)."""

    platform: str  # or, for one credential's own day, its row key (``credential_row``)
    rule: DailyBudgetRule
    limit: int
    settings: Settings | None = field(default=None, compare=False, repr=False)  # for hooks

    @classmethod
    def of(cls, platform: str, limit: int, settings: Settings | None = None) -> DailyBudget:
        """The platform's budget rule with ``limit`` (whatever the settings say)."""
        return cls(platform, _rule(platform), limit, settings)

    @property
    def unit(self) -> Unit:
        return self.rule.unit

    @property
    def per_call(self) -> bool:
        """Calls are charged, not posts (YouTube's quota)."""
        return self.rule.unit == "quota_units"

    @property
    def limited(self) -> bool:
        return self.limit > 0

    def day(self, now: datetime) -> date:
        """The budget day ``now`` spends, in the platform's own zone."""
        return self.rule.day_of(now)

    def resets_at(self, now: datetime) -> datetime:
        """When the budget of ``now``'s day comes back."""
        return self.rule.resets_at(now)

    def billable(self, last_success_at: datetime | None, now: datetime) -> bool:
        """Whether reading a post now costs anything: a post budget bills a post once per
        day; every call of a quota costs."""
        if self.per_call or last_success_at is None:
            return True
        return self.day(last_success_at) != self.day(now)

    def post_units(self, username: str) -> int | None:
        """Units one read of a post of that account costs whatever its batch (LinkedIn's
        member analytics: one call per metric), or ``None`` for the unit's arithmetic."""
        hook = self.rule.post_units
        return hook(self.settings, username) if hook is not None and self.settings else None

    def cost(self, billable_posts: int, batch_size: int, username: str = "") -> int:
        """What reading ``billable_posts`` posts of that account costs, in batches of
        ``batch_size``."""
        each = self.post_units(username)
        if each is not None:
            return billable_posts * each
        if self.per_call:
            return math.ceil(billable_posts / batch_size) if billable_posts > 0 else 0
        return billable_posts

    def capacity(self, left: int, batch_size: int, username: str = "") -> int:
        """The most billable posts of that account that ``left`` units pay for."""
        each = self.post_units(username)
        if each is not None:
            return left // each if each > 0 else 1 << 30
        return left * batch_size if self.per_call else left

    @property
    def per_credential(self) -> bool:
        """Each credential has a daily limit of its own besides the platform's."""
        return self.settings is not None and self.rule.credential_limit(self.settings) > 0

    def for_credential(self, key: str) -> DailyBudget | None:
        """The day of one credential key (its own ``platform_states`` row, the same unit
        and day as the platform's), when the platform budgets every credential."""
        if not self.per_credential:
            return None
        assert self.settings is not None
        limit = self.rule.credential_limit(self.settings)
        return DailyBudget(credential_row(key), self.rule, limit, self.settings)

    def discovery_cost(self, posts: int, calls: int) -> int:
        """What a discovery that read ``posts`` posts in ``calls`` calls cost."""
        return calls if self.per_call else posts

    def discovery_reserve(self, limit: int) -> int:
        """Units a discovery must find left before it runs: its full cost on YouTube (a
        playlist page and a statistics call per 50 videos), one post on X (a discovery
        may overrun the budget by the rest of its page: X returns what it has)."""
        return self.rule.discovery_reserve(limit)


def budget_for(settings: Settings, platform: str) -> DailyBudget:
    """The daily budget of a live platform."""
    rule = _rule(platform)
    return DailyBudget(platform, rule, rule.limit(settings), settings)


def credential_row(key: str) -> str:
    """The ``platform_states`` row counting one credential key's own day."""
    return f"{key}/budget"


def _rule(platform: str) -> DailyBudgetRule:
    spec = SPECS.get(platform)
    return spec.budget if spec is not None and spec.budget is not None else _UNLIMITED
