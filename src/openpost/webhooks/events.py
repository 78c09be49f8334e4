"""Recording events: ``emit`` writes the event and one pending delivery per subscription of
the workspace to that event type, in the caller's transaction (``openpost.webhooks`` docs)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from openpost.core.ids import new_id
from openpost.webhooks.models import (
    DeliveryStatus,
    EventType,
    Webhook,
    WebhookDelivery,
    WebhookEvent,
)


def emit(
    session: Session,
    workspace_id: uuid.UUID,
    type_: EventType,
    data: dict[str, Any],
    now: datetime,
) -> int:
    """Record the event for the workspace's subscribers; the number of deliveries queued
    (0: nobody subscribes, and nothing is written)."""
    hooks = [
        hook_id
        for hook_id, events in session.execute(
            select(Webhook.id, Webhook.events).where(Webhook.workspace_id == workspace_id)
        )
        if type_.value in events
    ]
    if not hooks:
        return 0
    event = WebhookEvent(
        id=new_id(), workspace_id=workspace_id, type=type_.value, data=data, created_at=now
    )
    session.add(event)
    session.flush()
    session.add_all(
        WebhookDelivery(
            id=new_id(),
            workspace_id=workspace_id,
            webhook_id=hook_id,
            event_id=event.id,
            status=DeliveryStatus.pending.value,
            next_attempt_at=now,
            created_at=now,
        )
        for hook_id in hooks
    )
    return len(hooks)
