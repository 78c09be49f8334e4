"""One owner-consent round trip in progress."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from openpost.core import clock
from openpost.core.db import Base
from openpost.core.ids import new_id


class OAuthAttempt(Base):
    """One owner-consent round trip in progress (any platform's OAuth 2.0 consent).

    ``state`` travels through the platform and back; only its SHA-256 is stored, so a copy
    of the database cannot complete someone's consent. The attempt belongs to one dashboard
    login, one workspace and one platform, is consumed by the callback (deleted: single use)
    and expires within minutes. ``verifier_sealed`` holds the PKCE verifier sealed like
    platform credentials (an empty sealed object for a platform without PKCE).
    """

    __tablename__ = "oauth_attempts"
    __table_args__ = (
        Index("ix_oauth_attempts_session", "session_id"),
        Index("ix_oauth_attempts_expires", "expires_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    state_hash: Mapped[str] = mapped_column(String(64), unique=True)
    session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("dashboard_sessions.id", ondelete="CASCADE")
    )
    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    platform: Mapped[str] = mapped_column(String(16))
    verifier_sealed: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    expires_at: Mapped[datetime]
