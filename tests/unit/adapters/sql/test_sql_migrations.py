"""The hand-written migrations build exactly the schema the models describe, both ways."""

import asyncio
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped,unused-ignore]
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from chatorch.adapters.sql.migrate import config, current, downgrade, upgrade
from chatorch.adapters.sql.models import Base
from chatorch.adapters.sql.search import FULL_TEXT_OBJECTS, described_by_models
from tests.services import POSTGRES_URL, require

# The newest migration, whichever was added last.
HEAD = ScriptDirectory.from_config(config("sqlite://")).get_current_head()
TABLES = {
    "users",
    "chats",
    "messages",
    "files",
    "idempotency_keys",
    "api_keys",
    "audit_events",
    "secrets",
    "bots",
    "bot_chats",
    "bot_sends",
    "bot_deliveries",
    "chat_files",
    "file_chunks",
    "prompts",
    "chat_summaries",
    "chat_threads",
}


async def _on(url: str, inspect_with: Any) -> Any:
    """Run a synchronous inspection on a connection to ``url``."""
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(inspect_with)
    finally:
        await engine.dispose()


def _schema_diff(connection: Connection) -> list[Any]:
    opts = {"compare_type": True, "include_name": described_by_models}
    context = MigrationContext.configure(connection, opts=opts)
    return list(compare_metadata(context, Base.metadata))


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names()) - {"alembic_version", *FULL_TEXT_OBJECTS}


def diff(url: str) -> list[Any]:
    return list(asyncio.run(_on(url, _schema_diff)))


def tables(url: str) -> set[str]:
    return set(asyncio.run(_on(url, _tables)))


async def _postgres(sql: str) -> None:
    dsn = make_url(POSTGRES_URL).set(drivername="postgresql").render_as_string(False)
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'not' / 'yet' / 'chatorch.db'}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """An empty database of this test's own, dropped afterwards."""
    server = make_url(POSTGRES_URL)
    require("PostgreSQL", server.host or "127.0.0.1", server.port or 5432)
    name = f"chatorch_migrations_{os.getpid()}_{secrets.token_hex(4)}"
    asyncio.run(_postgres(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(_postgres(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgresql", id="postgresql", marks=pytest.mark.services),
    ]
)
def url(request: pytest.FixtureRequest) -> str:
    name = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    value: str = request.getfixturevalue(name)
    return value


class TestMigrations:
    def test_upgrade_builds_exactly_the_models(self, url: str) -> None:
        assert current(url) is None
        upgrade(url)
        assert current(url) == HEAD
        assert tables(url) == TABLES
        assert diff(url) == []

    def test_downgrade_to_base_removes_everything_and_upgrade_rebuilds(self, url: str) -> None:
        upgrade(url)
        downgrade(url, "base")
        assert current(url) is None
        assert tables(url) == set()
        upgrade(url)
        assert diff(url) == []

    def test_upgrade_is_idempotent(self, url: str) -> None:
        upgrade(url)
        upgrade(url)
        assert current(url) == HEAD


class TestSqliteFile:
    def test_upgrade_creates_the_folder(self, sqlite_url: str) -> None:
        upgrade(sqlite_url)
        database = make_url(sqlite_url).database
        assert database is not None
        assert Path(database).is_file()

    async def test_migrations_run_inside_a_running_event_loop(self, sqlite_url: str) -> None:
        # Alembic's env.py calls asyncio.run; migrate moves it off this loop's thread.
        upgrade(sqlite_url)
        assert current(sqlite_url) == HEAD
        downgrade(sqlite_url, "base")
        assert current(sqlite_url) is None
