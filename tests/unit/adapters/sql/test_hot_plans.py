"""The message path's statements read what a turn needs, not the whole chat."""

import sqlite3
from pathlib import Path

from sqlalchemy.dialects import sqlite

from chatorch.adapters.sql import hot
from chatorch.adapters.sql.migrate import upgrade


def _plan(database: Path, statement: str) -> str:
    """How SQLite runs ``statement`` (its parameters all ``?``)."""
    with sqlite3.connect(database) as connection:
        parameters = [None] * statement.count("?")
        rows = connection.execute(f"EXPLAIN QUERY PLAN {statement}", parameters)
        return "\n".join(str(row[-1]) for row in rows)


class TestClaim:
    def test_a_claim_looks_only_at_the_chats_unanswered_questions(self, tmp_path: Path) -> None:
        database = tmp_path / "plans.db"
        upgrade(f"sqlite+aiosqlite:///{database}")
        claim = str(hot.CLAIM_IN_TURN.compile(dialect=sqlite.dialect()))
        # The 300th turn's claim must not read the 299 answered ones before it.
        assert "ix_messages_pending_questions" in _plan(database, claim)
