"""the admin area: instance settings, the instance's own log (moderation_log rows with no room), report
resolutions, waitlist dismissals

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 18:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import salon.store.tables

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "instance_settings",
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("updated_by", sa.String(length=32), nullable=True),
        sa.Column("updated_at", salon.store.tables.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["updated_by"], ["users.id"], name=op.f("fk_instance_settings_updated_by_users")
        ),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_instance_settings")),
    )
    with op.batch_alter_table("moderation_log", schema=None) as batch_op:
        batch_op.alter_column("room_id", existing_type=sa.String(length=32), nullable=True)
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.add_column(sa.Column("resolved_by", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("resolution_note", sa.Text(), nullable=True))
        batch_op.create_foreign_key(op.f("fk_reports_resolved_by_users"), "users", ["resolved_by"], ["id"])
    with op.batch_alter_table("waitlist", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dismissed_at", salon.store.tables.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("waitlist", schema=None) as batch_op:
        batch_op.drop_column("dismissed_at")
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("fk_reports_resolved_by_users"), type_="foreignkey")
        batch_op.drop_column("resolution_note")
        batch_op.drop_column("resolved_by")
    op.execute("DELETE FROM moderation_log WHERE room_id IS NULL")
    with op.batch_alter_table("moderation_log", schema=None) as batch_op:
        batch_op.alter_column("room_id", existing_type=sa.String(length=32), nullable=False)
    op.drop_table("instance_settings")
