"""The read side of account snapshots (SPEC §9.4), shared by the API, the export, the
dashboard and the engagement rates (``followers_at``).

Every query is scoped to the caller's workspace. Counters stay ``None`` where the platform
reported none (YouTube's following, a hidden subscriber count): never 0, and a difference
with a ``None`` side is ``None``.
"""

from __future__ import annotations

import uuid
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import Select, select, tuple_, union_all
from sqlalchemy.orm import Session

from openpost.accounts.models import COUNTERS, AccountSnapshot
from openpost.analytics.overview import local_day_starts
from openpost.core.errors import NotFound
from openpost.core.pagination import decode_cursor, encode_cursor
from openpost.core.timefmt import format_time
from openpost.integrations.models import Integration
from openpost.workspaces.service import get_workspace

ROW_COLUMNS = (
    AccountSnapshot.id,
    AccountSnapshot.integration_id,
    Integration.platform,
    Integration.username,
    AccountSnapshot.followers,
    AccountSnapshot.following,
    AccountSnapshot.posts,
    AccountSnapshot.platform_data,
    AccountSnapshot.captured_at,
)


_LAST_ID = uuid.UUID(int=(1 << 128) - 1)


@dataclass(frozen=True, slots=True)
class AccountPage:
    rows: list[dict[str, Any]]
    next_cursor: str | None


def account_row(row: Any) -> dict[str, Any]:
    """The API's account-snapshot object (exactly these keys) from a row of ``ROW_COLUMNS``."""
    return _reading_out(row, row.platform, row.username)


def _integration(
    session: Session,
    workspace_id: uuid.UUID,
    integration_id: uuid.UUID,
    as_of: datetime | None = None,
) -> Any:
    """The integration's platform and username; 404 unless it is the caller's (and, with
    ``as_of``, was connected by then)."""
    found = session.execute(
        select(
            Integration.id, Integration.platform, Integration.username, Integration.created_at
        ).where(Integration.id == integration_id, Integration.workspace_id == workspace_id)
    ).first()
    if found is None or (as_of is not None and found.created_at > as_of):
        raise NotFound("integration not found")
    return found


def _rows_query(workspace_id: uuid.UUID) -> Any:
    return (
        select(*ROW_COLUMNS)
        .join(Integration, Integration.id == AccountSnapshot.integration_id)
        .where(AccountSnapshot.workspace_id == workspace_id)
        .order_by(AccountSnapshot.captured_at.desc(), AccountSnapshot.id.desc())
    )


def list_accounts(
    session: Session,
    workspace_id: uuid.UUID,
    *,
    now: datetime,
    days: int = 30,
    integration_id: uuid.UUID | None = None,
    limit: int = 500,
    cursor: str | None = None,
    as_of: datetime | None = None,
) -> AccountPage:
    """The workspace's account snapshots of the last ``days`` days, newest first, keyset-
    paged as the post snapshots are; ``as_of`` as ``analytics.service.list_snapshots``'."""
    end = now if as_of is None else as_of
    query = _rows_query(workspace_id).where(
        AccountSnapshot.captured_at >= end - timedelta(days=days)
    )
    if integration_id is not None:
        _integration(session, workspace_id, integration_id, as_of)
        query = query.where(AccountSnapshot.integration_id == integration_id)
    if cursor is not None:
        after_time, after_id = decode_cursor(cursor)
        if as_of is not None:  # one keyset bound, as in list_snapshots
            after_time, after_id = min((after_time, after_id), (as_of, _LAST_ID))
        query = query.where(
            tuple_(AccountSnapshot.captured_at, AccountSnapshot.id) < tuple_(after_time, after_id)
        )
    elif as_of is not None:
        query = query.where(AccountSnapshot.captured_at <= as_of)
    rows = session.execute(query.limit(limit + 1)).all()
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor(rows[-1].captured_at, rows[-1].id)
    return AccountPage([account_row(r) for r in rows], next_cursor)


def _diff(a: int | None, b: int | None) -> int | None:
    return None if a is None or b is None else a - b


def change(later: Any, earlier: Any) -> dict[str, int | None]:
    """``later`` - ``earlier`` per counter (``None`` where either is unknown or missing)."""
    return {
        c: _diff(getattr(later, c, None), getattr(earlier, c, None))
        if later is not None and earlier is not None
        else None
        for c in COUNTERS
    }


# The columns of one account's readings; platform and username come from its integration.
READING_COLUMNS = (
    AccountSnapshot.id,
    AccountSnapshot.integration_id,
    AccountSnapshot.followers,
    AccountSnapshot.following,
    AccountSnapshot.posts,
    AccountSnapshot.platform_data,
    AccountSnapshot.captured_at,
)
CHUNK = 100  # integrations per statement


class _History:
    """One account's readings that ``account_details`` asks about, oldest first: every
    reading from ``lower`` on, and before it the two newest readings and the exact answers
    to the lookups it makes there (``_histories``). Because each lookup's answer is present,
    a bisection over this sparse list finds what it would over the full history."""

    def __init__(self, readings: list[Any]) -> None:
        self.readings = readings
        self.times = [r.captured_at for r in readings]

    def last_before(self, at: datetime) -> Any:
        index = bisect_left(self.times, at)
        return self.readings[index - 1] if index > 0 else None

    def first_from(self, at: datetime) -> Any:
        index = bisect_left(self.times, at)
        return self.readings[index] if index < len(self.readings) else None

    def since(self, at: datetime) -> list[Any]:
        return self.readings[bisect_left(self.times, at) :]

    def period(self, start: datetime, end: datetime) -> dict[str, Any]:
        """Growth over ``[start, end)``: the last reading in it minus the last reading before
        it (or, for an account first read inside it, its first reading: ``from_reading`` says
        which)."""
        last = self.last_before(end)
        base = self.last_before(start)
        if base is None and last is not None and last.captured_at >= start:
            base = self.first_from(start)
        if last is not None and last.captured_at < start:
            last = None  # no reading inside the period: nothing measured
        return {
            "since": format_time(start),
            "until": format_time(end),
            **change(last, base),
            "from_reading": format_time(base.captured_at) if base is not None else None,
            "to_reading": format_time(last.captured_at) if last is not None else None,
        }


def _nearest(
    workspace_id: uuid.UUID,
    chunk: Sequence[uuid.UUID],
    at: datetime,
    *,
    side: Literal["before", "through", "from"],
    offset: int = 0,
) -> Select[Any]:
    """The id of each integration's newest reading before ``at`` (``through``: at or
    before it; ``offset`` skips that many newer ones) or (``from``) its oldest from ``at``
    on: one index probe per integration of ``chunk``, NULL where there is none."""
    captured = AccountSnapshot.captured_at
    order: tuple[Any, ...]
    if side == "from":
        when, order = captured >= at, (captured, AccountSnapshot.id)
    else:
        when = captured < at if side == "before" else captured <= at
        order = (captured.desc(), AccountSnapshot.id.desc())
    probe = (
        select(AccountSnapshot.id)
        .where(
            AccountSnapshot.workspace_id == workspace_id,
            AccountSnapshot.integration_id == Integration.id,
            when,
        )
        .order_by(*order)
        .limit(1)
        .offset(offset)
        .scalar_subquery()
    )
    return select(probe).where(Integration.workspace_id == workspace_id, Integration.id.in_(chunk))


def _histories(
    session: Session,
    workspace_id: uuid.UUID,
    ids: Sequence[uuid.UUID],
    lower: datetime,
    lookups: Sequence[datetime],
    upper: datetime | None = None,
) -> dict[uuid.UUID, _History]:
    """Each integration's ``_History``, in two statements per ``CHUNK`` integrations: the
    readings the index probes find (the two newest before ``lower``; at each of ``lookups``
    the newest before it and the oldest from it), then every reading from ``lower`` on
    (through ``upper``, an ``as_of``, when given)."""
    readings: dict[uuid.UUID, list[Any]] = {i: [] for i in ids}
    for start in range(0, len(ids), CHUNK):
        chunk = list(ids[start : start + CHUNK])
        probes = [_nearest(workspace_id, chunk, lower, side="before", offset=n) for n in (0, 1)]
        for at in lookups:
            probes.append(_nearest(workspace_id, chunk, at, side="before"))
            probes.append(_nearest(workspace_id, chunk, at, side="from"))
        earlier = session.execute(
            select(*READING_COLUMNS).where(
                AccountSnapshot.id.in_(union_all(*probes)), AccountSnapshot.captured_at < lower
            )
        ).all()
        for row in sorted(earlier, key=lambda r: (r.captured_at, r.id)):
            readings[row.integration_id].append(row)
        recent = select(*READING_COLUMNS).where(
            AccountSnapshot.workspace_id == workspace_id,
            AccountSnapshot.integration_id.in_(chunk),
            AccountSnapshot.captured_at >= lower,
        )
        if upper is not None:
            recent = recent.where(AccountSnapshot.captured_at <= upper)
        for row in session.execute(
            recent.order_by(AccountSnapshot.captured_at, AccountSnapshot.id)
        ):
            readings[row.integration_id].append(row)
    return {i: _History(rows) for i, rows in readings.items()}


def account_detail(
    session: Session,
    workspace_id: uuid.UUID,
    integration_id: uuid.UUID,
    *,
    now: datetime,
    days: int = 30,
    as_of: datetime | None = None,
) -> dict[str, Any]:
    """Latest values, ``delta`` (latest - previous), ``growth`` per local day of the
    workspace's timezone within ``days`` (today included), this period against the one
    before, and the snapshots of the period, newest first. 404 unless the integration is
    the workspace's. ``as_of`` (SPEC §9.6): the same, as if asked then, from the readings
    captured by then."""
    integration = _integration(session, workspace_id, integration_id, as_of)
    return account_details(session, workspace_id, [integration], now=now, days=days, as_of=as_of)[0]


def account_details(
    session: Session,
    workspace_id: uuid.UUID,
    integrations: Sequence[Any],
    *,
    now: datetime,
    days: int = 30,
    as_of: datetime | None = None,
) -> list[dict[str, Any]]:
    """``account_detail`` of each of ``integrations`` (rows with ``id``, ``platform`` and
    ``username``, already the workspace's), in their order, in a fixed number of statements
    per hundred accounts: the dashboard's Accounts page shows fifty at once."""
    if as_of is not None:
        now = as_of
    timezone = get_workspace(session, workspace_id).timezone
    today = now.astimezone(ZoneInfo(timezone)).date()
    dates = [today - timedelta(days=days - 1 - i) for i in range(days)]
    starts = local_day_starts(timezone, dates[0], dates[-1])
    period_start = now - timedelta(days=days)
    previous_start = period_start - timedelta(days=days)
    histories = _histories(
        session,
        workspace_id,
        [i.id for i in integrations],
        min(starts[0], period_start),
        [previous_start],
        upper=as_of,
    )
    out = []
    for integration in integrations:
        history = histories[integration.id]
        latest = history.readings[-1] if history.readings else None
        previous = history.readings[-2] if len(history.readings) > 1 else None
        shown = history.since(starts[0])
        growth = _growth(dates, starts, shown, history.last_before(starts[0]))
        out.append(
            {
                "integration_id": str(integration.id),
                "platform": integration.platform,
                "username": integration.username,
                **{c: getattr(latest, c) if latest is not None else None for c in COUNTERS},
                "captured_at": format_time(latest.captured_at) if latest is not None else None,
                "delta": change(latest, previous),
                "timezone": timezone,
                "growth": growth,
                "period": history.period(period_start, now),
                "previous_period": history.period(previous_start, period_start),
                "snapshots": [
                    _reading_out(r, integration.platform, integration.username)
                    for r in reversed(shown)
                ],
            }
        )
    return out


def _reading_out(row: Any, platform: str, username: str) -> dict[str, Any]:
    """``account_row`` of a row of ``READING_COLUMNS``, given its integration's names."""
    return {
        "id": str(row.id),
        "integration_id": str(row.integration_id),
        "platform": platform,
        "username": username,
        "followers": row.followers,
        "following": row.following,
        "posts": row.posts,
        "platform_data": row.platform_data if isinstance(row.platform_data, dict) else {},
        "captured_at": format_time(row.captured_at),
    }


def _growth(
    dates: Sequence[Any], starts: Sequence[datetime], oldest_first: Iterable[Any], base: Any
) -> list[dict[str, Any]]:
    """Per local day: its last reading minus the last reading before the day (after a gap,
    the change since that earlier reading); ``None`` on a day without a reading or without
    an earlier one to compare with."""
    by_day: list[list[Any]] = [[] for _ in dates]
    index = 0
    for row in oldest_first:
        while index + 1 < len(starts) and row.captured_at >= starts[index + 1]:
            index += 1
        if index < len(dates):
            by_day[index].append(row)
    out = []
    before = base
    for day, readings in zip(dates, by_day, strict=True):
        last = readings[-1] if readings else None
        out.append(
            {
                "date": day.isoformat(),
                **(change(last, before) if last is not None else dict.fromkeys(COUNTERS)),
                "readings": len(readings),
            }
        )
        if last is not None:
            before = last
    return out


def followers_at(
    session: Session,
    workspace_id: uuid.UUID,
    integration_ids: Iterable[uuid.UUID],
    at: datetime,
) -> dict[uuid.UUID, int | None]:
    """Each integration's followers by its latest account snapshot captured at or before
    ``at`` (``None``: no such snapshot, or the platform did not report followers). For
    ``engagement_rate_by_followers`` (SPEC §9.5). Scoped to the workspace: another
    workspace's integration reads ``None``."""
    wanted = list(dict.fromkeys(integration_ids))
    found: dict[uuid.UUID, int | None] = dict.fromkeys(wanted)
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        latest = _nearest(workspace_id, chunk, at, side="through")
        for integration_id, followers in session.execute(
            select(AccountSnapshot.integration_id, AccountSnapshot.followers).where(
                AccountSnapshot.id.in_(latest)
            )
        ):
            found[integration_id] = followers
    return found
