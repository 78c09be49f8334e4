"""The dashboard's one write that no other package offers yet: asking for a refresh.

``POST /v1/analytics/refresh`` belongs to the collection work. Until its service exists,
the dashboard records a refresh request the way that work reads it: the target's
``RefreshState.next_due_at`` becomes now, so the next sweep takes it first. Targets that
policy never reads again are left alone and counted as skipped: deleted posts
(``not_found``), targets of disconnected integrations, and targets in the frozen tier
that already have a reading.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from openpost.analytics.models import Outcome, RefreshState
from openpost.core.errors import NotFound
from openpost.integrations.models import Integration, IntegrationStatus
from openpost.posts.models import Post, PostTarget, TargetStatus
from openpost.refresh.tiers import Tier, tier_for


@dataclass(frozen=True, slots=True)
class RefreshRequest:
    queued: int
    skipped: int


def request_refresh(
    session: Session, workspace_id: uuid.UUID, post_id: uuid.UUID, *, now: datetime
) -> RefreshRequest:
    post = session.scalar(select(Post).where(Post.id == post_id, Post.workspace_id == workspace_id))
    if post is None:
        raise NotFound("post not found")
    rows = session.execute(
        select(PostTarget, Integration.status.label("integration_status"), RefreshState)
        .join(Integration, Integration.id == PostTarget.integration_id)
        .outerjoin(RefreshState, RefreshState.post_target_id == PostTarget.id)
        .where(PostTarget.post_id == post_id, PostTarget.workspace_id == workspace_id)
    ).all()
    queued = skipped = 0
    for target, integration_status, state in rows:
        published = target.published_at or post.published_at
        frozen = (
            published is not None
            and tier_for(now - published) is Tier.frozen
            and state is not None
            and state.last_attempt_at is not None
        )
        if (
            target.status == TargetStatus.deleted.value
            or integration_status == IntegrationStatus.disconnected.value
            or (state is not None and state.outcome == Outcome.not_found.value)
            or frozen
        ):
            skipped += 1
            continue
        if state is None:
            state = RefreshState(post_target_id=target.id, workspace_id=workspace_id)
            session.add(state)
        state.next_due_at = now
        queued += 1
    session.flush()
    return RefreshRequest(queued=queued, skipped=skipped)
