from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from openpost.core import clock
from openpost.core.db import Base
from openpost.core.ids import new_id


class Platform(StrEnum):
    twitter = "twitter"
    bluesky = "bluesky"
    mastodon = "mastodon"
    youtube = "youtube"
    threads = "threads"
    instagram = "instagram"
    facebook = "facebook"
    linkedin = "linkedin"
    tiktok = "tiktok"
    pinterest = "pinterest"


class IntegrationStatus(StrEnum):
    active = "active"
    needs_refresh = "needs_refresh"
    disconnected = "disconnected"


class Integration(Base):
    __tablename__ = "integrations"
    __table_args__ = (UniqueConstraint("workspace_id", "platform", "external_account_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    workspace_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    platform: Mapped[str] = mapped_column(String(16))
    external_account_id: Mapped[str] = mapped_column(String(255))
    username: Mapped[str] = mapped_column(String(255))
    display_name: Mapped[str] = mapped_column(String(255), default="")
    status: Mapped[str] = mapped_column(String(16), default=IntegrationStatus.active.value)
    synthetic: Mapped[bool] = mapped_column(default=False)
    credentials_encrypted: Mapped[str | None] = mapped_column(Text, default=None)
    analytics_enabled: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
