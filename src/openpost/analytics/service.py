"""The read side of analytics, shared by the API, the dashboard and the CLI.

Queries select plain columns (no ORM objects) and return plain dicts ready for JSON: the
500-row page is on the hot path and per-row object overhead shows in its profile.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, select, tuple_
from sqlalchemy.orm import Session, aliased

from openpost.analytics.arithmetic import delta, totals
from openpost.analytics.models import METRICS, RefreshState, Snapshot
from openpost.core.errors import NotFound
from openpost.core.pagination import decode_cursor, encode_cursor
from openpost.core.timefmt import format_time
from openpost.integrations.models import Integration
from openpost.posts.models import Post, PostTarget

SNAPSHOT_COLUMNS = (
    Snapshot.id,
    Snapshot.post_target_id,
    Snapshot.integration_id,
    PostTarget.post_id,
    Integration.platform,
    Snapshot.impressions,
    Snapshot.likes,
    Snapshot.comments,
    Snapshot.shares,
    Snapshot.platform_data,
    Snapshot.captured_at,
)


@dataclass(frozen=True, slots=True)
class SnapshotPage:
    rows: list[dict[str, Any]]
    next_cursor: str | None


def snapshot_row(row: Row[Any]) -> dict[str, Any]:
    """The API's snapshot object from a row of ``SNAPSHOT_COLUMNS``."""
    return {
        "id": str(row.id),
        "post_target_id": str(row.post_target_id),
        "integration_id": str(row.integration_id),
        "post_id": str(row.post_id),
        "platform": row.platform,
        "impressions": row.impressions,
        "likes": row.likes,
        "comments": row.comments,
        "shares": row.shares,
        "platform_data": row.platform_data or {},
        "captured_at": format_time(row.captured_at),
    }


def require_integration(
    session: Session, workspace_id: uuid.UUID, integration_id: uuid.UUID
) -> None:
    """404 unless the integration belongs to the caller's workspace."""
    found = session.scalar(
        select(Integration.id).where(
            Integration.id == integration_id, Integration.workspace_id == workspace_id
        )
    )
    if found is None:
        raise NotFound("integration not found")


def list_snapshots(
    session: Session,
    workspace_id: uuid.UUID,
    *,
    now: datetime,
    days: int = 30,
    integration_id: uuid.UUID | None = None,
    limit: int = 500,
    cursor: str | None = None,
) -> SnapshotPage:
    """The workspace's snapshots of the last ``days`` days, newest first, keyset-paged."""
    query = (
        select(*SNAPSHOT_COLUMNS)
        .join(PostTarget, PostTarget.id == Snapshot.post_target_id)
        .join(Integration, Integration.id == Snapshot.integration_id)
        .where(Snapshot.captured_at >= now - timedelta(days=days))
        .order_by(Snapshot.captured_at.desc(), Snapshot.id.desc())
        .limit(limit + 1)
    )
    if integration_id is not None:
        require_integration(session, workspace_id, integration_id)
        # The integration index serves this filter; the workspace check above and this
        # equality keep the query scoped to the caller.
        query = query.where(
            Snapshot.integration_id == integration_id, Snapshot.workspace_id == workspace_id
        )
    else:
        query = query.where(Snapshot.workspace_id == workspace_id)
    if cursor is not None:
        after_time, after_id = decode_cursor(cursor)
        query = query.where(tuple_(Snapshot.captured_at, Snapshot.id) < (after_time, after_id))

    rows = session.execute(query).all()
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = encode_cursor(last.captured_at, last.id)
    return SnapshotPage([snapshot_row(row) for row in rows], next_cursor)


def _metrics(row: Any, prefix: str = "") -> dict[str, int | None] | None:
    if getattr(row, f"{prefix}id") is None:
        return None
    return {metric: getattr(row, f"{prefix}{metric}") for metric in METRICS}


def post_metrics(
    session: Session, workspace_id: uuid.UUID, post_id: uuid.UUID, *, now: datetime, days: int = 30
) -> dict[str, Any]:
    """Latest metrics of every target of a post, their deltas, totals and recent history."""
    post_exists = session.scalar(
        select(Post.id).where(Post.id == post_id, Post.workspace_id == workspace_id)
    )
    if post_exists is None:
        raise NotFound("post not found")

    latest = aliased(Snapshot, name="latest")
    previous = aliased(Snapshot, name="previous")
    target_rows = session.execute(
        select(
            PostTarget.id.label("target_id"),
            PostTarget.integration_id,
            PostTarget.status,
            PostTarget.post_url,
            Integration.platform,
            Integration.username,
            RefreshState.outcome,
            RefreshState.next_due_at,
            RefreshState.last_success_at,
            latest.id.label("l_id"),
            latest.captured_at.label("l_captured_at"),
            *(getattr(latest, m).label(f"l_{m}") for m in METRICS),
            previous.id.label("p_id"),
            *(getattr(previous, m).label(f"p_{m}") for m in METRICS),
        )
        .join(Integration, Integration.id == PostTarget.integration_id)
        .outerjoin(RefreshState, RefreshState.post_target_id == PostTarget.id)
        .outerjoin(latest, latest.id == RefreshState.latest_snapshot_id)
        .outerjoin(previous, previous.id == RefreshState.previous_snapshot_id)
        .where(PostTarget.post_id == post_id, PostTarget.workspace_id == workspace_id)
        .order_by(PostTarget.id)
    ).all()

    history: dict[uuid.UUID, list[dict[str, Any]]] = {row.target_id: [] for row in target_rows}
    if history:
        for row in session.execute(
            select(*SNAPSHOT_COLUMNS)
            .join(PostTarget, PostTarget.id == Snapshot.post_target_id)
            .join(Integration, Integration.id == Snapshot.integration_id)
            .where(
                Snapshot.post_target_id.in_(list(history)),
                Snapshot.workspace_id == workspace_id,
                Snapshot.captured_at >= now - timedelta(days=days),
            )
            .order_by(Snapshot.captured_at.desc(), Snapshot.id.desc())
        ):
            history[row.post_target_id].append(snapshot_row(row))

    targets = []
    for row in target_rows:
        latest_metrics = _metrics(row, "l_")
        target_delta = delta(latest_metrics, _metrics(row, "p_"))
        targets.append(
            {
                "target_id": str(row.target_id),
                "integration_id": str(row.integration_id),
                "platform": row.platform,
                "username": row.username,
                "status": row.status,
                "post_url": row.post_url,
                **(latest_metrics or dict.fromkeys(METRICS)),
                "captured_at": format_time(row.l_captured_at),
                "delta": target_delta,
                "refresh": {
                    "outcome": row.outcome or "pending",
                    "next_refresh_at": format_time(row.next_due_at),
                    "last_success_at": format_time(row.last_success_at),
                },
                "snapshots": history[row.target_id],
            }
        )

    return {
        "post_id": str(post_id),
        "totals": totals(targets),
        "delta": totals(t["delta"] for t in targets),
        "targets": targets,
    }
