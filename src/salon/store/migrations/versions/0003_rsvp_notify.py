"""event_rsvps.notify: "Notify me" off keeps a guest on a closed event's list

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 06:25:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("event_rsvps", schema=None) as batch_op:
        batch_op.add_column(sa.Column("notify", sa.Boolean(), server_default=sa.true(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("event_rsvps", schema=None) as batch_op:
        batch_op.drop_column("notify")
