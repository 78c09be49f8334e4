"""The seam through which engagement reads an account's followers at a reading.

``engagement_rate_by_followers`` (SPEC §9.5) divides by the account's followers *at the
reading*. Those come from account snapshots (SPEC §9.4, ``openpost.accounts``); everything
in engagement asks for them through ``followers_at_readings``.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime

from sqlalchemy.orm import Session

from openpost.accounts.service import followers_at as from_snapshots

Reading = tuple[uuid.UUID, datetime]  # (integration_id, captured_at)


def followers_at(
    session: Session, workspace_id: uuid.UUID, integration_ids: list[uuid.UUID], at: datetime
) -> Mapping[uuid.UUID, int | None]:
    """Each integration's followers as last read at or before ``at``: the latest account
    snapshot's (SPEC §9.4), ``None`` where none is known."""
    return from_snapshots(session, workspace_id, integration_ids, at)


def followers_at_readings(
    session: Session, workspace_id: uuid.UUID, readings: Iterable[Reading]
) -> dict[Reading, int]:
    """Followers for each ``(integration_id, captured_at)`` reading where they are known.

    One ``followers_at`` call per distinct reading time (the readings of one collection run
    mostly share it). Unknown followers are absent from the answer.
    """
    by_time: dict[datetime, set[uuid.UUID]] = defaultdict(set)
    for integration_id, at in readings:
        by_time[at].add(integration_id)
    found: dict[Reading, int] = {}
    for at, ids in by_time.items():
        for integration_id, followers in followers_at(
            session, workspace_id, sorted(ids), at
        ).items():
            if followers is not None:
                found[(integration_id, at)] = followers
    return found
