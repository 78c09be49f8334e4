"""oauth attempts

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26

One row per owner-consent round trip in progress
(``openpost.dashboard.models.OAuthAttempt``): the SHA-256 of the ``state`` sent to the
platform, the dashboard login and workspace it belongs to, the sealed PKCE verifier and when
it expires. The callback deletes the row (single use).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from openpost.core.db import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "oauth_attempts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("state_hash", sa.String(length=64), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("verifier_sealed", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["dashboard_sessions.id"],
            name=op.f("fk_oauth_attempts_session_id_dashboard_sessions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_oauth_attempts_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oauth_attempts")),
        sa.UniqueConstraint("state_hash", name=op.f("uq_oauth_attempts_state_hash")),
    )
    with op.batch_alter_table("oauth_attempts", schema=None) as batch_op:
        batch_op.create_index("ix_oauth_attempts_expires", ["expires_at"], unique=False)
        batch_op.create_index("ix_oauth_attempts_session", ["session_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("oauth_attempts", schema=None) as batch_op:
        batch_op.drop_index("ix_oauth_attempts_session")
        batch_op.drop_index("ix_oauth_attempts_expires")
    op.drop_table("oauth_attempts")
