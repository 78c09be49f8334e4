"""The demo workspace's account history (SPEC §9.4): one account snapshot a day per demo
account, the simulator's followers, following and posts at 06:00 UTC of each day from 90
days before the workspace was created up to now, as a daily collector would have taken them;
and each account's read state as that collector leaves it (read today, due a day after).

Idempotent like the rest of the demo: capture keys ``demo:<date>`` (the collector's own
never collide with them), written with ``ON CONFLICT DO NOTHING``, so a later run only adds
the days since the last one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy.orm import Session

from openpost.accounts.models import AccountReadState, AccountSnapshot
from openpost.core.db import insert_ignoring_conflicts
from openpost.core.ids import new_id
from openpost.integrations.models import Integration
from openpost.refresh.account_reads import ACCOUNT_INTERVAL
from openpost.refresh.models import Outcome

HISTORY = timedelta(days=90)
READ_AT = time(6, 0)


def reading_times(start: datetime, now: datetime) -> list[datetime]:
    """06:00 UTC of every day from ``start``'s day on, up to ``now``."""
    day = start.astimezone(UTC).date()
    out = []
    while (moment := datetime.combine(day, READ_AT, tzinfo=UTC)) <= now:
        if moment >= start:
            out.append(moment)
        day += timedelta(days=1)
    return out


def seed_account_history(
    session: Session,
    integrations: Iterable[Integration],
    created_at: datetime,
    now: datetime,
    simulate: Callable[[str, str, datetime], Any],
) -> int:
    """Write the demo accounts' daily snapshots up to ``now``; how many were new.
    ``simulate(platform, external_account_id, at)`` is the synthetic platform's
    ``simulate_account``, passed in by ``workspaces.demo`` (only the collection side and the
    demo seeder may reach the platforms)."""
    times = reading_times(created_at - HISTORY, now)
    written = 0
    for integration in integrations:
        rows = []
        for moment in times:
            reading = simulate(integration.platform, integration.external_account_id, moment)
            rows.append(
                {
                    "id": new_id(),
                    "workspace_id": integration.workspace_id,
                    "integration_id": integration.id,
                    "followers": reading.followers,
                    "following": reading.following,
                    "posts": reading.posts,
                    "platform_data": reading.platform_data,
                    "captured_at": moment,
                    "capture_key": f"demo:{moment.date().isoformat()}",
                }
            )
        if rows:
            result = session.execute(
                insert_ignoring_conflicts(
                    session, AccountSnapshot, ["integration_id", "capture_key"]
                ).returning(AccountSnapshot.id),
                rows,
            )
            written += len(list(result.scalars()))
        if times and session.get(AccountReadState, integration.id) is None:
            session.add(
                AccountReadState(
                    integration_id=integration.id,
                    workspace_id=integration.workspace_id,
                    last_attempt_at=times[-1],
                    last_success_at=times[-1],
                    next_due_at=times[-1] + ACCOUNT_INTERVAL,
                    outcome=Outcome.ok.value,
                    consecutive_failures=0,
                )
            )
    session.flush()
    return written
