"""Where a target's collection starts: its refresh state, created here and nowhere else.

A newly tracked target (registered through the API, or found by discovery) is ``pending``
and due at once (SPEC §5.1). Capture, the planner and the snapshot writer then keep the row.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from openpost.platforms.base import PlatformError
from openpost.refresh.models import Outcome, RefreshState


def pending(post_target_id: uuid.UUID, workspace_id: uuid.UUID, now: datetime) -> dict[str, Any]:
    """The refresh state of a target that starts being collected at ``now``."""
    return {
        "post_target_id": post_target_id,
        "workspace_id": workspace_id,
        "outcome": Outcome.pending.value,
        "next_due_at": now,
        "consecutive_failures": 0,
    }


def track(
    session: Session, workspace_id: uuid.UUID, target_ids: Iterable[uuid.UUID], now: datetime
) -> None:
    """Start collecting these targets of the workspace: one pending state each, due now."""
    rows = [pending(target_id, workspace_id, now) for target_id in target_ids]
    if rows:
        session.execute(insert(RefreshState), rows)


def new_state(post_target_id: uuid.UUID, workspace_id: uuid.UUID, now: datetime) -> RefreshState:
    """The same as an ORM object, for a caller that goes on to fill it in (discovery keeps
    the counters of its read as the target's first snapshot)."""
    return RefreshState(**pending(post_target_id, workspace_id, now))


def outcome_of(error: PlatformError) -> Outcome:
    """The outcome a platform error leaves on what was being read (SPEC §5.5), the same for
    a target's capture and an account's discovery: a spent window or budget is
    ``rate_limited``, refused credentials ``permission_required``, a post or account gone
    ``not_found``, a platform without a client ``unsupported``; anything else ``failed``
    (retried with backoff)."""
    return Outcome(error.outcome)
