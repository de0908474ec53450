"""Threads: where each conversation an OpenAI client keeps stands in its chat.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "chat_threads",
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("chat_id", sa.Uuid(), nullable=False),
        sa.Column("response_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("owner_id", "fingerprint", name="pk_chat_threads"),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name="fk_chat_threads_owner_id_users", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["chat_id"], ["chats.id"], name="fk_chat_threads_chat_id_chats", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_chat_threads_chat_id", "chat_threads", ["chat_id"])


def downgrade() -> None:
    op.drop_index("ix_chat_threads_chat_id", table_name="chat_threads")
    op.drop_table("chat_threads")
