"""target deleted_at

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04

``post_targets.deleted_at``: when collection learned that the platform reports the post
deleted (SPEC §9.6: an answer "as of" a time shows the target's status then). Targets
already marked deleted get the time of this upgrade, the latest moment known to be true:
as-of answers from before it show them as still published.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from openpost.core.db import UTCDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("post_targets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("deleted_at", UTCDateTime(), nullable=True))
    targets = sa.table(
        "post_targets", sa.column("status", sa.String()), sa.column("deleted_at", UTCDateTime())
    )
    op.execute(
        targets.update().where(targets.c.status == "deleted").values(deleted_at=datetime.now(UTC))
    )


def downgrade() -> None:
    with op.batch_alter_table("post_targets", schema=None) as batch_op:
        batch_op.drop_column("deleted_at")
