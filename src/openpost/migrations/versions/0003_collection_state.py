"""collection state

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26

Shared collection state (``openpost.refresh.models``): platform rate windows, pauses and
daily reads (``platform_states``), each integration's discovery cursor
(``discovery_states``) and the scheduler's lease (``scheduler_leases``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from openpost.core.db import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "platform_states",
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("rate_limit", sa.Integer(), nullable=True),
        sa.Column("rate_remaining", sa.Integer(), nullable=True),
        sa.Column("rate_reset_at", UTCDateTime(), nullable=True),
        sa.Column("paused_until", UTCDateTime(), nullable=True),
        sa.Column("pause_reason", sa.String(length=64), nullable=True),
        sa.Column("pause_message", sa.String(length=500), nullable=True),
        sa.Column("budget_day", sa.String(length=10), nullable=True),
        sa.Column("reads_today", sa.Integer(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_platform_states")),
    )
    op.create_table(
        "discovery_states",
        sa.Column("integration_id", sa.Uuid(), nullable=False),
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("since_id", sa.String(length=255), nullable=True),
        sa.Column("next_due_at", UTCDateTime(), nullable=True),
        sa.Column("last_attempt_at", UTCDateTime(), nullable=True),
        sa.Column("last_success_at", UTCDateTime(), nullable=True),
        sa.Column("outcome", sa.String(length=24), nullable=False),
        sa.Column("error_code", sa.String(length=64), nullable=True),
        sa.Column("error_message", sa.String(length=500), nullable=True),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("discovered", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integrations.id"],
            name=op.f("fk_discovery_states_integration_id_integrations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_discovery_states_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("integration_id", name=op.f("pk_discovery_states")),
    )
    with op.batch_alter_table("discovery_states", schema=None) as batch_op:
        batch_op.create_index("ix_discovery_states_due", ["next_due_at"], unique=False)
        batch_op.create_index("ix_discovery_states_workspace", ["workspace_id"], unique=False)

    op.create_table(
        "scheduler_leases",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("holder", sa.String(length=128), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_scheduler_leases")),
    )


def downgrade() -> None:
    op.drop_table("scheduler_leases")
    with op.batch_alter_table("discovery_states", schema=None) as batch_op:
        batch_op.drop_index("ix_discovery_states_workspace")
        batch_op.drop_index("ix_discovery_states_due")
    op.drop_table("discovery_states")
    op.drop_table("platform_states")
