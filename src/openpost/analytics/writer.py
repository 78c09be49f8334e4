"""The one write path for snapshots: append, never twice, and keep the latest pointers.

Collection (``refresh.capture``) and the demo seeder both call ``append_snapshots``.
It does not commit: the caller's transaction writes snapshots and refresh state together.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from openpost.analytics.models import RefreshState, Snapshot
from openpost.core.ids import new_id


@dataclass(frozen=True, slots=True)
class Reading:
    """One reading of one target's counters, ready to be stored."""

    workspace_id: uuid.UUID
    integration_id: uuid.UUID
    post_target_id: uuid.UUID
    captured_at: datetime
    capture_key: str
    impressions: int | None
    likes: int | None
    comments: int | None
    shares: int | None
    platform_data: dict[str, Any] = field(default_factory=dict)


def _insert(session: Session) -> Any:
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    return module.insert(Snapshot).on_conflict_do_nothing(
        index_elements=["post_target_id", "capture_key"]
    )


def append_snapshots(session: Session, readings: Sequence[Reading]) -> int:
    """Store ``readings``; a reading whose (target, capture key) exists is skipped.

    Returns how many snapshots were written. Each touched target's refresh state then
    points at its two newest snapshots.
    """
    if not readings:
        return 0
    values = [
        {
            "id": new_id(),
            "workspace_id": r.workspace_id,
            "integration_id": r.integration_id,
            "post_target_id": r.post_target_id,
            # Recorded to the second: the order clients see (captured_at desc, id desc) and
            # the keyset cursor both rely on it.
            "captured_at": r.captured_at.replace(microsecond=0),
            "capture_key": r.capture_key,
            "impressions": r.impressions,
            "likes": r.likes,
            "comments": r.comments,
            "shares": r.shares,
            "platform_data": r.platform_data,
        }
        for r in readings
    ]
    written = session.execute(_insert(session).returning(Snapshot.id), values).all()
    if written:
        targets = {r.post_target_id: r.workspace_id for r in readings}
        refresh_latest_pointers(session, targets)
    return len(written)


def refresh_latest_pointers(session: Session, targets: dict[uuid.UUID, uuid.UUID]) -> None:
    """Point each target's refresh state at its two newest snapshots (creating the state)."""
    for target_id, workspace_id in targets.items():
        newest = session.scalars(
            select(Snapshot.id)
            .where(Snapshot.post_target_id == target_id)
            .order_by(Snapshot.captured_at.desc(), Snapshot.id.desc())
            .limit(2)
        ).all()
        state = session.get(RefreshState, target_id)
        if state is None:
            state = RefreshState(post_target_id=target_id, workspace_id=workspace_id)
            session.add(state)
        state.latest_snapshot_id = newest[0] if newest else None
        state.previous_snapshot_id = newest[1] if len(newest) > 1 else None
    session.flush()
