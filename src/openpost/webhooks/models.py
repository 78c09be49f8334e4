"""Webhook subscriptions, events and deliveries (module docs in ``openpost.webhooks``)."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from openpost.core import clock
from openpost.core.db import Base
from openpost.core.ids import new_id


class EventType(StrEnum):
    collection_failed = "collection.failed"
    integration_needs_refresh = "integration.needs_refresh"
    budget_exhausted = "budget.exhausted"
    post_outperforming = "post.outperforming"
    report_ready = "report.ready"


class DeliveryStatus(StrEnum):
    pending = "pending"  # waiting for its next attempt
    delivered = "delivered"  # the receiver answered 2xx
    failed = "failed"  # no 2xx within the retry period (or the URL was refused)


class Webhook(Base):
    """One subscription: where to POST which events. ``secret_sealed`` holds the signing
    secret, sealed like platform tokens (it must be read back to sign, so not hashed)."""

    __tablename__ = "webhooks"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    workspace_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    url: Mapped[str] = mapped_column(String(2048))
    events: Mapped[list[str]] = mapped_column(JSON)
    description: Mapped[str] = mapped_column(String(500), default="")
    secret_sealed: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)


class WebhookEvent(Base):
    """Something that happened, as sent: ``{"id", "type", "created_at", "data"}``."""

    __tablename__ = "webhook_events"
    __table_args__ = (Index("ix_webhook_events_workspace", "workspace_id", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)


class WebhookDelivery(Base):
    """One event to one subscription: its attempts so far and when the next is due.
    ``claimed_until`` keeps another process off a delivery being sent."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_webhook", "webhook_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    webhook_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"))
    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("webhook_events.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default=DeliveryStatus.pending.value)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(default=None)
    claimed_until: Mapped[datetime | None] = mapped_column(default=None)
    last_status: Mapped[int | None] = mapped_column(default=None)  # the receiver's HTTP status
    last_error: Mapped[str | None] = mapped_column(String(300), default=None)
    last_attempt_at: Mapped[datetime | None] = mapped_column(default=None)
    delivered_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
