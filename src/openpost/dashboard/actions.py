"""The dashboard's "Refresh now": what ``POST /v1/analytics/refresh`` does, and why not more.

``request_refresh`` calls the API's service (``refresh.service.request_refresh``): the
post's targets that policy allows now are claimed in the request's transaction and come
back as batches, which the route queues once that transaction has committed, exactly as the
API does. The page then says how many accounts were queued and, for the others, why not,
grouped by reason: not collected any more (deleted on the platform, account disconnected,
analytics off, not published), frozen (past the platform's window), the platform paused
(until when, and its message), or its daily read budget spent. The reasons for targets
policy would read come from the collection planner itself, asked again (read-only) about
just those targets after the claim.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from openpost.config import Settings
from openpost.core.errors import NotFound
from openpost.integrations.models import Integration, IntegrationStatus
from openpost.platforms.spec import CredentialKey
from openpost.platforms.specs import label
from openpost.posts.models import Post, PostTarget, TargetStatus
from openpost.refresh import planner, ratestate, service
from openpost.refresh.batches import Batch
from openpost.refresh.policy import CollectionPolicy
from openpost.refresh.runner import Runtime

DELETED = "deleted on the platform"
UNPUBLISHED = "not published on the platform yet"
INACTIVE = "its account is disconnected or needs reconnecting"
ANALYTICS_OFF = "analytics are off for its account"
FROZEN = "past the platform's collection window: its last reading is final"
UNTRACKED = "not scheduled for collection yet"


@dataclass(frozen=True, slots=True)
class Held:
    """Accounts of the post left out of the refresh, for one reason."""

    count: int
    reason: str
    until: datetime | None = None  # when a pause ends


@dataclass(frozen=True, slots=True)
class RefreshRequest:
    batches: list[Batch]
    queued: int  # accounts (targets) claimed and queued
    held: list[Held] = field(default_factory=list)


def _name(platform: str) -> str:
    return label(platform)


def _not_collected(
    target_status: str, has_post_id: bool, integration_status: str, analytics: bool
) -> str | None:
    """Why the planner never selects this target (its own rules), or ``None``."""
    if target_status == TargetStatus.deleted.value:
        return DELETED
    if target_status != TargetStatus.published.value or not has_post_id:
        return UNPUBLISHED
    if integration_status != IntegrationStatus.active.value:
        return INACTIVE
    if not analytics:
        return ANALYTICS_OFF
    return None


def request_refresh(
    session: Session,
    settings: Settings,
    factory: sessionmaker[Session],
    workspace_id: uuid.UUID,
    post_id: uuid.UUID,
    *,
    now: datetime,
) -> RefreshRequest:
    """Claim the post's targets as the API does; the batches to queue after the commit."""
    if (
        session.scalar(select(Post.id).where(Post.id == post_id, Post.workspace_id == workspace_id))
        is None
    ):
        raise NotFound("post not found")
    runtime = Runtime.from_settings(settings, factory=factory)  # clients only; no engine
    try:
        batches = service.request_refresh(
            session, settings, runtime.clients, workspace_id, post_id=post_id, now=now
        )
        queued_ids = {item.target_id for batch in batches for item in batch.targets}
        held = _held(session, settings, runtime, workspace_id, post_id, queued_ids, now)
    finally:
        runtime.close()
    return RefreshRequest(batches=batches, queued=len(queued_ids), held=held)


def _held(
    session: Session,
    settings: Settings,
    runtime: Runtime,
    workspace_id: uuid.UUID,
    post_id: uuid.UUID,
    queued: set[uuid.UUID],
    now: datetime,
) -> list[Held]:
    rows = session.execute(
        select(
            PostTarget.id,
            PostTarget.status,
            PostTarget.platform_post_id.is_not(None).label("has_post_id"),
            Integration.status.label("integration_status"),
            Integration.analytics_enabled,
        )
        .join(Integration, Integration.id == PostTarget.integration_id)
        .where(PostTarget.post_id == post_id, PostTarget.workspace_id == workspace_id)
    ).all()
    reasons: Counter[str] = Counter()
    collectable = []
    for row in rows:
        if row.id in queued:
            continue
        why = _not_collected(
            row.status, row.has_post_id, row.integration_status, row.analytics_enabled
        )
        if why is None:
            collectable.append(row.id)
        else:
            reasons[why] += 1
    held = [Held(count, reason) for reason, count in reasons.items()]
    if collectable:
        held += _planner_reasons(session, settings, runtime, workspace_id, collectable, now)
    return held


def _planner_reasons(
    session: Session,
    settings: Settings,
    runtime: Runtime,
    workspace_id: uuid.UUID,
    target_ids: list[uuid.UUID],
    now: datetime,
) -> list[Held]:
    """Ask the planner (read-only) why it would not read these collectable targets now."""
    plan = planner.plan(
        session,
        settings,
        CollectionPolicy.from_settings(settings),
        runtime.clients,
        now,
        workspace_id=workspace_id,
        target_ids=target_ids,
        force=True,
    )
    held = []
    seen = len(plan.frozen)
    if plan.frozen:
        held.append(Held(len(plan.frozen), FROZEN))
    for key, count in sorted(plan.paused.items()):
        if not count:
            continue
        seen += count
        platform = CredentialKey.parse(key).platform
        pause = ratestate.active_pause(session, platform, key, ratestate.METRICS, now)
        detail = f": {pause.message}" if pause is not None and pause.message else ""
        reason = f"{_name(platform)} is paused{detail}"
        if pause is None:  # a platform-wide pause just ended: one probe batch goes first
            reason = f"{_name(platform)} is being probed after a pause; the rest follow"
        held.append(Held(count, reason, pause.until if pause is not None else None))
    for platform, count in sorted(plan.over_budget.items()):
        seen += count
        held.append(Held(count, f"{_name(platform)}'s daily read budget is spent"))
    chosen = sum(len(targets) for targets in plan.chosen.values())
    rest = len(target_ids) - seen - chosen
    if rest > 0:  # no refresh state: never scheduled
        held.append(Held(rest, UNTRACKED))
    return held
