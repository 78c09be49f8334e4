"""One recorded run of ``openpost retention apply`` (dry runs included)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from openpost.core import clock
from openpost.core.db import Base
from openpost.core.ids import new_id


class RetentionRun(Base):
    """What one run did to one workspace. No foreign key: the record outlives what it names."""

    __tablename__ = "retention_runs"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    workspace_id: Mapped[uuid.UUID]
    older_than_days: Mapped[int] = mapped_column(Integer)
    cutoff: Mapped[datetime]
    """Readings captured before this instant (a local midnight of the workspace) were thinned."""
    dry_run: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[str] = mapped_column(String(16), default="running")
    """``running``, ``done`` or ``failed`` (a failed run keeps what its committed batches did)."""
    snapshots_examined: Mapped[int] = mapped_column(BigInteger, default=0)
    snapshots_removed: Mapped[int] = mapped_column(BigInteger, default=0)
    account_snapshots_examined: Mapped[int] = mapped_column(BigInteger, default=0)
    account_snapshots_removed: Mapped[int] = mapped_column(BigInteger, default=0)
    started_at: Mapped[datetime] = mapped_column(default=clock.now)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)


class MaintenancePermit(Base):
    """The one way past the readings' delete guard, for the transaction that holds one.

    The triggers on ``snapshots`` and ``account_snapshots`` refuse a DELETE unless this table
    has a row that the deleting transaction can see. ``openpost.retention.permits.permitted``
    inserts one and deletes it again before its transaction commits, so no other
    transaction ever sees it: retention and workspace deletion remove readings, nothing else.
    """

    __tablename__ = "maintenance_permits"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    reason: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
