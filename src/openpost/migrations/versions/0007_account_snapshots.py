"""account snapshots

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03

Account snapshots (SPEC §9.4, ``openpost.accounts.models``): one reading of a connected
account's own counters (followers, following, posts; ``null`` where the platform reports
none) per collection, append-only like post snapshots, enforced by a trigger on both
engines (UPDATE refused, DELETE allowed for retention). And ``account_read_states``: when
each integration's account is read next.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from openpost.core.db import UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

SQLITE_GUARD = """
CREATE TRIGGER account_snapshots_append_only BEFORE UPDATE ON account_snapshots
BEGIN
    SELECT RAISE(ABORT, 'account snapshots are append-only');
END
"""

POSTGRES_GUARD_FUNCTION = """
CREATE FUNCTION account_snapshots_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'account snapshots are append-only';
END
$$
"""

POSTGRES_GUARD_TRIGGER = """
CREATE TRIGGER account_snapshots_append_only BEFORE UPDATE ON account_snapshots
FOR EACH ROW EXECUTE FUNCTION account_snapshots_append_only()
"""


def upgrade() -> None:
    op.create_table(
        "account_snapshots",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("integration_id", sa.Uuid(), nullable=False),
        sa.Column("followers", sa.BigInteger(), nullable=True),
        sa.Column("following", sa.BigInteger(), nullable=True),
        sa.Column("posts", sa.BigInteger(), nullable=True),
        sa.Column(
            "platform_data",
            sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
            nullable=False,
        ),
        sa.Column("captured_at", UTCDateTime(), nullable=False),
        sa.Column("capture_key", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integrations.id"],
            name=op.f("fk_account_snapshots_integration_id_integrations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_account_snapshots_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_snapshots")),
    )
    with op.batch_alter_table("account_snapshots", schema=None) as batch_op:
        batch_op.create_index(
            "ix_account_snapshots_integration_time",
            ["integration_id", "captured_at", "id"],
            unique=False,
        )
        batch_op.create_index(
            "ix_account_snapshots_workspace_time",
            ["workspace_id", "captured_at", "id"],
            unique=False,
        )
        batch_op.create_index(
            "uq_account_snapshots_integration_capture_key",
            ["integration_id", "capture_key"],
            unique=True,
        )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(POSTGRES_GUARD_FUNCTION)
        op.execute(POSTGRES_GUARD_TRIGGER)
    else:
        op.execute(SQLITE_GUARD)

    op.create_table(
        "account_read_states",
        sa.Column("integration_id", sa.Uuid(), nullable=False),
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("next_due_at", UTCDateTime(), nullable=True),
        sa.Column("last_attempt_at", UTCDateTime(), nullable=True),
        sa.Column("last_success_at", UTCDateTime(), nullable=True),
        sa.Column("outcome", sa.String(length=24), nullable=False),
        sa.Column("error_code", sa.String(length=64), nullable=True),
        sa.Column("error_message", sa.String(length=500), nullable=True),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integrations.id"],
            name=op.f("fk_account_read_states_integration_id_integrations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_account_read_states_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("integration_id", name=op.f("pk_account_read_states")),
    )
    with op.batch_alter_table("account_read_states", schema=None) as batch_op:
        batch_op.create_index("ix_account_read_states_due", ["next_due_at"], unique=False)
        batch_op.create_index("ix_account_read_states_workspace", ["workspace_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("account_read_states", schema=None) as batch_op:
        batch_op.drop_index("ix_account_read_states_workspace")
        batch_op.drop_index("ix_account_read_states_due")
    op.drop_table("account_read_states")
    postgres = op.get_bind().dialect.name == "postgresql"
    op.execute(
        "DROP TRIGGER IF EXISTS account_snapshots_append_only"
        + (" ON account_snapshots" if postgres else "")
    )
    if postgres:
        op.execute("DROP FUNCTION IF EXISTS account_snapshots_append_only()")
    with op.batch_alter_table("account_snapshots", schema=None) as batch_op:
        batch_op.drop_index("uq_account_snapshots_integration_capture_key")
        batch_op.drop_index("ix_account_snapshots_workspace_time")
        batch_op.drop_index("ix_account_snapshots_integration_time")
    op.drop_table("account_snapshots")
