"""Pending questions indexed by chat: a claim's cost stays flat as a chat grows.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 01:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PENDING_QUESTION = "status = 'pending' AND role = 'user'"


def upgrade() -> None:
    op.create_index(
        "ix_messages_pending_questions",
        "messages",
        ["chat_id", "response_id"],
        sqlite_where=sa.text(PENDING_QUESTION),
        postgresql_where=sa.text(PENDING_QUESTION),
    )


def downgrade() -> None:
    op.drop_index("ix_messages_pending_questions", table_name="messages")
