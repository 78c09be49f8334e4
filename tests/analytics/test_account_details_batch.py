"""``account_details`` (many accounts in a fixed number of statements, for the dashboard's
Accounts page) gives, account by account, what the definition gives: each figure asked of
the database directly (the last reading before a time, the first reading in a period, the two
newest readings), on random histories with ties, gaps, nulls and accounts never read."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from openpost.accounts.models import COUNTERS, AccountSnapshot
from openpost.accounts.service import account_detail, account_details, change
from openpost.core.timefmt import format_time
from openpost.integrations.models import Integration
from tests import builders

NOW = datetime(2026, 4, 16, 10, 0, 0, tzinfo=UTC)


def _ordered(integration_id: uuid.UUID) -> Any:
    return select(AccountSnapshot).where(AccountSnapshot.integration_id == integration_id)


def _last_before(session: Session, integration_id: uuid.UUID, at: datetime) -> Any:
    return session.scalars(
        _ordered(integration_id)
        .where(AccountSnapshot.captured_at < at)
        .order_by(AccountSnapshot.captured_at.desc(), AccountSnapshot.id.desc())
        .limit(1)
    ).first()


def _first_in(session: Session, integration_id: uuid.UUID, start: datetime, end: datetime) -> Any:
    return session.scalars(
        _ordered(integration_id)
        .where(AccountSnapshot.captured_at >= start, AccountSnapshot.captured_at < end)
        .order_by(AccountSnapshot.captured_at, AccountSnapshot.id)
        .limit(1)
    ).first()


def _period(session: Session, integration_id: uuid.UUID, start: datetime, end: datetime) -> Any:
    last = _last_before(session, integration_id, end)
    base = _last_before(session, integration_id, start)
    if base is None and last is not None and last.captured_at >= start:
        base = _first_in(session, integration_id, start, end)
    if last is not None and last.captured_at < start:
        last = None
    return {
        "since": format_time(start),
        "until": format_time(end),
        **change(last, base),
        "from_reading": format_time(base.captured_at) if base is not None else None,
        "to_reading": format_time(last.captured_at) if last is not None else None,
    }


def _by_definition(session: Session, integration: Integration, days: int) -> dict[str, Any]:
    newest = session.scalars(
        _ordered(integration.id)
        .order_by(AccountSnapshot.captured_at.desc(), AccountSnapshot.id.desc())
        .limit(2)
    ).all()
    latest = newest[0] if newest else None
    previous = newest[1] if len(newest) > 1 else None
    start = NOW - timedelta(days=days)
    return {
        **{c: getattr(latest, c) if latest is not None else None for c in COUNTERS},
        "captured_at": format_time(latest.captured_at) if latest is not None else None,
        "delta": change(latest, previous),
        "period": _period(session, integration.id, start, NOW),
        "previous_period": _period(session, integration.id, start - timedelta(days=days), start),
    }


def _random_history(session: Session, integration: Integration, rng: random.Random) -> None:
    count = rng.choice((0, 1, 2, 3, 8, 40))
    followers = rng.randint(0, 5000)
    for n in range(count):
        # Anywhere in the last 200 days, a few in the future of a period edge, some ties.
        at = NOW - timedelta(minutes=rng.randint(0, 200 * 24 * 60))
        if n and rng.random() < 0.15:
            at = session.scalars(_ordered(integration.id).limit(1)).one().captured_at
        followers += rng.randint(-20, 60)
        session.add(
            AccountSnapshot(
                workspace_id=integration.workspace_id,
                integration_id=integration.id,
                followers=None if rng.random() < 0.1 else followers,
                following=None if integration.platform == "youtube" else rng.randint(0, 900),
                posts=rng.choice((None, 0, rng.randint(1, 400))),
                platform_data={},
                captured_at=at,
                capture_key=f"k{n}",
            )
        )
        session.flush()


def test_many_accounts_at_once_equal_the_definition_on_random_histories(
    session: Session,
) -> None:
    rng = random.Random(14)  # noqa: S311 (test data, not cryptography)
    workspace = builders.make_workspace(session, timezone="America/New_York")
    integrations = [
        builders.make_integration(
            session, workspace, platform=rng.choice(("twitter", "youtube")), username=f"a{n}"
        )
        for n in range(12)
    ]
    for integration in integrations:
        _random_history(session, integration, rng)
    session.commit()
    for days in (1, 7, 30, 90):
        batch = account_details(session, workspace.id, integrations, now=NOW, days=days)
        assert [b["integration_id"] for b in batch] == [str(i.id) for i in integrations]
        for integration, got in zip(integrations, batch, strict=True):
            expected = _by_definition(session, integration, days)
            assert {k: got[k] for k in expected} == expected, (integration.username, days)
            # One account alone is the same answer as that account among others.
            alone = account_detail(session, workspace.id, integration.id, now=NOW, days=days)
            assert alone == got


def test_a_chunk_boundary_changes_nothing(session: Session, monkeypatch: Any) -> None:
    rng = random.Random(3)  # noqa: S311 (test data, not cryptography)
    workspace = builders.make_workspace(session)
    integrations = [
        builders.make_integration(session, workspace, username=f"c{n}") for n in range(5)
    ]
    for integration in integrations:
        _random_history(session, integration, rng)
    session.commit()
    whole = account_details(session, workspace.id, integrations, now=NOW, days=30)
    monkeypatch.setattr("openpost.accounts.service.CHUNK", 2)
    assert account_details(session, workspace.id, integrations, now=NOW, days=30) == whole
