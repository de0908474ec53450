"""Files: status and error, one copy of the same bytes per owner, chunks, chat links.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("files") as batch:
        # Files stored before now were never read: they are still to be processed.
        batch.add_column(
            sa.Column("status", sa.String(16), nullable=False, server_default="processing")
        )
        batch.add_column(sa.Column("error", sa.Text(), nullable=True))
    op.create_index("ix_files_owner_id_sha256", "files", ["owner_id", "sha256"], unique=True)
    op.create_index("ix_files_owner_id_id", "files", ["owner_id", "id"])
    op.create_table(
        "chat_files",
        sa.Column("chat_id", sa.Uuid(), nullable=False),
        sa.Column("file_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("chat_id", "file_id", name="pk_chat_files"),
        sa.ForeignKeyConstraint(
            ["chat_id"], ["chats.id"], name="fk_chat_files_chat_id_chats", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["file_id"], ["files.id"], name="fk_chat_files_file_id_files", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_chat_files_file_id", "chat_files", ["file_id"])
    op.create_table(
        "file_chunks",
        sa.Column("file_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("page", sa.Integer(), nullable=True),
        sa.Column("heading", sa.String(500), nullable=True),
        sa.PrimaryKeyConstraint("file_id", "number", name="pk_file_chunks"),
        sa.ForeignKeyConstraint(
            ["file_id"], ["files.id"], name="fk_file_chunks_file_id_files", ondelete="CASCADE"
        ),
    )
    _chunk_search_up()


# The chunks' words, for retrieval's lexical half (exact codes and names): as messages
# are indexed in 0008, and with the same tokenising, kept in step by the database.
_SQLITE_UP = [
    """
    CREATE VIRTUAL TABLE file_chunks_fts USING fts5(
        text, content='file_chunks', content_rowid='rowid',
        tokenize='unicode61 remove_diacritics 0'
    )
    """,
    """
    CREATE TRIGGER file_chunks_fts_insert AFTER INSERT ON file_chunks BEGIN
        INSERT INTO file_chunks_fts (rowid, text) VALUES (new.rowid, new.text);
    END
    """,
    """
    CREATE TRIGGER file_chunks_fts_delete AFTER DELETE ON file_chunks BEGIN
        INSERT INTO file_chunks_fts (file_chunks_fts, rowid, text)
        VALUES ('delete', old.rowid, old.text);
    END
    """,
]
_SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS file_chunks_fts_delete",
    "DROP TRIGGER IF EXISTS file_chunks_fts_insert",
    "DROP TABLE IF EXISTS file_chunks_fts",
]


def _chunk_search_up() -> None:
    if op.get_context().dialect.name == "sqlite":
        for statement in _SQLITE_UP:
            op.execute(statement)
    else:  # a new, empty table: no need to build it concurrently
        op.execute(
            "CREATE INDEX ix_file_chunks_search ON file_chunks"
            " USING gin (to_tsvector('simple', text))"
        )


def downgrade() -> None:
    if op.get_context().dialect.name == "sqlite":
        for statement in _SQLITE_DOWN:
            op.execute(statement)
    else:
        op.execute("DROP INDEX IF EXISTS ix_file_chunks_search")
    op.drop_table("file_chunks")
    op.drop_index("ix_chat_files_file_id", table_name="chat_files")
    op.drop_table("chat_files")
    op.drop_index("ix_files_owner_id_id", table_name="files")
    op.drop_index("ix_files_owner_id_sha256", table_name="files")
    with op.batch_alter_table("files") as batch:
        batch.drop_column("error")
        batch.drop_column("status")
