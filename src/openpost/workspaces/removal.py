"""Remove a workspace and everything of it (SPEC §9.9, ``openpost workspace delete``).

In three steps, each safe to repeat if a run is stopped half-way:

1. One transaction cuts the workspace off: its API keys, dashboard members and sessions,
   webhooks (and their pending deliveries), collection states and every other row that lets
   someone reach it or makes the service work for it. Users whose only membership it was
   go too. From here no request is answered for it and nothing is collected.
2. Its readings (post snapshots, then account snapshots) go in batches, each in its own
   short transaction under a maintenance permit, so the service keeps answering for the
   other workspaces while a large workspace is removed.
3. One transaction removes the workspace row; the database's ``ON DELETE CASCADE`` takes its
   integrations, posts and post targets, and any reading a collection still in flight wrote
   after step 2.

``retention_runs`` rows are kept: they name the workspace by id only, and record what was
removed before.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Table, delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from openpost.accounts.models import AccountSnapshot
from openpost.analytics.models import Snapshot
from openpost.core.db import Base, transaction
from openpost.integrations.models import Integration
from openpost.posts.models import Post, PostTarget
from openpost.retention.models import RetentionRun
from openpost.retention.permits import permitted
from openpost.workspaces.models import Member, User, Workspace

BATCH = 5_000
"""Readings deleted per transaction."""

READINGS: tuple[type[Snapshot] | type[AccountSnapshot], ...] = (Snapshot, AccountSnapshot)
CASCADED = (Integration, Post, PostTarget)
"""Removed with the workspace row in step 3 (after their readings are gone)."""
KEPT = (RetentionRun,)
"""The operator's record of earlier runs: it outlives the workspace."""


@dataclass(slots=True)
class Removal:
    workspace_id: uuid.UUID
    name: str
    removed: dict[str, int] = field(default_factory=dict)
    """Rows removed per table name; ``users`` counts the users left without a workspace."""


def _step_one_tables() -> list[Table]:
    """Every table scoped to a workspace that is neither readings, cascaded nor kept,
    children before parents."""
    skipped = {m.__tablename__ for m in (*READINGS, *CASCADED, *KEPT)}
    return [
        table
        for table in reversed(Base.metadata.sorted_tables)
        if "workspace_id" in table.c and table.name not in skipped
    ]


def _names() -> list[str]:
    """Every table a removal counts, readings first, then ``users``."""
    first = [m.__tablename__ for m in (*READINGS, *CASCADED)]
    return [*first, *(t.name for t in _step_one_tables()), "users"]


def _lonely_users(session: Session, workspace_id: uuid.UUID) -> list[uuid.UUID]:
    """Users who are members of this workspace and of no other."""
    elsewhere = select(Member.user_id).where(Member.workspace_id != workspace_id)
    return list(
        session.scalars(
            select(Member.user_id).where(
                Member.workspace_id == workspace_id, Member.user_id.not_in(elsewhere)
            )
        )
    )


def preview(session: Session, workspace_id: uuid.UUID) -> Removal:
    """What ``delete_workspace`` would remove, counted now; raises ``LookupError``."""
    workspace = session.get(Workspace, workspace_id)
    if workspace is None:
        raise LookupError(f"no workspace {workspace_id}")
    removal = Removal(workspace_id, workspace.name)
    for table in (Base.metadata.tables[name] for name in _names()[:-1]):
        removal.removed[table.name] = (
            session.scalar(
                select(func.count()).select_from(table).where(table.c.workspace_id == workspace_id)
            )
            or 0
        )
    removal.removed["users"] = len(_lonely_users(session, workspace_id))
    return removal


def delete_workspace(
    factory: sessionmaker[Session],
    workspace_id: uuid.UUID,
    *,
    batch: int = BATCH,
    progress: Callable[[str, int], None] | None = None,
) -> Removal:
    """Remove the workspace and every row of it; raises ``LookupError`` if there is none."""
    with transaction(factory) as session:
        workspace = session.get(Workspace, workspace_id)
        if workspace is None:
            raise LookupError(f"no workspace {workspace_id}")
        removal = Removal(workspace_id, workspace.name)
        users = _lonely_users(session, workspace_id)
        for table in _step_one_tables():
            result = session.execute(delete(table).where(table.c.workspace_id == workspace_id))
            removal.removed[table.name] = _rowcount(result)
        if users:
            session.execute(delete(User).where(User.id.in_(users)))
        removal.removed["users"] = len(users)

    for model in READINGS:
        removal.removed[model.__tablename__] = _drain(factory, model, workspace_id, batch, progress)

    with transaction(factory) as session, permitted(session, "workspace delete"):
        for name in (m.__tablename__ for m in (*READINGS, *CASCADED)):
            table = Base.metadata.tables[name]
            late = session.scalar(
                select(func.count()).select_from(table).where(table.c.workspace_id == workspace_id)
            )
            removal.removed[name] = removal.removed.get(name, 0) + (late or 0)
        session.execute(delete(Workspace).where(Workspace.id == workspace_id))
    # In ``preview``'s order, so that what was shown and what was done read alike.
    removal.removed = {name: removal.removed[name] for name in _names()}
    return removal


def _drain(
    factory: sessionmaker[Session],
    model: type[Snapshot] | type[AccountSnapshot],
    workspace_id: uuid.UUID,
    batch: int,
    progress: Callable[[str, int], None] | None,
) -> int:
    removed = 0
    while True:
        with transaction(factory) as session, permitted(session, "workspace delete"):
            ids = select(model.id).where(model.workspace_id == workspace_id).limit(batch)
            done = _rowcount(
                session.execute(
                    delete(model)
                    .where(model.id.in_(ids))
                    .execution_options(synchronize_session=False)
                )
            )
        removed += done
        if progress is not None:
            progress(model.__tablename__, removed)
        if done < batch:
            return removed


def _rowcount(result: object) -> int:
    count: int = result.rowcount  # type: ignore[attr-defined]
    return count
