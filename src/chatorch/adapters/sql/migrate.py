"""Schema migrations, callable from synchronous code such as the CLI.

The Alembic config is built here rather than read from an alembic.ini, so the installed
package migrates any database given only its URL. Alembic's ``env.py`` runs the async
engine with ``asyncio.run``, which refuses to start inside a running event loop; when
called from one, the work moves to a short-lived thread of its own.
"""

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from chatorch.adapters.sql.store import ensure_sqlite_directory

MIGRATIONS = Path(__file__).with_name("migrations")
T = TypeVar("T")


def config(url: str) -> Config:
    """An Alembic config for ``url`` pointing at the migrations shipped in the package."""
    alembic_config = Config()
    alembic_config.set_main_option("script_location", str(MIGRATIONS))
    # The config is a ConfigParser: a literal % (in a password, say) must be doubled.
    alembic_config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return alembic_config


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database at ``url`` up to ``revision``, creating a SQLite file's folder."""
    ensure_sqlite_directory(make_url(url))
    _outside_event_loop(lambda: command.upgrade(config(url), revision))


def downgrade(url: str, revision: str) -> None:
    """Migrate the database at ``url`` down to ``revision`` (``"base"`` drops every table)."""
    ensure_sqlite_directory(make_url(url))
    _outside_event_loop(lambda: command.downgrade(config(url), revision))


def current(url: str) -> str | None:
    """The revision the database at ``url`` is at; None before the first migration."""
    ensure_sqlite_directory(make_url(url))
    return _outside_event_loop(lambda: asyncio.run(_current(url)))


async def _current(url: str) -> str | None:
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_revision_of)
    finally:
        await engine.dispose()


def _revision_of(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def _outside_event_loop(work: Callable[[], T]) -> T:
    """Run ``work`` here, or in a fresh thread when this thread already runs a loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return work()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="chatorch-migrate") as pool:
        return pool.submit(work).result()
