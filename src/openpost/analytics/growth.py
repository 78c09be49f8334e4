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
range's edge) come to Python, one row each, to be spread. Only the readings from the range's
first day on are paired, with each target's last reading before it (one index lookup per
target), never the whole history.

API: ``GET /v1/analytics`` lists every snapshot with ``post_target_id``, ``platform`` and
``captured_at``, ``GET /v1/posts`` each target's ``published_at``; pair each target's
consecutive readings and apply the rule above.
"""

from __future__ import annotations

import uuid
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import BigInteger, and_, case, cast, func, or_, select, union_all
from sqlalchemy.orm import Session, aliased

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


Pieces = tuple[list[tuple[int, int, int]], int]
"""``([(day index, microseconds before the day's part, through its end)], interval length)``."""


def _pieces(start: datetime, end: datetime, bounds: Sequence[datetime]) -> tuple[Pieces, bool]:
    """How ``(start, end]`` falls on the days ``bounds[i]..bounds[i+1]``, and whether it
    overlaps more than one day (counting those outside the bounds)."""
    total = (end - start) // _MICRO
    last = len(bounds) - 1
    if total <= 0:  # a change at one instant: the day holding ``end``
        i = bisect_right(bounds, end) - 1
        return ([(i, 0, 0)] if 0 <= i < last else [], 0), False
    lo = max(bisect_right(bounds, start) - 1, 0)
    hi = min(bisect_left(bounds, end), last)
    parts = []
    for i in range(lo, hi):
        left, right = max(start, bounds[i]), min(end, bounds[i + 1])
        if right > left:
            parts.append((i, (left - start) // _MICRO, (right - start) // _MICRO))
    touched = len(parts) + (start < bounds[0]) + (end > bounds[-1])
    return (parts, total), touched > 1


def _shares(change: int, pieces: Pieces) -> dict[int, int]:
    parts, total = pieces
    if total == 0:
        return {i: change for i, _, _ in parts}
    return {i: change * through // total - change * before // total for i, before, through in parts}


def spread(
    change: int, start: datetime, end: datetime, bounds: Sequence[datetime]
) -> dict[int, int]:
    """``change`` over ``(start, end]`` apportioned to the days ``bounds[i]..bounds[i+1]``.

    Returns ``{day index: share}`` for the days the interval overlaps (see the module docs
    for the rounding). An empty or reversed interval is a change at ``end``.
    """
    pieces, _ = _pieces(start, end, bounds)
    return _shares(change, pieces)


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
    # The readings the range needs: those captured from its first day on, and each
    # target's last one before it (the "reading before" of its first one in the range),
    # found through the target/time index instead of windowing the whole history.
    earlier = aliased(Snapshot, name="earlier")
    last_before = (
        select(earlier.id)
        .where(
            earlier.post_target_id == cohort.c.target_id,
            earlier.workspace_id == scope.workspace_id,
            earlier.captured_at < first,
        )
        .order_by(earlier.captured_at.desc(), earlier.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    reading_columns = (
        Snapshot.id,
        Snapshot.post_target_id,
        Snapshot.captured_at,
        *(getattr(Snapshot, m) for m in METRICS),
    )
    readings = union_all(
        select(*reading_columns)
        .join(cohort, cohort.c.target_id == Snapshot.post_target_id)
        .where(Snapshot.workspace_id == scope.workspace_id, Snapshot.captured_at >= first),
        select(*reading_columns).where(
            Snapshot.workspace_id == scope.workspace_id,
            Snapshot.id.in_(select(last_before).select_from(cohort)),
        ),
    ).subquery("readings")
    order = (readings.c.captured_at, readings.c.id)

    def before(column: Any) -> Any:
        return func.lag(column).over(partition_by=readings.c.post_target_id, order_by=order)

    paired = (
        select(
            readings.c.post_target_id,
            readings.c.captured_at.label("end"),
            func.coalesce(
                before(readings.c.captured_at), cohort.c.published, readings.c.captured_at
            ).label("start"),
            cohort.c.platform,
            *(
                case(
                    (before(readings.c.id).is_(None), readings.c[m]),
                    else_=readings.c[m] - before(readings.c[m]),
                ).label(m)
                for m in METRICS
            ),
        )
        .join(cohort, cohort.c.target_id == readings.c.post_target_id)
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
        classified.c.spread_start,
        classified.c.spread_end,
    )
    rows = session.execute(
        select(
            *keys,
            # PostgreSQL sums BIGINT into NUMERIC; these sums are whole numbers.
            *(cast(func.sum(classified.c[m]), BigInteger).label(m) for m in METRICS),
        ).group_by(*keys, classified.c.spread_target)  # the target: a key, never read
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
        pieces, several = _pieces(row.spread_start, row.spread_end, bounds)
        for m in METRICS:
            change = getattr(row, m)
            if change is None:
                continue
            for day, share in _shares(change, pieces).items():
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
