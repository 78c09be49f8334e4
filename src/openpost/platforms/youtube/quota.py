"""YouTube Data API quota arithmetic: what calls cost and when the day's quota comes back.

Facts (``reference/platform-apis.md`` §8): every ``list`` call OpenPost makes
(``channels.list``, ``playlistItems.list``, ``videos.list``) costs **1 unit**, whatever the
number of ids or parts; a project has 10,000 units a day by default; the day is a
**Pacific** day: the quota comes back at midnight in America/Los_Angeles, which is 08:00
UTC in winter (PST) and 07:00 UTC in summer (PDT), and a day is 23 or 25 hours long on the
days the clocks change.

These are pure functions (``now`` is always given) so the planner's daily budget, the status
page and the tests share one definition. ``QuotaMeter`` counts one client's own calls by
Pacific day; the budget shared by every worker lives in the database (``refresh``).
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

PACIFIC = ZoneInfo("America/Los_Angeles")
UNITS_PER_CALL = 1  # channels.list, playlistItems.list and videos.list alike
IDS_PER_CALL = 50  # videos.list ids and playlistItems.list maxResults
DEFAULT_DAILY_UNITS = 10_000


def quota_day(now: datetime) -> date:
    """The Pacific calendar day ``now`` falls in: the day whose quota ``now`` spends."""
    return _aware(now).astimezone(PACIFIC).date()


def quota_day_start(now: datetime) -> datetime:
    """When the quota day of ``now`` began (UTC)."""
    start = datetime.combine(quota_day(now), time(0), tzinfo=PACIFIC)
    return start.astimezone(UTC)


def next_quota_reset(now: datetime) -> datetime:
    """The next Pacific midnight after ``now`` (UTC): when a spent quota comes back.

    Midnight never falls into a clock change in Los Angeles (the clocks move at 02:00), so
    the next day's midnight always exists exactly once.
    """
    following = quota_day(now) + timedelta(days=1)
    return datetime.combine(following, time(0), tzinfo=PACIFIC).astimezone(UTC)


def quota_cost(calls: int) -> int:
    """Units that ``calls`` list calls cost."""
    if calls < 0:
        raise ValueError("calls cannot be negative")
    return calls * UNITS_PER_CALL


def units_for(n_ids: int, batch_size: int = IDS_PER_CALL) -> int:
    """Units to read the counters of ``n_ids`` videos in batches of ``batch_size``:
    ⌈n_ids / batch_size⌉ ``videos.list`` calls."""
    if n_ids < 0:
        raise ValueError("n_ids cannot be negative")
    if not 1 <= batch_size <= IDS_PER_CALL:
        raise ValueError(f"a videos.list call carries 1 to {IDS_PER_CALL} ids")
    return quota_cost(math.ceil(n_ids / batch_size))


def discovery_units(limit: int) -> int:
    """The most units one discovery of at most ``limit`` videos costs when every item is
    new: a ``playlistItems.list`` page and a ``videos.list`` call per 50 videos. (A lookup of
    the channel's real uploads playlist adds one unit in the rare case the derived one is
    not found.)"""
    if limit < 0:
        raise ValueError("limit cannot be negative")
    return 2 * units_for(limit)


@dataclass(frozen=True, slots=True)
class QuotaState:
    """A client's own quota use on one Pacific day.

    ``units_spent`` counts the calls this client sent today (answered or not, except the
    answers Google does not charge: a spent quota and a refused key). ``exhausted`` says a
    ``quotaExceeded`` answer was seen today. ``units_left`` is ``daily_units - units_spent``
    (this client's view only: other workers spend the same project's quota).
    """

    day: date
    units_spent: int
    daily_units: int
    resets_at: datetime
    exhausted: bool

    @property
    def units_left(self) -> int:
        return 0 if self.exhausted else max(self.daily_units - self.units_spent, 0)


class QuotaMeter:
    """Counts units by Pacific day (thread-safe); a new day starts from zero."""

    def __init__(self, daily_units: int = DEFAULT_DAILY_UNITS) -> None:
        if daily_units < 1:
            raise ValueError("daily_units must be at least 1")
        self.daily_units = daily_units
        self._day: date | None = None
        self._spent = 0
        self._exhausted = False
        self._lock = threading.Lock()

    def spend(self, now: datetime, units: int = UNITS_PER_CALL) -> None:
        with self._lock:
            self._roll(now)
            self._spent = max(self._spent + units, 0)

    def refund(self, now: datetime, units: int = UNITS_PER_CALL) -> None:
        """Give back units for an answer Google does not charge (spent quota, bad key)."""
        self.spend(now, -units)

    def mark_exhausted(self, now: datetime) -> None:
        with self._lock:
            self._roll(now)
            self._exhausted = True

    def state(self, now: datetime) -> QuotaState:
        with self._lock:
            self._roll(now)
            return QuotaState(
                day=quota_day(now),
                units_spent=self._spent,
                daily_units=self.daily_units,
                resets_at=next_quota_reset(now),
                exhausted=self._exhausted,
            )

    def _roll(self, now: datetime) -> None:
        day = quota_day(now)
        if day != self._day:
            self._day, self._spent, self._exhausted = day, 0, False


def _aware(now: datetime) -> datetime:
    if now.tzinfo is None:
        raise ValueError("quota times must be timezone-aware")
    return now
