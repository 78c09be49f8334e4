"""``workspaces.removal``: a workspace goes with every row of it, and nothing of another."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from openpost.accounts.models import AccountReadState
from openpost.auth.models import IdempotencyRecord
from openpost.consent.models import OAuthAttempt
from openpost.core import clock
from openpost.core.db import Base, make_sessionmaker
from openpost.dashboard.models import DashboardSession
from openpost.refresh.models import DiscoveryState
from openpost.retention.models import MaintenancePermit, RetentionRun
from openpost.webhooks.models import WebhookDelivery, WebhookEvent
from openpost.workspaces import removal
from openpost.workspaces.models import Member, User, Workspace
from openpost.workspaces.service import add_member
from tests import builders
from tests.builders import Tenant, World

SCOPED = [t for t in Base.metadata.sorted_tables if "workspace_id" in t.c]


def _fill(session: Session, tenant: Tenant, shared_email: str) -> None:
    """A row for ``tenant`` in every workspace-scoped table, and more readings than a batch."""
    now = clock.now()
    ws = tenant.workspace
    lonely = add_member(
        session, ws, email=f"only-{ws.id.hex}@example.com", password="password1", role="owner"
    )
    add_member(session, ws, email=shared_email, password="password1", role="viewer")
    login = DashboardSession(
        token_hash=uuid.uuid4().hex,
        user_id=lonely.user_id,
        workspace_id=ws.id,
        csrf_token=uuid.uuid4().hex,
        expires_at=now + timedelta(days=1),
    )
    session.add(login)
    session.flush()
    session.add(
        OAuthAttempt(
            state_hash=uuid.uuid4().hex,
            session_id=login.id,
            workspace_id=ws.id,
            platform="threads",
            verifier_sealed="x",
            expires_at=now + timedelta(minutes=10),
        )
    )
    session.add(
        IdempotencyRecord(
            workspace_id=ws.id, key="k", request_hash="h", status_code=201, response_body="{}"
        )
    )
    event = WebhookEvent(workspace_id=ws.id, type="integration.needs_refresh", data={})
    session.add(event)
    session.flush()
    assert tenant.webhook is not None
    session.add(
        WebhookDelivery(workspace_id=ws.id, webhook_id=tenant.webhook.id, event_id=event.id)
    )
    session.add(AccountReadState(integration_id=tenant.integration.id, workspace_id=ws.id))
    session.add(DiscoveryState(integration_id=tenant.integration.id, workspace_id=ws.id))
    for minutes in range(1, 8):
        builders.add_snapshot(session, tenant.targets[0], now - timedelta(hours=2, minutes=minutes))
        builders.add_account_snapshot(session, tenant.integration, now - timedelta(days=minutes))
    session.add(
        RetentionRun(
            workspace_id=ws.id,
            older_than_days=30,
            cutoff=now,
            dry_run=True,
            status="done",
            started_at=now,
        )
    )
    session.commit()


def _counts(session: Session, workspace_id: uuid.UUID) -> dict[str, int]:
    session.expire_all()
    return {
        t.name: session.scalar(
            select(func.count()).select_from(t).where(t.c.workspace_id == workspace_id)
        )
        or 0
        for t in SCOPED
    }


@pytest.fixture
def filled(session: Session, world: World) -> World:
    for tenant in (world.a, world.b):
        _fill(session, tenant, "both@example.com")
    return world


def test_everything_of_the_workspace_goes_and_nothing_else(
    engine: Engine, session: Session, filled: World, client: TestClient
) -> None:
    a, b = filled.a.workspace.id, filled.b.workspace.id
    before_a, before_b = _counts(session, a), _counts(session, b)
    assert all(before_a.values()), before_a  # the test reaches every scoped table
    users_before = session.scalar(select(func.count()).select_from(User))

    planned = removal.preview(session, a)
    session.rollback()
    seen: list[tuple[str, int]] = []
    done = removal.delete_workspace(
        make_sessionmaker(engine), a, batch=3, progress=lambda t, n: seen.append((t, n))
    )

    after_a = _counts(session, a)
    assert after_a == {name: (1 if name == "retention_runs" else 0) for name in after_a}
    assert _counts(session, b) == before_b
    assert session.get(Workspace, a) is None
    # The user whose only workspace it was is gone; the one in both stays, in B.
    assert session.scalar(select(func.count()).select_from(User)) == users_before - 1
    shared = session.scalars(select(User).where(User.email == "both@example.com")).one()
    assert session.scalars(
        select(Member.workspace_id).where(Member.user_id == shared.id)
    ).all() == [b]
    assert session.scalar(select(func.count()).select_from(MaintenancePermit)) == 0

    expected = {name: n for name, n in before_a.items() if name != "retention_runs"}
    assert done.removed == {**expected, "users": 1}
    assert planned.removed == done.removed
    assert list(planned.removed) == list(done.removed)  # printed in the same order
    assert ("snapshots", 3) in seen
    assert ("snapshots", 9) in seen

    # The removed workspace's key no longer opens anything; the other's still does.
    assert client.get("/v1/analytics", headers=filled.a.headers).status_code == 401
    answer = client.get("/v1/analytics", headers=filled.b.headers)
    assert answer.status_code == 200
    assert len(answer.json()["data"]) == before_b["snapshots"]


def test_a_run_stopped_half_way_finishes_when_run_again(
    engine: Engine, session: Session, filled: World
) -> None:
    a, b = filled.a.workspace.id, filled.b.workspace.id
    before_b = _counts(session, b)
    session.rollback()
    factory = make_sessionmaker(engine)

    def stop(table: str, removed: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        removal.delete_workspace(factory, a, batch=2, progress=stop)
    half = _counts(session, a)
    assert half["api_keys"] == 0
    assert half["members"] == 0
    assert half["snapshots"] == 9 - 2  # one batch committed
    assert session.get(Workspace, a) is not None

    again = removal.delete_workspace(factory, a, batch=2)
    assert again.removed["snapshots"] == 7
    assert again.removed["api_keys"] == 0
    session.expire_all()
    assert session.get(Workspace, a) is None
    assert _counts(session, b) == before_b


def test_an_unknown_workspace_is_a_lookup_error(engine: Engine, session: Session) -> None:
    with pytest.raises(LookupError):
        removal.delete_workspace(make_sessionmaker(engine), uuid.uuid4())
    with pytest.raises(LookupError):
        removal.preview(session, uuid.uuid4())
