"""target previews

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03

``post_targets.preview_url``: the platform's own preview image of a post (an X post's first
attached photo, or a video's still), as discovery found it; shown on the posts and post
pages. Only URLs on the hosts the platform's spec lists are kept (``preview_hosts``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("post_targets") as batch:
        batch.add_column(sa.Column("preview_url", sa.String(length=2048), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("post_targets") as batch:
        batch.drop_column("preview_url")
