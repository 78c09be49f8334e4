"""delete guard on readings

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04

Readings were append-only against UPDATE only. From here a DELETE on ``snapshots`` or
``account_snapshots`` is refused too, unless the deleting transaction holds a row of the new
``maintenance_permits`` table (``openpost.retention.permits``): retention and workspace
deletion take one for the length of their transaction; nothing else does. On PostgreSQL the
check is one per statement (and TRUNCATE is guarded too); on SQLite, a trigger per row whose
``WHEN`` looks at the (empty or one-row) permits table.

Also indexes on ``refresh_states``' two snapshot pointers: deleting a snapshot sets them to
NULL (``ON DELETE SET NULL``), which without an index scans every refresh state per deleted
snapshot.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from openpost.core.db import UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

GUARDED = ("snapshots", "account_snapshots")

_SQLITE_GUARDS = [
    """
CREATE TRIGGER snapshots_delete_guard BEFORE DELETE ON snapshots
WHEN NOT EXISTS (SELECT 1 FROM maintenance_permits)
BEGIN
    SELECT RAISE(ABORT, 'snapshots are append-only: only retention and workspace delete remove them');
END
""",
    """
CREATE TRIGGER account_snapshots_delete_guard BEFORE DELETE ON account_snapshots
WHEN NOT EXISTS (SELECT 1 FROM maintenance_permits)
BEGIN
    SELECT RAISE(ABORT, 'account snapshots are append-only: only retention and workspace delete remove them');
END
""",
]

_POSTGRES_FUNCTIONS = [
    """
CREATE FUNCTION snapshots_delete_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM maintenance_permits) THEN
        RAISE EXCEPTION 'snapshots are append-only: only retention and workspace delete remove them';
    END IF;
    RETURN NULL;
END
$$
""",
    """
CREATE FUNCTION account_snapshots_delete_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM maintenance_permits) THEN
        RAISE EXCEPTION 'account snapshots are append-only: only retention and workspace delete remove them';
    END IF;
    RETURN NULL;
END
$$
""",
]

_POSTGRES_TRIGGERS = [
    "CREATE TRIGGER snapshots_delete_guard BEFORE DELETE ON snapshots"
    " FOR EACH STATEMENT EXECUTE FUNCTION snapshots_delete_guard()",
    "CREATE TRIGGER snapshots_truncate_guard BEFORE TRUNCATE ON snapshots"
    " FOR EACH STATEMENT EXECUTE FUNCTION snapshots_delete_guard()",
    "CREATE TRIGGER account_snapshots_delete_guard BEFORE DELETE ON account_snapshots"
    " FOR EACH STATEMENT EXECUTE FUNCTION account_snapshots_delete_guard()",
    "CREATE TRIGGER account_snapshots_truncate_guard BEFORE TRUNCATE ON account_snapshots"
    " FOR EACH STATEMENT EXECUTE FUNCTION account_snapshots_delete_guard()",
]


def upgrade() -> None:
    op.create_table(
        "maintenance_permits",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_maintenance_permits")),
    )
    postgres = op.get_bind().dialect.name == "postgresql"
    for statement in [*_POSTGRES_FUNCTIONS, *_POSTGRES_TRIGGERS] if postgres else _SQLITE_GUARDS:
        op.execute(statement)
    with op.batch_alter_table("refresh_states", schema=None) as batch_op:
        batch_op.create_index("ix_refresh_states_latest_snapshot", ["latest_snapshot_id"])
        batch_op.create_index("ix_refresh_states_previous_snapshot", ["previous_snapshot_id"])


def downgrade() -> None:
    with op.batch_alter_table("refresh_states", schema=None) as batch_op:
        batch_op.drop_index("ix_refresh_states_previous_snapshot")
        batch_op.drop_index("ix_refresh_states_latest_snapshot")
    postgres = op.get_bind().dialect.name == "postgresql"
    for table in GUARDED:
        if postgres:
            for event in ("delete", "truncate"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_{event}_guard ON {table}")
            op.execute(f"DROP FUNCTION IF EXISTS {table}_delete_guard()")
        else:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_delete_guard")
    op.drop_table("maintenance_permits")
