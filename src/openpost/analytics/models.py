from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from openpost.core.db import Base
from openpost.core.ids import new_id

JSONObject = JSON().with_variant(JSONB(), "postgresql")

METRICS = ("impressions", "likes", "comments", "shares")


class Snapshot(Base):
    """One reading of a target's counters. Append-only: the database refuses UPDATE."""

    __tablename__ = "snapshots"
    __table_args__ = (
        Index("ix_snapshots_workspace_time", "workspace_id", "captured_at", "id"),
        Index("ix_snapshots_integration_time", "integration_id", "captured_at", "id"),
        Index("ix_snapshots_target_time", "post_target_id", "captured_at"),
        Index("uq_snapshots_target_capture_key", "post_target_id", "capture_key", unique=True),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    integration_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("integrations.id", ondelete="CASCADE")
    )
    post_target_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("post_targets.id", ondelete="CASCADE")
    )
    impressions: Mapped[int | None] = mapped_column(BigInteger)
    likes: Mapped[int | None] = mapped_column(BigInteger)
    comments: Mapped[int | None] = mapped_column(BigInteger)
    shares: Mapped[int | None] = mapped_column(BigInteger)
    platform_data: Mapped[dict[str, Any]] = mapped_column(JSONObject, default=dict)
    captured_at: Mapped[datetime]
    capture_key: Mapped[str] = mapped_column(String(64))
