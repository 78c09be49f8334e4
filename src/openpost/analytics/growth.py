"""Growth per local day, with each reading's change spread over the time it covers (SPEC §9.3).

A reading's change (its value minus the target's reading before it) happened somewhere
between the two readings; for a target's first reading, between the target's publication
(its ``published_at``, else its post's) and the reading. When growth is bucketed by day the
change is spread over that interval in proportion to time: an interval of 10 days gives each
day a tenth, a 24-hour interval that crosses midnight gives each side its hours. A change
that lies within one local day (or a reading taken at the publication instant) stays whole on
that day. A day that received part of a spread-out change is **estimated**: its figure is an
apportionment, not a measurement.

Rounding: a change ``D`` over an interval of length ``T`` gives the day that ends ``t`` into
the interval the cumulative share ``floor(D * t / T)`` (integer arithmetic on microseconds),
minus what the days before it got. The shares of a reading add up to ``D`` exactly (its last
day ends at ``t = T``), each within 1 of the exact proportion; parts of an interval outside
the requested days are left out (they are growth of other days). A metric a reading does not
report (``None`` on either side) adds nothing, and a day nothing reported for stays ``None``.

The database does the common case: readings whose interval lies within one day are summed
per day and platform in SQL. Only readings whose interval crosses a day boundary (or the
range's edge) come to Python, one row each, to be spread.

API: ``GET /v1/analytics`` lists every snapshot with ``post_target_id``, ``platform`` and
``captured_at``, ``GET /v1/posts`` each target's ``published_at``; pair each target's
consecutive readings and apply the rule above.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import BigInteger, and_, case, cast, func, or_, select
from sqlalchemy.orm import Session

from openpost.analytics.arithmetic import totals
from openpost.analytics.models import METRICS, Snapshot
from openpost.analytics.overview import Scope, bucket_index, in_scope, local_day_starts, published
from openpost.integrations.models import Integration
from openpost.integrations.service import find_integration
from openpost.posts.models import PostTarget
from openpost.workspaces.service import get_workspace

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
"""The start of an "every post" scope: any publication time counts."""

_MICRO = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class DailySeries:
    days: list[str]
    """ISO dates (``2026-03-29``) of the workspace's local days, oldest first."""
    platforms: list[str]
    """Platforms with at least one target in scope, sorted."""
    values: dict[str, dict[str, list[int | None]]]
    """``values[metric][platform][i]``: that platform's growth on day ``i``."""
    totals: dict[str, list[int | None]]
    """``totals[metric][i]``: the sum over platforms (``None`` where none reported)."""
    estimated: dict[str, list[bool]]
    """``estimated[platform][i]``: day ``i`` of that platform holds spread-out change."""
    estimated_days: list[bool]
    """``estimated_days[i]``: day ``i`` holds spread-out change on any platform."""

    def range_growth(self) -> dict[str, int | None]:
        """Per metric, the growth over all the days (``None`` if no day reports it)."""
        return totals({m: self.totals[m][i] for m in METRICS} for i in range(len(self.days)))


def spread(
    change: int, start: datetime, end: datetime, bounds: Sequence[datetime]
) -> dict[int, int]:
    """``change`` over ``(start, end]`` apportioned to the days ``bounds[i]..bounds[i+1]``.

    Returns ``{day index: share}`` for the days the interval overlaps (see the module docs
    for the rounding). An empty or reversed interval is a change at ``end``.
    """
    total = (end - start) // _MICRO
    last = len(bounds) - 1
    if total <= 0:
        for i in range(last):
            if bounds[i] <= end < bounds[i + 1]:
                return {i: change}
        return {}
    shares: dict[int, int] = {}
    for i in range(last):
        left, right = max(start, bounds[i]), min(end, bounds[i + 1])
        if right <= left:
            continue
        before = (left - start) // _MICRO
        through = (right - start) // _MICRO
        shares[i] = change * through // total - change * before // total
    return shares


def _days_touched(start: datetime, end: datetime, bounds: Sequence[datetime]) -> int:
    """How many days (inside the bounds or outside them) ``(start, end]`` overlaps."""
    if end <= start:
        return 1
    inside = sum(
        1 for i in range(len(bounds) - 1) if min(end, bounds[i + 1]) > max(start, bounds[i])
    )
    return inside + (start < bounds[0]) + (end > bounds[-1])


def daily_series(
    session: Session, scope: Scope, days: Sequence[date], timezone: str
) -> DailySeries:
    """Per local day and platform, how much each metric of the targets in ``scope`` grew,
    each reading's change spread over the time since the reading before it (module docs).

    ``days`` are consecutive local dates of the workspace's ``timezone``. For "what
    happened in the range" pass a scope starting at ``EARLIEST``: every post, whenever it
    was published.
    """
    if not days:
        raise ValueError("days must not be empty")
    bounds = local_day_starts(timezone, days[0], days[-1])
    first, last = bounds[0], bounds[-1]
    cohort = in_scope(
        select(
            PostTarget.id.label("target_id"),
            Integration.platform,
            published().label("published"),
        ).select_from(PostTarget),
        scope,
    ).subquery("cohort")
    order = (Snapshot.captured_at, Snapshot.id)

    def before(column: Any) -> Any:
        return func.lag(column).over(partition_by=Snapshot.post_target_id, order_by=order)

    paired = (
        select(
            Snapshot.post_target_id,
            Snapshot.captured_at.label("end"),
            func.coalesce(
                before(Snapshot.captured_at), cohort.c.published, Snapshot.captured_at
            ).label("start"),
            cohort.c.platform,
            *(
                case(
                    (before(Snapshot.id).is_(None), getattr(Snapshot, m)),
                    else_=getattr(Snapshot, m) - before(getattr(Snapshot, m)),
                ).label(m)
                for m in METRICS
            ),
        )
        .join(cohort, cohort.c.target_id == Snapshot.post_target_id)
        .where(Snapshot.workspace_id == scope.workspace_id)
        .subquery("paired")
    )
    start, end = paired.c.start, paired.c.end
    end_day = bucket_index(end, bounds)
    within_one_day = and_(
        end < last,
        or_(start >= end, and_(start >= first, bucket_index(start, bounds) == end_day)),
    )
    classified = (
        select(
            paired.c.platform,
            case((within_one_day, end_day)).label("day"),
            # Spread readings stay one row each (rounding is per reading).
            case((~within_one_day, paired.c.post_target_id)).label("spread_target"),
            case((~within_one_day, start)).label("spread_start"),
            case((~within_one_day, end)).label("spread_end"),
            *(paired.c[m] for m in METRICS),
        )
        .where(end >= first, start < last)
        .subquery("classified")
    )
    keys = (
        classified.c.platform,
        classified.c.day,
        classified.c.spread_target,
        classified.c.spread_start,
        classified.c.spread_end,
    )
    rows = session.execute(
        select(
            *keys,
            # PostgreSQL sums BIGINT into NUMERIC; these sums are whole numbers.
            *(cast(func.sum(classified.c[m]), BigInteger).label(m) for m in METRICS),
        ).group_by(*keys)
    ).all()
    platforms = sorted(
        set(session.scalars(select(cohort.c.platform).distinct())) | {row.platform for row in rows}
    )
    n = len(bounds) - 1
    values: dict[str, dict[str, list[int | None]]] = {
        m: {p: [None] * n for p in platforms} for m in METRICS
    }
    estimated = {p: [False] * n for p in platforms}

    def add(metric: str, platform: str, day: int, amount: int) -> None:
        slot = values[metric][platform]
        current = slot[day]
        slot[day] = amount if current is None else current + amount

    for row in rows:
        if row.day is not None:
            for m in METRICS:
                if getattr(row, m) is not None:
                    add(m, row.platform, row.day, getattr(row, m))
            continue
        a, b = row.spread_start, row.spread_end
        several = _days_touched(a, b, bounds) > 1
        for m in METRICS:
            change = getattr(row, m)
            if change is None:
                continue
            for day, share in spread(change, a, b, bounds).items():
                add(m, row.platform, day, share)
                if several:
                    estimated[row.platform][day] = True
    series_totals = {
        m: [totals({m: values[m][p][i]} for p in platforms)[m] for i in range(n)] for m in METRICS
    }
    return DailySeries(
        days=[day.isoformat() for day in days],
        platforms=platforms,
        values=values,
        totals=series_totals,
        estimated=estimated,
        estimated_days=[any(estimated[p][i] for p in platforms) for i in range(n)],
    )


def growth_per_day(
    session: Session,
    workspace_id: uuid.UUID,
    *,
    now: datetime,
    days: int = 30,
    integration_id: uuid.UUID | None = None,
) -> dict[str, Any]:
    """``GET /v1/analytics/growth``: every post's growth per local day of the workspace's
    timezone, over the last ``days`` days (today included), by platform.

    Each day: the four metrics (``null`` when nothing reported), ``estimated`` (SPEC §9.3)
    and ``platforms`` (the same per platform). ``totals`` adds the days up.
    """
    if integration_id is not None:
        find_integration(session, workspace_id, integration_id)  # 404 unless the caller's
    timezone = get_workspace(session, workspace_id).timezone
    today = now.astimezone(ZoneInfo(timezone)).date()
    dates = [today - timedelta(days=days - 1 - i) for i in range(days)]
    end = local_day_starts(timezone, today, today)[-1]
    scope = Scope(workspace_id, EARLIEST, end, integration_id=integration_id)
    series = daily_series(session, scope, dates, timezone)
    buckets = []
    for i, day in enumerate(series.days):
        buckets.append(
            {
                "date": day,
                **{m: series.totals[m][i] for m in METRICS},
                "estimated": series.estimated_days[i],
                "platforms": {
                    p: {
                        **{m: series.values[m][p][i] for m in METRICS},
                        "estimated": series.estimated[p][i],
                    }
                    for p in series.platforms
                },
            }
        )
    return {
        "timezone": timezone,
        "totals": series.range_growth(),
        "estimated": any(series.estimated_days),
        "days": buckets,
    }
