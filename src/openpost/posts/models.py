from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from openpost.core import clock
from openpost.core.db import Base
from openpost.core.ids import new_id


class PostStatus(StrEnum):
    draft = "draft"
    scheduled = "scheduled"
    publishing = "publishing"
    published = "published"
    failed = "failed"
    canceled = "canceled"


class PostSource(StrEnum):
    api = "api"
    discovered = "discovered"


class TargetStatus(StrEnum):
    pending = "pending"
    published = "published"
    failed = "failed"
    deleted = "deleted"


class Post(Base):
    __tablename__ = "posts"
    __table_args__ = (Index("ix_posts_workspace_created", "workspace_id", "created_at", "id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    content: Mapped[str] = mapped_column(Text, default="")
    tags: Mapped[list[Any]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16), default=PostStatus.published.value)
    source: Mapped[str] = mapped_column(String(16), default=PostSource.api.value)
    published_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)


class PostTarget(Base):
    """One post on one connected account."""

    __tablename__ = "post_targets"
    __table_args__ = (
        UniqueConstraint("integration_id", "platform_post_id"),
        Index("ix_post_targets_post", "post_id"),
        Index("ix_post_targets_workspace", "workspace_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    post_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"))
    integration_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("integrations.id", ondelete="CASCADE")
    )
    status: Mapped[str] = mapped_column(String(16), default=TargetStatus.published.value)
    platform_post_id: Mapped[str | None] = mapped_column(String(255), default=None)
    post_url: Mapped[str | None] = mapped_column(String(2048), default=None)
    # The platform's preview image of the post, where discovery found one (previews.py).
    preview_url: Mapped[str | None] = mapped_column(String(2048), default=None)
    published_at: Mapped[datetime | None] = mapped_column(default=None)
    # When collection learned the platform reports it deleted (status ``deleted``).
    deleted_at: Mapped[datetime | None] = mapped_column(default=None)
