"""The refresh state's one starting point and the one mapping from platform errors to
outcomes that capture and discovery share."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from openpost.platforms.base import (
    BudgetExhausted,
    MalformedResponse,
    NotFound,
    PermissionRequired,
    PlatformError,
    RateLimited,
    TransientError,
    Unsupported,
)
from openpost.platforms.consent import TokenRefused
from openpost.refresh.models import Outcome
from openpost.refresh.state import new_state, outcome_of, pending

NOW = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("error", "outcome"),
    [
        (RateLimited("spent"), Outcome.rate_limited),
        (BudgetExhausted("credits"), Outcome.rate_limited),
        (PermissionRequired("refused"), Outcome.permission_required),
        (TokenRefused("revoked"), Outcome.permission_required),
        (NotFound("gone"), Outcome.not_found),
        (Unsupported("no client"), Outcome.unsupported),
        (TransientError("timeout"), Outcome.failed),
        (MalformedResponse("odd"), Outcome.failed),
        (PlatformError("other"), Outcome.failed),
    ],
)
def test_every_platform_error_maps_to_one_outcome(error: PlatformError, outcome: Outcome) -> None:
    assert outcome_of(error) is outcome


def test_a_newly_tracked_target_is_pending_and_due_at_once() -> None:
    target, workspace = uuid.uuid4(), uuid.uuid4()
    values = pending(target, workspace, NOW)
    assert values == {
        "post_target_id": target,
        "workspace_id": workspace,
        "outcome": "pending",
        "next_due_at": NOW,
        "consecutive_failures": 0,
    }
    state = new_state(target, workspace, NOW)
    assert (state.outcome, state.next_due_at, state.consecutive_failures) == ("pending", NOW, 0)
