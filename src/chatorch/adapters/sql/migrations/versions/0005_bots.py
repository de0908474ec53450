"""Bots (credentials encrypted), their conversations' chats and their sent messages.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "bots",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("credentials", sa.Text(), nullable=False),
        sa.Column("llm", sa.String(500), nullable=True),
        sa.Column("tools", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_bots"),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name="fk_bots_owner_id_users", ondelete="CASCADE"
        ),
    )
    op.create_table(
        "bot_chats",
        sa.Column("bot_id", sa.Uuid(), nullable=False),
        sa.Column("conversation", sa.String(255), nullable=False),
        sa.Column("chat_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("bot_id", "conversation", name="pk_bot_chats"),
        sa.ForeignKeyConstraint(
            ["bot_id"], ["bots.id"], name="fk_bot_chats_bot_id_bots", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["chat_id"], ["chats.id"], name="fk_bot_chats_chat_id_chats", ondelete="CASCADE"
        ),
        sa.UniqueConstraint("chat_id", name="uq_bot_chats_chat_id"),
    )
    op.create_table(
        "bot_sends",
        sa.Column("response_id", sa.Uuid(), nullable=False),
        sa.Column("part", sa.Integer(), nullable=False),
        sa.Column("bot_id", sa.Uuid(), nullable=False),
        sa.Column("message_id", sa.String(255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("response_id", "part", name="pk_bot_sends"),
        sa.ForeignKeyConstraint(
            ["bot_id"], ["bots.id"], name="fk_bot_sends_bot_id_bots", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_bot_sends_bot_id", "bot_sends", ["bot_id"])


def downgrade() -> None:
    op.drop_index("ix_bot_sends_bot_id", table_name="bot_sends")
    op.drop_table("bot_sends")
    op.drop_table("bot_chats")
    op.drop_table("bots")
