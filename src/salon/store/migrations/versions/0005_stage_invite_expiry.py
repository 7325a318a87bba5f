"""participants.invited_until: when an unanswered invitation up lapses

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 18:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import salon.store.tables

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Invitations standing at the upgrade keep no deadline: they never lapse, as before (the next one does).
    with op.batch_alter_table("participants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("invited_until", salon.store.tables.UTCDateTime(), nullable=True))
        batch_op.create_index("ix_participants_invited_until", ["invited_until"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("participants", schema=None) as batch_op:
        batch_op.drop_index("ix_participants_invited_until")
        batch_op.drop_column("invited_until")
