"""Collection state, owned by ``refresh``.

- ``RefreshState``: one row per post target: collection bookkeeping (last attempt and
  success, next due time, ``Outcome``, error, consecutive failures) plus pointers to the
  target's two newest snapshots, which the snapshot writer keeps (``analytics.writer``) and
  the read side uses for latest metrics and deltas. New targets get theirs from
  ``refresh.state.track``.
- ``PlatformState``: what every worker must know about a platform credential, kept in the
  database so that all processes share it: the last rate window a response reported, a
  pause (spent window, depleted credits, usage cap, refused token) and the reads counted
  against the optional daily budget. Keys (``refresh.ratestate``): ``twitter`` (the
  platform: pauses that stop every endpoint, and the budget) and ``<credential>/<endpoint>``
  such as ``twitter/metrics`` or ``mastodon:mastodon.social/discovery`` (each endpoint's own
  window). They describe credentials shared by every workspace, so they carry no
  ``workspace_id`` (like ``users``) and hold no workspace data.
- ``DiscoveryState``: one row per integration: the ``since_id`` cursor and when discovery
  next runs.
- ``SchedulerLease``: the lock with expiry that makes exactly one process the scheduler.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from openpost.core.db import Base


class Outcome(StrEnum):
    ok = "ok"
    pending = "pending"
    frozen = "frozen"
    rate_limited = "rate_limited"
    permission_required = "permission_required"
    not_found = "not_found"
    failed = "failed"
    unsupported = "unsupported"


class RefreshState(Base):
    """Collection bookkeeping for one target, plus pointers to its two newest snapshots.

    The pointers let list pages and the ``latest`` export read latest metrics and deltas
    without scanning history.
    """

    __tablename__ = "refresh_states"
    __table_args__ = (
        Index("ix_refresh_states_due", "next_due_at"),
        Index("ix_refresh_states_workspace", "workspace_id"),
        # For the ON DELETE SET NULL of a removed snapshot (retention): without them every
        # deleted snapshot scans the whole table.
        Index("ix_refresh_states_latest_snapshot", "latest_snapshot_id"),
        Index("ix_refresh_states_previous_snapshot", "previous_snapshot_id"),
    )

    post_target_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("post_targets.id", ondelete="CASCADE"), primary_key=True
    )
    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    last_attempt_at: Mapped[datetime | None] = mapped_column(default=None)
    last_success_at: Mapped[datetime | None] = mapped_column(default=None)
    next_due_at: Mapped[datetime | None] = mapped_column(default=None)
    outcome: Mapped[str] = mapped_column(String(24), default=Outcome.pending.value)
    error_code: Mapped[str | None] = mapped_column(String(64), default=None)
    error_message: Mapped[str | None] = mapped_column(String(500), default=None)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    latest_snapshot_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("snapshots.id", ondelete="SET NULL"), default=None
    )
    previous_snapshot_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("snapshots.id", ondelete="SET NULL"), default=None
    )


class PlatformState(Base):
    __tablename__ = "platform_states"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    rate_limit: Mapped[int | None] = mapped_column(Integer, default=None)
    rate_remaining: Mapped[int | None] = mapped_column(Integer, default=None)
    rate_reset_at: Mapped[datetime | None] = mapped_column(default=None)
    paused_until: Mapped[datetime | None] = mapped_column(default=None)
    pause_reason: Mapped[str | None] = mapped_column(String(64), default=None)
    pause_message: Mapped[str | None] = mapped_column(String(500), default=None)
    budget_day: Mapped[str | None] = mapped_column(String(10), default=None)
    reads_today: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime | None] = mapped_column(default=None)


class DiscoveryState(Base):
    __tablename__ = "discovery_states"
    __table_args__ = (
        Index("ix_discovery_states_due", "next_due_at"),
        Index("ix_discovery_states_workspace", "workspace_id"),
    )

    integration_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("integrations.id", ondelete="CASCADE"), primary_key=True
    )
    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    since_id: Mapped[str | None] = mapped_column(String(255), default=None)
    next_due_at: Mapped[datetime | None] = mapped_column(default=None)
    last_attempt_at: Mapped[datetime | None] = mapped_column(default=None)
    last_success_at: Mapped[datetime | None] = mapped_column(default=None)
    outcome: Mapped[str] = mapped_column(String(24), default="pending")
    error_code: Mapped[str | None] = mapped_column(String(64), default=None)
    error_message: Mapped[str | None] = mapped_column(String(500), default=None)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    discovered: Mapped[int] = mapped_column(Integer, default=0)


class SchedulerLease(Base):
    __tablename__ = "scheduler_leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime]
