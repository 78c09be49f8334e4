"""Account snapshots (append-only, like post snapshots) and each integration's account-read
schedule."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from openpost.analytics.models import JSONObject
from openpost.core.db import Base
from openpost.core.ids import new_id

COUNTERS = ("followers", "following", "posts")


class AccountSnapshot(Base):
    """One reading of an account's own counters. Append-only: the database refuses UPDATE
    (trigger ``account_snapshots_append_only``, migration 0007); DELETE stays possible."""

    __tablename__ = "account_snapshots"
    __table_args__ = (
        Index("ix_account_snapshots_workspace_time", "workspace_id", "captured_at", "id"),
        Index("ix_account_snapshots_integration_time", "integration_id", "captured_at", "id"),
        Index(
            "uq_account_snapshots_integration_capture_key",
            "integration_id",
            "capture_key",
            unique=True,
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    integration_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("integrations.id", ondelete="CASCADE")
    )
    followers: Mapped[int | None] = mapped_column(BigInteger)
    following: Mapped[int | None] = mapped_column(BigInteger)
    posts: Mapped[int | None] = mapped_column(BigInteger)
    platform_data: Mapped[dict[str, Any]] = mapped_column(JSONObject, default=dict)
    captured_at: Mapped[datetime]
    # What makes a repeated job harmless: one snapshot per integration per claimed slot.
    capture_key: Mapped[str] = mapped_column(String(64))


class AccountReadState(Base):
    """When an integration's account is read next (created due now for a newly connected
    account: read at connect, then daily)."""

    __tablename__ = "account_read_states"
    __table_args__ = (
        Index("ix_account_read_states_due", "next_due_at"),
        Index("ix_account_read_states_workspace", "workspace_id"),
    )

    integration_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("integrations.id", ondelete="CASCADE"), primary_key=True
    )
    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    next_due_at: Mapped[datetime | None] = mapped_column(default=None)
    last_attempt_at: Mapped[datetime | None] = mapped_column(default=None)
    last_success_at: Mapped[datetime | None] = mapped_column(default=None)
    outcome: Mapped[str] = mapped_column(String(24), default="pending")
    error_code: Mapped[str | None] = mapped_column(String(64), default=None)
    error_message: Mapped[str | None] = mapped_column(String(500), default=None)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
