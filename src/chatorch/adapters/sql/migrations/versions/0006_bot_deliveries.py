"""Answers owed to a platform: stored, not yet shown where they were asked.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "bot_deliveries",
        sa.Column("response_id", sa.Uuid(), nullable=False),
        sa.Column("bot_id", sa.Uuid(), nullable=False),
        sa.Column("message_id", sa.Uuid(), nullable=False),
        sa.Column("chat_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("response_id", name="pk_bot_deliveries"),
        sa.ForeignKeyConstraint(
            ["bot_id"], ["bots.id"], name="fk_bot_deliveries_bot_id_bots", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name="fk_bot_deliveries_message_id_messages",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_bot_deliveries_bot_id", "bot_deliveries", ["bot_id"])
    op.create_index("ix_bot_deliveries_message_id", "bot_deliveries", ["message_id"])


def downgrade() -> None:
    op.drop_index("ix_bot_deliveries_message_id", table_name="bot_deliveries")
    op.drop_index("ix_bot_deliveries_bot_id", table_name="bot_deliveries")
    op.drop_table("bot_deliveries")
