"""Dashboard logins: one row per signed-in browser.

The cookie carries a random token; only its SHA-256 hash is stored, so a copy of the
database cannot be replayed as a login. The row also holds the session's CSRF token.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from openpost.core import clock
from openpost.core.db import Base
from openpost.core.ids import new_id


class DashboardSession(Base):
    __tablename__ = "dashboard_sessions"
    __table_args__ = (
        Index("ix_dashboard_sessions_user", "user_id"),
        Index("ix_dashboard_sessions_workspace", "workspace_id"),
        Index("ix_dashboard_sessions_expires", "expires_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    expires_at: Mapped[datetime]
