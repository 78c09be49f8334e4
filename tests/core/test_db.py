"""``UTCDateTime``: naive datetimes are refused; aware ones come back as the same UTC instant."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import StatementError
from sqlalchemy.orm import Session

from openpost.core.db import make_sessionmaker
from openpost.workspaces.models import Workspace
from tests import builders

KOLKATA = timezone(timedelta(hours=5, minutes=30))


def test_naive_datetime_is_refused(session: Session) -> None:
    workspace = builders.make_workspace(session)
    workspace.created_at = datetime(2026, 4, 16, 10, 0)  # noqa: DTZ001 - the point of the test
    with pytest.raises(StatementError, match="naive datetime"):
        session.flush()


def test_naive_datetime_is_refused_in_a_where_clause(session: Session) -> None:
    query = select(Workspace.id).where(
        Workspace.created_at < datetime(2026, 4, 16)  # noqa: DTZ001 - the point of the test
    )
    with pytest.raises(StatementError, match="naive datetime"):
        session.execute(query)


@pytest.mark.parametrize(
    "written",
    [
        datetime(2026, 4, 16, 15, 30, 0, tzinfo=KOLKATA),
        datetime(2026, 4, 16, 10, 0, 0, 123456, tzinfo=UTC),
        datetime(2026, 3, 29, 1, 59, 59, tzinfo=timezone(timedelta(hours=-9))),
        datetime(1970, 1, 1, tzinfo=UTC),
    ],
)
def test_aware_datetime_round_trips_as_utc(
    engine: Engine, session: Session, written: datetime
) -> None:
    workspace = builders.make_workspace(session)
    workspace.created_at = written
    session.commit()

    with make_sessionmaker(engine)() as fresh:
        read = fresh.scalar(select(Workspace.created_at).where(Workspace.id == workspace.id))
    assert read == written
    assert read is not None
    assert read.tzinfo is not None
    assert read.utcoffset() == timedelta(0)


def test_stored_value_is_utc_whatever_the_session_timezone(
    engine: Engine, session: Session
) -> None:
    workspace = builders.make_workspace(session)
    workspace.created_at = datetime(2026, 4, 16, 15, 30, tzinfo=KOLKATA)
    session.commit()

    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            # LOCAL: the pooled connection goes back to other tests unchanged.
            conn.execute(text("SET LOCAL TIME ZONE 'America/Los_Angeles'"))
            raw = conn.execute(
                text(
                    "SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') "
                    "FROM workspaces WHERE name = :name"
                ),
                {"name": workspace.name},
            ).scalar_one()
        else:
            raw = conn.execute(
                text("SELECT created_at FROM workspaces WHERE name = :name"),
                {"name": workspace.name},
            ).scalar_one()
        read = conn.execute(
            select(Workspace.created_at).where(Workspace.id == workspace.id)
        ).scalar_one()
    assert str(raw).startswith("2026-04-16 10:00:00")
    assert read == datetime(2026, 4, 16, 10, 0, tzinfo=UTC)
    assert read.utcoffset() == timedelta(0)


def test_comparisons_use_the_utc_instant(session: Session) -> None:
    workspace = builders.make_workspace(session)
    workspace.created_at = datetime(2026, 4, 16, 10, 0, tzinfo=UTC)
    session.commit()
    same_instant_elsewhere = datetime(2026, 4, 16, 15, 30, tzinfo=KOLKATA)
    found = session.scalars(
        select(Workspace.id).where(Workspace.created_at >= same_instant_elsewhere)
    ).all()
    later = session.scalars(
        select(Workspace.id).where(
            Workspace.created_at >= same_instant_elsewhere + timedelta(seconds=1)
        )
    ).all()
    assert workspace.id in found
    assert workspace.id not in later
