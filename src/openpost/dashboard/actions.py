"""The dashboard's "Refresh now": a refresh request, recorded where collection reads it.

The collection planner reads every target whose ``RefreshState.next_due_at`` has come.
A request moves that time to now for the post's targets that are still being collected,
so the next scheduler pass (``OPENPOST_SCHEDULER_INTERVAL_SECONDS``) reads them first,
through the same planner, platform caps, budgets and batching as any other read. Targets
that policy no longer reads have no ``next_due_at`` (frozen, deleted on the platform) or
belong to an integration that is not active; they are left alone and counted as skipped.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from openpost.analytics.models import RefreshState
from openpost.core.errors import NotFound
from openpost.integrations.models import Integration, IntegrationStatus
from openpost.posts.models import Post, PostTarget, TargetStatus


@dataclass(frozen=True, slots=True)
class RefreshRequest:
    queued: int
    skipped: int


def request_refresh(
    session: Session, workspace_id: uuid.UUID, post_id: uuid.UUID, *, now: datetime
) -> RefreshRequest:
    found = session.scalar(
        select(Post.id).where(Post.id == post_id, Post.workspace_id == workspace_id)
    )
    if found is None:
        raise NotFound("post not found")
    rows = session.execute(
        select(PostTarget.status, Integration.status.label("integration_status"), RefreshState)
        .join(Integration, Integration.id == PostTarget.integration_id)
        .outerjoin(RefreshState, RefreshState.post_target_id == PostTarget.id)
        .where(PostTarget.post_id == post_id, PostTarget.workspace_id == workspace_id)
    ).all()
    queued = skipped = 0
    for target_status, integration_status, state in rows:
        if (
            state is None
            or state.next_due_at is None
            or target_status == TargetStatus.deleted.value
            or integration_status != IntegrationStatus.active.value
        ):
            skipped += 1
            continue
        state.next_due_at = min(state.next_due_at, now)
        queued += 1
    session.flush()
    return RefreshRequest(queued=queued, skipped=skipped)
