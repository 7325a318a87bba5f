"""notification preferences: the groups a member turned off, and a pause

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 07:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import salon.store.tables

# The lead renumbers this migration when branches merge: change these two lines (and the file name) only.
revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "notification_prefs",
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("off_groups", sa.JSON(), nullable=False),
        sa.Column("paused_until", salon.store.tables.UTCDateTime(), nullable=True),
        sa.Column("updated_at", salon.store.tables.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_notification_prefs_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_notification_prefs")),
    )


def downgrade() -> None:
    op.drop_table("notification_prefs")
