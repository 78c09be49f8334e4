"""Readings are append-only: the database itself refuses UPDATE, and DELETE (or TRUNCATE)
unless the transaction holds a maintenance permit (retention, workspace deletion)."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from sqlalchemy import Engine, delete, func, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from openpost.accounts.models import AccountSnapshot
from openpost.analytics.models import Snapshot
from openpost.analytics.writer import Reading, append_snapshots
from openpost.core import clock
from openpost.core.db import make_sessionmaker
from openpost.refresh.models import RefreshState
from openpost.retention.models import MaintenancePermit
from openpost.retention.permits import permitted
from openpost.workspaces.models import Workspace
from tests.builders import World


def likes_of(engine: Engine, workspace_id: object) -> list[int | None]:
    with make_sessionmaker(engine)() as fresh:
        return sorted(
            fresh.scalars(select(Snapshot.likes).where(Snapshot.workspace_id == workspace_id)),
            key=lambda v: -1 if v is None else v,
        )


def test_orm_update_is_refused(engine: Engine, session: Session, world: World) -> None:
    before = likes_of(engine, world.a.workspace.id)
    snapshot = session.scalars(
        select(Snapshot).where(Snapshot.workspace_id == world.a.workspace.id)
    ).first()
    assert snapshot is not None
    snapshot.likes = 999_999
    with pytest.raises(DBAPIError, match="append-only"):
        session.flush()
    session.rollback()
    assert likes_of(engine, world.a.workspace.id) == before


def test_bulk_update_is_refused(engine: Engine, session: Session, world: World) -> None:
    before = likes_of(engine, world.a.workspace.id)
    with pytest.raises(DBAPIError, match="append-only"):
        session.execute(
            update(Snapshot)
            .where(Snapshot.workspace_id == world.a.workspace.id)
            .values(likes=Snapshot.likes + 1)
        )
    session.rollback()
    assert likes_of(engine, world.a.workspace.id) == before


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE snapshots SET likes = 0",
        "UPDATE snapshots SET likes = likes",  # even a no-op rewrite
        "UPDATE snapshots SET platform_data = platform_data",
        "UPDATE snapshots SET captured_at = captured_at",
    ],
)
def test_raw_sql_update_is_refused(engine: Engine, world: World, statement: str) -> None:
    before = likes_of(engine, world.a.workspace.id)
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(text(statement))
    assert likes_of(engine, world.a.workspace.id) == before


@pytest.mark.parametrize(
    "statement",
    [
        "DELETE FROM snapshots",
        "DELETE FROM snapshots WHERE likes = 12",
        "DELETE FROM account_snapshots",
        "DELETE FROM workspaces",  # the cascade reaches the readings
        "DELETE FROM integrations",
        "DELETE FROM post_targets",
    ],
)
def test_raw_sql_delete_is_refused(
    engine: Engine, session: Session, world: World, statement: str
) -> None:
    _account_rows(session, world)
    before = likes_of(engine, world.a.workspace.id), likes_of(engine, world.b.workspace.id)
    accounts = followers_of(engine, world.a.workspace.id)
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(text(statement))
    assert (likes_of(engine, world.a.workspace.id), likes_of(engine, world.b.workspace.id)) == (
        before
    )
    assert followers_of(engine, world.a.workspace.id) == accounts


def test_orm_delete_is_refused(engine: Engine, session: Session, world: World) -> None:
    before = likes_of(engine, world.a.workspace.id)
    with pytest.raises(DBAPIError, match="append-only"):
        session.execute(delete(Snapshot).where(Snapshot.workspace_id == world.a.workspace.id))
    session.rollback()
    assert likes_of(engine, world.a.workspace.id) == before


def test_truncate_is_refused(engine: Engine, world: World) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("TRUNCATE is PostgreSQL's (SQLite's DELETE without WHERE is tested above)")
    before = likes_of(engine, world.a.workspace.id)
    for table in ("snapshots", "account_snapshots"):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {table} CASCADE"))
    assert likes_of(engine, world.a.workspace.id) == before


def test_a_permitted_transaction_may_delete(engine: Engine, session: Session, world: World) -> None:
    cutoff = clock.now() - timedelta(minutes=45)
    with permitted(session, "retention"):
        result = session.execute(
            delete(Snapshot).where(
                Snapshot.workspace_id == world.a.workspace.id, Snapshot.captured_at < cutoff
            )
        )
    session.commit()
    assert result.rowcount == 1  # type: ignore[attr-defined]
    assert likes_of(engine, world.a.workspace.id) == [12]
    assert likes_of(engine, world.b.workspace.id) == [10, 12]

    # The refresh state's pointer to the deleted (older) snapshot is cleared, not dangling.
    state = session.get(RefreshState, world.a.targets[0].id)
    assert state is not None
    session.refresh(state)
    assert state.latest_snapshot_id is not None
    assert state.previous_snapshot_id is None

    # The permit was never committed: the next transaction is refused again.
    assert session.scalar(select(func.count()).select_from(MaintenancePermit)) == 0
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(text("DELETE FROM snapshots"))


def test_a_permit_is_seen_by_its_own_transaction_only(engine: Engine, world: World) -> None:
    """While one transaction holds a permit, another is still refused (PostgreSQL: the
    permit is uncommitted; SQLite: the other writer waits, then finds no permit)."""
    factory = make_sessionmaker(engine)
    with factory() as holder:
        with permitted(holder, "retention"):
            holder.execute(delete(Snapshot).where(Snapshot.workspace_id == world.a.workspace.id))
            if engine.dialect.name == "postgresql":
                with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
                    conn.execute(
                        text("DELETE FROM snapshots WHERE workspace_id = :w"),
                        {"w": world.b.workspace.id},
                    )
        holder.commit()
    assert likes_of(engine, world.a.workspace.id) == []
    assert likes_of(engine, world.b.workspace.id) == [10, 12]
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(text("DELETE FROM snapshots"))


def test_deleting_a_workspace_under_a_permit_removes_its_snapshots(
    engine: Engine, session: Session, world: World
) -> None:
    with permitted(session, "workspace delete"):
        session.execute(delete(Workspace).where(Workspace.id == world.a.workspace.id))
    session.commit()
    assert likes_of(engine, world.a.workspace.id) == []
    assert likes_of(engine, world.b.workspace.id) == [10, 12]


def test_a_repeated_capture_writes_nothing_and_updates_nothing(
    engine: Engine, session: Session, world: World
) -> None:
    """The writer's ON CONFLICT DO NOTHING skips a repeat without tripping the guard."""
    target = world.a.targets[0]
    at = clock.now() - timedelta(minutes=5)
    reading = Reading(
        workspace_id=target.workspace_id,
        integration_id=target.integration_id,
        post_target_id=target.id,
        captured_at=at,
        capture_key="slot-1",
        impressions=1,
        likes=1,
        comments=1,
        shares=1,
    )
    assert append_snapshots(session, [reading]) == 1
    changed = dataclasses.replace(reading, likes=500)
    assert append_snapshots(session, [changed]) == 0
    session.commit()
    count = session.scalar(
        select(func.count()).select_from(Snapshot).where(Snapshot.capture_key == "slot-1")
    )
    assert count == 1
    assert 500 not in likes_of(engine, world.a.workspace.id)


# ---- account snapshots (SPEC §9.4): the same guard, on their own table --------------------


def _account_rows(session: Session, world: World) -> list[AccountSnapshot]:
    now = clock.now()
    rows = [
        AccountSnapshot(
            workspace_id=tenant.workspace.id,
            integration_id=tenant.integration.id,
            followers=followers,
            following=None,
            posts=3,
            platform_data={"followers_count": followers},
            captured_at=now - timedelta(hours=hours),
            capture_key=f"test:{hours}",
        )
        for tenant in (world.a, world.b)
        for followers, hours in ((100, 2), (110, 1))
    ]
    session.add_all(rows)
    session.commit()
    return rows


def followers_of(engine: Engine, workspace_id: object) -> list[int | None]:
    with make_sessionmaker(engine)() as fresh:
        return sorted(
            v
            for v in fresh.scalars(
                select(AccountSnapshot.followers).where(
                    AccountSnapshot.workspace_id == workspace_id,
                    AccountSnapshot.capture_key.startswith("test:"),  # this file's rows
                )
            )
            if v is not None
        )


def test_account_snapshot_orm_update_is_refused(
    engine: Engine, session: Session, world: World
) -> None:
    row = _account_rows(session, world)[0]
    row.followers = 999_999
    with pytest.raises(DBAPIError, match="append-only"):
        session.flush()
    session.rollback()
    assert followers_of(engine, world.a.workspace.id) == [100, 110]


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE account_snapshots SET followers = 0",
        "UPDATE account_snapshots SET followers = followers",  # even a no-op rewrite
        "UPDATE account_snapshots SET following = 5",  # null to a number
        "UPDATE account_snapshots SET platform_data = platform_data",
        "UPDATE account_snapshots SET captured_at = captured_at",
    ],
)
def test_account_snapshot_raw_sql_update_is_refused(
    engine: Engine, session: Session, world: World, statement: str
) -> None:
    _account_rows(session, world)
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(text(statement))
    assert followers_of(engine, world.a.workspace.id) == [100, 110]


def test_account_snapshot_bulk_update_is_refused(
    engine: Engine, session: Session, world: World
) -> None:
    _account_rows(session, world)
    with pytest.raises(DBAPIError, match="append-only"):
        session.execute(
            update(AccountSnapshot)
            .where(AccountSnapshot.workspace_id == world.a.workspace.id)
            .values(followers=AccountSnapshot.followers + 1)
        )
    session.rollback()
    assert followers_of(engine, world.a.workspace.id) == [100, 110]


def test_account_snapshot_delete_under_a_permit(
    engine: Engine, session: Session, world: World
) -> None:
    _account_rows(session, world)
    cutoff = clock.now() - timedelta(minutes=90)
    with permitted(session, "retention"):
        result = session.execute(
            delete(AccountSnapshot).where(
                AccountSnapshot.workspace_id == world.a.workspace.id,
                AccountSnapshot.captured_at < cutoff,
            )
        )
    session.commit()
    assert result.rowcount == 1  # type: ignore[attr-defined]
    assert followers_of(engine, world.a.workspace.id) == [110]
    assert followers_of(engine, world.b.workspace.id) == [100, 110]
    with permitted(session, "workspace delete"):
        session.execute(delete(Workspace).where(Workspace.id == world.b.workspace.id))
    session.commit()
    assert followers_of(engine, world.b.workspace.id) == []
