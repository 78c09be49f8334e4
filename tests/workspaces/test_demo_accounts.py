"""The demo's account history (SPEC §9.4): a daily snapshot per demo account from 90 days
before the workspace was created, the simulator's values, idempotent, topped up later, and
collected on from there (the read state says read today)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from openpost.accounts.models import AccountReadState, AccountSnapshot
from openpost.integrations.models import Integration
from openpost.platforms.synthetic.client import simulate_account
from openpost.workspaces.demo import seed_demo

NOW = datetime(2026, 4, 16, 10, 0, 0, tzinfo=UTC)


def _count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(AccountSnapshot)) or 0


def test_demo_accounts_get_a_daily_history_once(session: Session) -> None:
    result = seed_demo(session, NOW, post_count=16)
    session.commit()
    integrations = list(
        session.scalars(select(Integration).where(Integration.workspace_id == result.workspace_id))
    )
    assert integrations
    # 06:00 UTC of 2026-01-17 … 2026-04-16 (from 90 days before 10:00 on the 16th): 90 days.
    assert _count(session) == 90 * len(integrations)
    for integration in integrations:
        rows = list(
            session.scalars(
                select(AccountSnapshot)
                .where(AccountSnapshot.integration_id == integration.id)
                .order_by(AccountSnapshot.captured_at)
            )
        )
        assert rows[0].captured_at == datetime(2026, 1, 17, 6, tzinfo=UTC)
        assert rows[-1].captured_at == datetime(2026, 4, 16, 6, tzinfo=UTC)
        expected = simulate_account(
            integration.platform, integration.external_account_id, rows[-1].captured_at
        )
        assert (rows[-1].followers, rows[-1].following, rows[-1].posts) == (
            expected.followers,
            expected.following,
            expected.posts,
        )
        assert rows[-1].followers is not None
        assert rows[-1].followers > rows[0].followers  # type: ignore[operator]
        state = session.get(AccountReadState, integration.id)
        assert state is not None
        assert state.next_due_at == datetime(2026, 4, 17, 6, tzinfo=UTC)

    seed_demo(session, NOW, post_count=16)  # again: nothing new
    session.commit()
    assert _count(session) == 90 * len(integrations)
    seed_demo(session, NOW + timedelta(days=2), post_count=16)  # later: two more days
    session.commit()
    assert _count(session) == 92 * len(integrations)
