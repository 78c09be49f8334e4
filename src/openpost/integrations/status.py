"""Status changes of integrations that collection makes, with the webhook events they fire
(SPEC §9.7), in the caller's transaction: the events are delivered once it commits."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from openpost.core.timefmt import format_time
from openpost.integrations.models import Integration, IntegrationStatus
from openpost.webhooks.events import emit
from openpost.webhooks.models import EventType


def mark_needs_refresh(
    session: Session,
    integration_ids: Collection[uuid.UUID],
    workspace_ids: Collection[uuid.UUID],
    now: datetime,
    *,
    code: str,
    message: str,
) -> int:
    """Active integrations among ``integration_ids`` (of those workspaces) become
    ``needs_refresh``; each one changed fires ``integration.needs_refresh``. The number
    changed (an integration already waiting fires nothing again)."""
    if not integration_ids:
        return 0
    changed = session.execute(
        update(Integration)
        .where(
            Integration.id.in_(list(integration_ids)),
            Integration.workspace_id.in_(list(workspace_ids)),
            Integration.status == IntegrationStatus.active.value,
        )
        .values(status=IntegrationStatus.needs_refresh.value)
        .returning(
            Integration.id, Integration.workspace_id, Integration.platform, Integration.username
        )
        .execution_options(synchronize_session=False)
    ).all()
    for row in changed:
        emit(
            session,
            row.workspace_id,
            EventType.integration_needs_refresh,
            {
                "integration_id": str(row.id),
                "platform": row.platform,
                "username": row.username,
                "error_code": code,
                "message": message,
            },
            now,
        )
    return len(changed)


def collection_failed(
    session: Session,
    workspace_id: uuid.UUID,
    integration_id: uuid.UUID,
    now: datetime,
    *,
    what: str,
    failures: int,
    code: str | None,
    message: str | None,
    posts: int = 0,
) -> None:
    """Fire ``collection.failed`` for an integration whose ``what`` (``discovery`` or
    ``posts``) has just failed ``failures`` times in a row."""
    emit(
        session,
        workspace_id,
        EventType.collection_failed,
        {
            "integration_id": str(integration_id),
            "what": what,
            "consecutive_failures": failures,
            "posts": posts,
            "error_code": code,
            "message": message,
        },
        now,
    )


def budget_exhausted(
    session: Session,
    platform: str,
    now: datetime,
    *,
    reason: str,
    message: str,
    until: datetime | None,
) -> int:
    """Fire ``budget.exhausted`` in every workspace with an active integration on the
    platform (its daily budget, or the operator's paid credits, are spent until ``until``);
    the number of workspaces told."""
    workspaces = session.scalars(
        select(Integration.workspace_id)
        .where(
            Integration.platform == platform,
            Integration.status == IntegrationStatus.active.value,
        )
        .distinct()
    ).all()
    for workspace_id in workspaces:
        emit(
            session,
            workspace_id,
            EventType.budget_exhausted,
            {
                "platform": platform,
                "reason": reason,
                "message": message,
                "until": format_time(until),
            },
            now,
        )
    return len(workspaces)
