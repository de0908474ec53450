"""Full-text search over messages: FTS5 on SQLite, a GIN tsvector index on PostgreSQL.

Neither is a model: the database keeps both in step with ``messages`` by itself
(triggers; an index), so every writer — the hand-written statements of the message
path included — and every delete, cascades included, updates them in its own
transaction. Existing messages are indexed here. ADR 0017.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 00:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# External content: the index only; snippets read the text from messages by rowid.
# unicode61 without diacritic removal splits and lower-cases words as PostgreSQL's
# 'simple' configuration does, so both modes find the same messages.
_SQLITE_UP = [
    """
    CREATE VIRTUAL TABLE messages_fts USING fts5(
        content, content='messages', content_rowid='rowid',
        tokenize='unicode61 remove_diacritics 0'
    )
    """,
    """
    CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
        INSERT INTO messages_fts (rowid, content) VALUES (new.rowid, new.content);
    END
    """,
    """
    CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
        INSERT INTO messages_fts (messages_fts, rowid, content)
        VALUES ('delete', old.rowid, old.content);
    END
    """,
    # Only a change of the text: status updates on the message path cost nothing here.
    """
    CREATE TRIGGER messages_fts_update AFTER UPDATE OF content ON messages BEGIN
        INSERT INTO messages_fts (messages_fts, rowid, content)
        VALUES ('delete', old.rowid, old.content);
        INSERT INTO messages_fts (rowid, content) VALUES (new.rowid, new.content);
    END
    """,
    "INSERT INTO messages_fts (messages_fts) VALUES ('rebuild')",  # existing messages
]
_SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS messages_fts_update",
    "DROP TRIGGER IF EXISTS messages_fts_delete",
    "DROP TRIGGER IF EXISTS messages_fts_insert",
    "DROP TABLE IF EXISTS messages_fts",
]

_INDEX = "ix_messages_search"
# An index left invalid by an interrupted concurrent build would be kept by
# IF NOT EXISTS and never used; drop it so this build starts over.
_INVALID = f"""
    SELECT 1 FROM pg_index JOIN pg_class ON pg_class.oid = pg_index.indexrelid
    WHERE pg_class.relname = '{_INDEX}' AND NOT pg_index.indisvalid
"""


def upgrade() -> None:
    context = op.get_context()
    if context.dialect.name == "sqlite":
        for statement in _SQLITE_UP:
            op.execute(statement)
        return
    # CONCURRENTLY, outside the transaction: a deployment that migrates while the old
    # version still serves keeps storing messages during the build.
    with context.autocommit_block():
        if not context.as_sql and op.get_bind().exec_driver_sql(_INVALID).first():
            op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {_INDEX}")
        op.execute(
            f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {_INDEX} ON messages"
            " USING gin (to_tsvector('simple', content))"
        )


def downgrade() -> None:
    if op.get_context().dialect.name == "sqlite":
        for statement in _SQLITE_DOWN:
            op.execute(statement)
        return
    op.execute(f"DROP INDEX IF EXISTS {_INDEX}")
