"""Thin readings older than a cutoff, keeping what every daily answer is made of (SPEC §9.9).

For readings captured before the cutoff — the local midnight (workspace timezone) that starts
the day ``older_than_days`` before today — a post target keeps, per local day:

- its **last** reading of the day (the spec's rule: the day's closing value),
- its **first** reading of the day, so that the change from the day before to it is spread
  over the same interval as before and growth per local day is unchanged to the unit
  (``analytics.growth`` spreads each change over the time between two readings),
- and, whenever they fall in the thinned range, its **two newest** readings, which are the
  ``latest`` and ``delta`` of ``/v1/analytics/post/{id}`` and the refresh state's pointers.

Account snapshots are thinned by the same rule per integration. Readings from the cutoff on
are never touched. A day's removable readings are deleted in batches, each in its own short
transaction, so the service keeps answering (and collecting) while a long run goes on; a run
stopped half-way has removed only readings the rule removes, and running it again finishes.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, delete, exists, func, or_, select
from sqlalchemy.orm import Session, aliased, sessionmaker

from openpost.accounts.models import AccountSnapshot
from openpost.analytics.models import Snapshot
from openpost.core import clock
from openpost.core.db import transaction
from openpost.retention.models import RetentionRun
from openpost.retention.permits import permitted
from openpost.workspaces.models import Workspace

BATCH = 5_000
"""Readings deleted per transaction."""

Reading = type[Snapshot] | type[AccountSnapshot]


@dataclass(frozen=True, slots=True)
class Table:
    """A table of readings and the column whose readings form one history."""

    label: str
    model: Reading
    group: str  # "post_target_id" or "integration_id"


TABLES = (
    Table("post snapshots", Snapshot, "post_target_id"),
    Table("account snapshots", AccountSnapshot, "integration_id"),
)


@dataclass(slots=True)
class Counts:
    examined: int = 0
    """Readings captured before the cutoff."""
    removed: int = 0
    """Readings removed (with a dry run: that would be removed)."""


@dataclass(slots=True)
class Outcome:
    run_id: uuid.UUID
    workspace_id: uuid.UUID
    workspace_name: str
    timezone: str
    cutoff: datetime
    dry_run: bool
    counts: dict[str, Counts]


def cutoff_for(timezone: str, older_than_days: int, now: datetime) -> datetime:
    """The local midnight that starts the day ``older_than_days`` before ``now``'s local day."""
    zone = ZoneInfo(timezone)
    day = now.astimezone(zone).date() - timedelta(days=older_than_days)
    return _midnight(day, zone)


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def _after(a: Any, b: Any) -> ColumnElement[bool]:
    """``a`` was captured after ``b`` (ties on the second broken by id, as everywhere)."""
    return or_(a.captured_at > b.captured_at, and_(a.captured_at == b.captured_at, a.id > b.id))


def removable(table: Table, workspace_id: uuid.UUID, start: datetime, end: datetime) -> Any:
    """``SELECT id`` of the readings of ``[start, end)`` (one local day) that the rule removes:
    one with an earlier reading that day, a later reading that day, and a reading after that.
    """
    model = table.model
    s, first, later, newer = (aliased(model) for _ in range(4))

    def same(other: Any, base: Any = s) -> Any:
        return getattr(other, table.group) == getattr(base, table.group)

    earlier_that_day = exists().where(same(first), first.captured_at >= start, _after(s, first))
    # Correlated to ``later`` (its enclosing query), not to ``s`` two levels up.
    beyond = exists().where(same(newer, later), _after(newer, later))
    later_that_day = exists().where(same(later), later.captured_at < end, _after(later, s), beyond)
    return select(s.id).where(
        s.workspace_id == workspace_id,
        s.captured_at >= start,
        s.captured_at < end,
        earlier_that_day,
        later_that_day,
    )


def _days(
    session: Session, table: Table, workspace: Workspace, cutoff: datetime
) -> Iterator[tuple[datetime, datetime]]:
    """The UTC bounds of each local day from the workspace's oldest reading to the cutoff."""
    model = table.model
    oldest = session.scalar(
        select(func.min(model.captured_at)).where(model.workspace_id == workspace.id)
    )
    if oldest is None or oldest >= cutoff:
        return
    zone = ZoneInfo(workspace.timezone)
    day = oldest.astimezone(zone).date()
    start = _midnight(day, zone)
    while start < cutoff:
        day += timedelta(days=1)
        end = min(_midnight(day, zone), cutoff)
        yield start, end
        start = end


def apply(
    factory: sessionmaker[Session],
    workspace_id: uuid.UUID,
    older_than_days: int,
    *,
    dry_run: bool,
    now: datetime | None = None,
    batch: int = BATCH,
    progress: Callable[[str, date, int], None] | None = None,
) -> Outcome:
    """Thin one workspace's readings older than ``older_than_days`` days, and record the run."""
    now = now or clock.now()
    with transaction(factory) as session:
        workspace = session.get(Workspace, workspace_id)
        if workspace is None:
            raise LookupError(f"no workspace {workspace_id}")
        name, timezone = workspace.name, workspace.timezone
        cutoff = cutoff_for(timezone, older_than_days, now)
        run = RetentionRun(
            workspace_id=workspace_id,
            older_than_days=older_than_days,
            cutoff=cutoff,
            dry_run=dry_run,
            snapshots_examined=0,
            snapshots_removed=0,
            account_snapshots_examined=0,
            account_snapshots_removed=0,
            started_at=now,
        )
        session.add(run)
        session.flush()
        run_id = run.id
        counts = {t.label: Counts() for t in TABLES}
        for table in TABLES:
            model = table.model
            counts[table.label].examined = (
                session.scalar(
                    select(func.count())
                    .select_from(model)
                    .where(model.workspace_id == workspace_id, model.captured_at < cutoff)
                )
                or 0
            )
    zone = ZoneInfo(timezone)
    try:
        for table in TABLES:
            with factory() as reader:
                ws = reader.get(Workspace, workspace_id)
                assert ws is not None
                days = list(_days(reader, table, ws, cutoff))
            for start, end in days:
                removed = _thin_day(factory, table, workspace_id, start, end, dry_run, batch)
                counts[table.label].removed += removed
                if progress is not None:
                    progress(
                        table.label, start.astimezone(zone).date(), counts[table.label].removed
                    )
    except BaseException:
        _finish(factory, run_id, counts, "failed")
        raise
    _finish(factory, run_id, counts, "done")
    return Outcome(run_id, workspace_id, name, timezone, cutoff, dry_run, counts)


def _thin_day(
    factory: sessionmaker[Session],
    table: Table,
    workspace_id: uuid.UUID,
    start: datetime,
    end: datetime,
    dry_run: bool,
    batch: int,
) -> int:
    ids = removable(table, workspace_id, start, end)
    if dry_run:
        with factory() as session:
            return session.scalar(select(func.count()).select_from(ids.subquery())) or 0
    removed = 0
    while True:
        with transaction(factory) as session, permitted(session, "retention"):
            result = session.execute(
                delete(table.model)
                .where(table.model.id.in_(ids.limit(batch)))
                .execution_options(synchronize_session=False)
            )
            done: int = result.rowcount  # type: ignore[attr-defined]
        removed += done
        if done < batch:
            return removed


def _finish(
    factory: sessionmaker[Session], run_id: uuid.UUID, counts: dict[str, Counts], status: str
) -> None:
    posts, accounts = counts["post snapshots"], counts["account snapshots"]
    with transaction(factory) as session:
        run = session.get(RetentionRun, run_id)
        assert run is not None
        run.status = status
        run.snapshots_examined = posts.examined
        run.snapshots_removed = posts.removed
        run.account_snapshots_examined = accounts.examined
        run.account_snapshots_removed = accounts.removed
        run.finished_at = clock.now()


def list_runs(session: Session, limit: int = 50) -> list[RetentionRun]:
    """The recorded runs, newest first."""
    return list(
        session.scalars(
            select(RetentionRun)
            .order_by(RetentionRun.started_at.desc(), RetentionRun.id.desc())
            .limit(limit)
        )
    )
