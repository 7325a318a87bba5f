"""room languages: a room's floor language, its interpretation channels and booths; a scheduled event's languages

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 08:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# The lead renumbers this migration when branches merge: change these two lines (and the file name) only.
revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "room_languages",
        sa.Column("room_id", sa.String(length=32), nullable=False),
        sa.Column("floor", sa.String(length=8), nullable=False),
        sa.Column("ducking_db", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["room_id"], ["rooms.id"], name=op.f("fk_room_languages_room_id_rooms"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("room_id", name=op.f("pk_room_languages")),
    )
    op.create_table(
        "room_channels",
        sa.Column("room_id", sa.String(length=32), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("live_id", sa.String(length=32), nullable=True),
        sa.Column("handover_to", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["room_id"], ["rooms.id"], name=op.f("fk_room_channels_room_id_rooms"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["live_id"], ["users.id"], name=op.f("fk_room_channels_live_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["handover_to"], ["users.id"], name=op.f("fk_room_channels_handover_to_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("room_id", "language", name=op.f("pk_room_channels")),
    )
    op.create_index("ix_room_channels_language", "room_channels", ["language"], unique=False)
    op.create_table(
        "room_interpreters",
        sa.Column("room_id", sa.String(length=32), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["room_id"], ["rooms.id"], name=op.f("fk_room_interpreters_room_id_rooms"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_room_interpreters_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("room_id", "language", "user_id", name=op.f("pk_room_interpreters")),
    )
    op.create_index(op.f("ix_room_interpreters_user_id"), "room_interpreters", ["user_id"], unique=False)
    op.create_table(
        "event_languages",
        sa.Column("event_id", sa.String(length=32), nullable=False),
        sa.Column("floor", sa.String(length=8), nullable=False),
        sa.Column("channels", sa.JSON(), nullable=False),
        sa.Column("ducking_db", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_event_languages_event_id_events"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_event_languages")),
    )


def downgrade() -> None:
    op.drop_table("event_languages")
    op.drop_index(op.f("ix_room_interpreters_user_id"), table_name="room_interpreters")
    op.drop_table("room_interpreters")
    op.drop_index("ix_room_channels_language", table_name="room_channels")
    op.drop_table("room_channels")
    op.drop_table("room_languages")
