"""retention runs

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04

``retention_runs`` (SPEC §9.9, ``openpost.retention.models``): one row per workspace per
``openpost retention apply``, dry runs included: the cutoff, how many readings it examined
and removed, when it started and finished. No foreign key to the workspace, so the record
outlives a deleted workspace.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from openpost.core.db import UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "retention_runs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("older_than_days", sa.Integer(), nullable=False),
        sa.Column("cutoff", UTCDateTime(), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("snapshots_examined", sa.BigInteger(), nullable=False),
        sa.Column("snapshots_removed", sa.BigInteger(), nullable=False),
        sa.Column("account_snapshots_examined", sa.BigInteger(), nullable=False),
        sa.Column("account_snapshots_removed", sa.BigInteger(), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retention_runs")),
    )


def downgrade() -> None:
    op.drop_table("retention_runs")
