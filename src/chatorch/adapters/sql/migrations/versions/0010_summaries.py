"""Chat summaries, with the lease of the process writing the next one.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "chat_summaries",
        sa.Column("chat_id", sa.Uuid(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False, server_default=sa.text("''")),
        sa.Column("prompt", sa.String(80), nullable=False, server_default=sa.text("''")),
        sa.Column("through_message_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("leased_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("chat_id", name="pk_chat_summaries"),
        sa.ForeignKeyConstraint(
            ["chat_id"], ["chats.id"], name="fk_chat_summaries_chat_id_chats", ondelete="CASCADE"
        ),
    )


def downgrade() -> None:
    op.drop_table("chat_summaries")
