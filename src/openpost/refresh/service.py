"""Collection as the API and the dashboard see it: queue a refresh, report health.

Services never commit. ``request_refresh`` claims targets in the caller's transaction and
returns the batches; the caller queues them after its commit.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from openpost.config import Settings
from openpost.core.crypto import CredentialsUnreadable, Sealer
from openpost.core.errors import BadRequest, NotFound
from openpost.core.timefmt import format_time
from openpost.integrations.models import Integration
from openpost.platforms.registry import Clients
from openpost.posts.models import Post, PostTarget, TargetStatus
from openpost.refresh import budgets, planner, ratestate
from openpost.refresh.batches import Batch
from openpost.refresh.models import DiscoveryState, Outcome, PlatformState, RefreshState
from openpost.refresh.policy import CollectionPolicy

ENDPOINTS = (ratestate.METRICS, ratestate.DISCOVERY)
ERROR_OUTCOMES = (
    Outcome.failed.value,
    Outcome.rate_limited.value,
    Outcome.permission_required.value,
    Outcome.unsupported.value,
)


def request_refresh(
    session: Session,
    settings: Settings,
    clients: Clients,
    workspace_id: uuid.UUID,
    *,
    post_id: uuid.UUID | None = None,
    integration_id: uuid.UUID | None = None,
    now: datetime,
) -> list[Batch]:
    """Claim, for an immediate read, the targets of a post or an integration that policy
    allows (collectable, inside the platform's cap and budget); the batches to queue."""
    if (post_id is None) == (integration_id is None):
        raise BadRequest("give exactly one of post_id or integration_id")
    query = select(PostTarget.id).where(PostTarget.workspace_id == workspace_id)
    if post_id is not None:
        found = session.scalar(
            select(Post.id).where(Post.id == post_id, Post.workspace_id == workspace_id)
        )
        if found is None:
            raise NotFound("post not found")
        query = query.where(PostTarget.post_id == post_id)
    else:
        found = session.scalar(
            select(Integration.id).where(
                Integration.id == integration_id, Integration.workspace_id == workspace_id
            )
        )
        if found is None:
            raise NotFound("integration not found")
        query = query.where(PostTarget.integration_id == integration_id)
    target_ids = list(session.scalars(query))
    if not target_ids:
        return []
    policy = CollectionPolicy.from_settings(settings)
    result = planner.plan(
        session,
        settings,
        policy,
        clients,
        now,
        workspace_id=workspace_id,
        target_ids=target_ids,
        force=True,
    )
    return planner.claim(session, result, lease_until=now + policy.lease, force=True)


def _windows(rows: dict[str, PlatformState], scopes: list[str]) -> list[dict[str, Any]]:
    found = []
    for scope in scopes:
        for endpoint in ENDPOINTS:
            row = rows.get(ratestate.endpoint_key(scope, endpoint))
            if row is None or (row.rate_limit is None and row.rate_remaining is None):
                continue
            found.append(
                {
                    "scope": scope,
                    "endpoint": endpoint,
                    "limit": row.rate_limit,
                    "remaining": row.rate_remaining,
                    "reset_at": format_time(row.rate_reset_at),
                }
            )
    return found


def _pause_out(pause: ratestate.Pause, scope: str, endpoint: str | None) -> dict[str, Any]:
    return {
        "scope": scope,
        "endpoint": endpoint,
        "until": format_time(pause.until),
        "reason": pause.reason,
        "message": pause.message,
    }


def _pauses(
    platform: str, scopes: list[str], rows: dict[str, PlatformState], now: datetime
) -> list[dict[str, Any]]:
    """Every pause in force: the platform's own (``endpoint`` null), then each credential's
    endpoints (``scope`` is the credential key: ``mastodon:<instance>``, …)."""
    found = []
    wide = ratestate.pause_of(rows.get(platform), now)
    if wide is not None:
        found.append(_pause_out(wide, platform, None))
    for scope in scopes:
        for endpoint in ENDPOINTS:
            pause = ratestate.pause_of(rows.get(ratestate.endpoint_key(scope, endpoint)), now)
            if pause is not None:
                found.append(_pause_out(pause, scope, endpoint))
    return found


def _platform_status(
    settings: Settings,
    platform: str,
    scopes: list[str],
    rows: dict[str, PlatformState],
    now: datetime,
) -> dict[str, Any]:
    base = rows.get(platform)
    pauses = _pauses(platform, scopes, rows, now)
    # Paused as a whole: a platform-wide pause, or every credential's metrics paused (one
    # Mastodon instance's spent window does not stop the others).
    metrics = [p for p in pauses if p["endpoint"] == ratestate.METRICS]
    whole = [p for p in pauses if p["endpoint"] is None] or (
        metrics if scopes and len(metrics) == len(scopes) else []
    )
    budget = budgets.budget_for(settings, platform)
    spent = ratestate.units_today(base, budget, now)
    left = ratestate.reads_left(base, budget, now)
    return {
        "platform": platform,
        "synthetic": False,
        "paused": bool(whole),
        "paused_until": max(p["until"] for p in whole) if whole else None,
        "pause_reason": whole[0]["reason"] if whole else None,
        "pause_message": whole[0]["message"] if whole else None,
        "pauses": pauses,
        "probing": ratestate.needs_probe(base, now),
        "rate_limits": _windows(rows, scopes),
        "reads_today": spent,
        "daily_read_budget": budget.limit or None,
        "reads_left_today": left,
        "daily_budget": {
            "unit": budget.unit,
            "day": budget.day(now).isoformat(),
            "limit": budget.limit or None,
            "spent": spent,
            "left": left,
            "resets_at": format_time(budget.resets_at(now)),
        },
    }


def collection_status(
    session: Session, settings: Settings, workspace_id: uuid.UUID, *, now: datetime
) -> dict[str, Any]:
    """Collection health of each integration and the rate/credit state of their platforms."""
    integrations = session.scalars(
        select(Integration)
        .where(Integration.workspace_id == workspace_id)
        .order_by(Integration.created_at.desc(), Integration.id.desc())
    ).all()
    outcomes: dict[uuid.UUID, dict[str, int]] = defaultdict(dict)
    for integration_id, outcome, count in session.execute(
        select(PostTarget.integration_id, RefreshState.outcome, func.count())
        .join(RefreshState, RefreshState.post_target_id == PostTarget.id)
        .where(PostTarget.workspace_id == workspace_id, RefreshState.workspace_id == workspace_id)
        .group_by(PostTarget.integration_id, RefreshState.outcome)
    ):
        outcomes[integration_id][outcome] = count
    times = {
        row.integration_id: row
        for row in session.execute(
            select(
                PostTarget.integration_id,
                func.count().label("tracked"),
                func.max(RefreshState.last_success_at).label("last_success_at"),
                func.min(RefreshState.next_due_at).label("next_due_at"),
            )
            .join(RefreshState, RefreshState.post_target_id == PostTarget.id)
            .where(
                PostTarget.workspace_id == workspace_id,
                PostTarget.status == TargetStatus.published.value,
            )
            .group_by(PostTarget.integration_id)
        )
    }
    discoveries = {
        row.integration_id: row
        for row in session.scalars(
            select(DiscoveryState).where(DiscoveryState.workspace_id == workspace_id)
        )
    }
    items: list[dict[str, Any]] = []
    for integration in integrations:
        summary = times.get(integration.id)
        last_error = session.execute(
            select(
                RefreshState.error_code, RefreshState.error_message, RefreshState.last_attempt_at
            )
            .join(PostTarget, PostTarget.id == RefreshState.post_target_id)
            .where(
                PostTarget.workspace_id == workspace_id,
                PostTarget.integration_id == integration.id,
                RefreshState.outcome.in_(ERROR_OUTCOMES),
            )
            .order_by(RefreshState.last_attempt_at.desc().nulls_last())
            .limit(1)
        ).first()
        found = discoveries.get(integration.id)
        items.append(
            {
                "integration_id": str(integration.id),
                "platform": integration.platform,
                "username": integration.username,
                "status": integration.status,
                "synthetic": integration.synthetic,
                "tracked": summary.tracked if summary else 0,
                "frozen": outcomes[integration.id].get(Outcome.frozen.value, 0),
                "outcomes": {o.value: outcomes[integration.id].get(o.value, 0) for o in Outcome},
                "last_success_at": format_time(summary.last_success_at) if summary else None,
                "next_due_at": format_time(summary.next_due_at) if summary else None,
                "last_error": (
                    {
                        "code": last_error.error_code,
                        "message": last_error.error_message,
                        "at": format_time(last_error.last_attempt_at),
                    }
                    if last_error is not None
                    else None
                ),
                "discovery": _discovery_out(found),
                **consent_end(settings, integration.credentials_encrypted, now),
            }
        )
    scopes: dict[str, set[str]] = defaultdict(set)
    own: dict[str, str] = {}  # integration id -> its credential key
    for i in integrations:
        if not i.synthetic:
            key = own[str(i.id)] = Clients.credential_key(
                i.platform, False, i.id, i.credentials_encrypted is not None, i.username
            )
            scopes[i.platform].add(key)
    keys = [
        key
        for platform, found in scopes.items()
        for key in (
            platform,
            *(ratestate.endpoint_key(s, e) for s in found for e in ENDPOINTS),
        )
    ]
    rows = ratestate.states(session, keys)
    for item in items:  # what holds this account's reads back now
        scope = own.get(item["integration_id"])
        item["pauses"] = _pauses(item["platform"], [scope], rows, now) if scope else []
    platforms = [
        _platform_status(settings, p, sorted(scopes[p]), rows, now) for p in sorted(scopes)
    ]
    platforms += [
        {"platform": p, "synthetic": True, "paused": False}
        for p in sorted({i.platform for i in integrations if i.synthetic})
    ]
    return {"integrations": items, "platforms": platforms}


def _discovery_out(state: DiscoveryState | None) -> dict[str, Any] | None:
    if state is None:
        return None
    return {
        "outcome": state.outcome,
        "discovered": state.discovered,
        "last_success_at": format_time(state.last_success_at),
        "next_due_at": format_time(state.next_due_at),
        "last_error": (
            {"code": state.error_code, "message": state.error_message} if state.error_code else None
        ),
    }


CONSENT_WARNING = timedelta(days=30)


def consent_end(settings: Settings, sealed: str | None, now: datetime) -> dict[str, Any]:
    """When an owner's consent itself ends (a refresh token with a fixed life, LinkedIn's
    365 days from the first consent), and whether that is within ``CONSENT_WARNING``:
    ``consent_ends_at`` (``None``: no such end, or no owner consent) and ``consent_ending``.
    Only that date is read from the sealed credentials; nothing else leaves them."""
    ends: datetime | None = None
    if sealed:
        try:
            raw = Sealer.from_settings(settings).open(sealed).get("refresh_expires_at")
        except CredentialsUnreadable:
            raw = None
        try:
            ends = datetime.fromisoformat(raw) if isinstance(raw, str) else None
        except ValueError:
            ends = None
    return {
        "consent_ends_at": format_time(ends) if ends is not None else None,
        "consent_ending": ends is not None and ends - now <= CONSENT_WARNING,
    }
