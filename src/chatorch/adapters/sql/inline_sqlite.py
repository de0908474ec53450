"""SQLite on the event loop's own thread, through SQLAlchemy's aiosqlite dialect.

aiosqlite runs every call — execute, fetch, commit, even closing a cursor — on a
thread of its own and wakes the loop for each result: tens of microseconds of
hand-over around statements that take a few. For an embedded store that one process
owns, that hand-over was most of the cost of every transaction (docs/performance.md).
:class:`InlineConnection` keeps aiosqlite's interface but runs each call in place.

The engine holds one such connection: transactions take turns at the pool, which
waits without blocking the loop, and never at SQLite's lock, where a second
connection would have to wait *on* the loop for the first one's commit. A commit's
fsync runs on the loop; so does the wait for another process's write lock (the CLI
writing to the same file), bounded by the busy timeout.
"""

import sqlite3
from collections.abc import Callable
from functools import partial
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import SQLiteDialect_aiosqlite
from sqlalchemy.engine import URL


class InlineConnection(aiosqlite.Connection):
    """aiosqlite's API with no thread: each call runs at once on the caller's."""

    def __init__(self, connector: Callable[[], sqlite3.Connection]) -> None:
        super().__init__(connector, iter_chunk_size=64)

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if self._connection is None:
            raise ValueError("Connection closed")
        return fn(*args, **kwargs)

    async def _connect(self) -> "InlineConnection":
        if self._connection is None:
            self._connection = self._connector()
        return self

    async def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def stop(self) -> None:
        """No thread to stop."""
        self._running = False


def connector(url: URL) -> Callable[[], Any]:
    """An ``async_creator`` for ``create_async_engine``: opens ``url`` inline."""
    args, options = SQLiteDialect_aiosqlite().create_connect_args(url)
    return InlineConnection(partial(sqlite3.connect, *args, **options))._connect
