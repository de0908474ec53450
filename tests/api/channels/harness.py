"""What every channel's end-to-end tests read back: the rows the served app stored."""

import sqlite3
from typing import Any

from chatorch.settings import Settings


class StoredAnswers:
    """For a test's bot (a dataclass with ``settings``): the served app's SQLite rows."""

    settings: Settings

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        path = self.settings.database_url.removeprefix("sqlite+aiosqlite:///")
        with sqlite3.connect(path) as db:
            return db.execute(sql).fetchall()

    def answers(self) -> list[str]:
        rows = self.rows("SELECT content FROM messages WHERE role = 'assistant' ORDER BY id")
        return [content for (content,) in rows]
