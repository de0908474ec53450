"""The SQL search index: how user text becomes a query, and the migration that makes the
index — over messages already stored, kept in step with every write, removed on the
way down."""

import asyncio
import os
import secrets
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import asyncpg  # type: ignore[import-untyped,unused-ignore]
import pytest
from sqlalchemy.engine import make_url

from chatorch.adapters.sql.migrate import downgrade, upgrade
from chatorch.adapters.sql.search import FULL_TEXT_OBJECTS, described_by_models, fts5_queries
from chatorch.adapters.sql.store import connect
from tests.contract import records as make
from tests.services import POSTGRES_URL, require

BEFORE = "0007"  # the revision before the search index


class TestFts5Queries:
    def test_each_word_is_a_quoted_string_and_all_of_them_a_phrase(self) -> None:
        assert fts5_queries("  build   server ") == ('"build" "server"', '"build server"')

    def test_quotes_are_doubled_so_no_input_leaves_its_string(self) -> None:
        assert fts5_queries('say "NEAR(a b)" -x*') == (
            '"say" """NEAR(a" "b)""" "-x*"',
            '"say ""NEAR(a b)"" -x*"',
        )

    def test_no_word_is_no_query(self) -> None:
        assert fts5_queries(" \t\n") is None


class TestSchemaComparison:
    def test_only_the_full_text_objects_are_left_to_the_migration(self) -> None:
        for name in FULL_TEXT_OBJECTS:
            kind = "index" if name.startswith("ix_") else "table"
            assert not described_by_models(name, kind, {})
        assert described_by_models("messages", "table", {})
        assert described_by_models("ix_messages_status_id", "index", {})
        assert described_by_models("messages_fts", "column", {"table_name": "x"})


# ---- the migration, on both databases -------------------------------------------------


async def _postgres(sql: str) -> None:
    dsn = make_url(POSTGRES_URL).set(drivername="postgresql").render_as_string(False)
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgresql", id="postgresql", marks=pytest.mark.services),
    ]
)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of this test's own."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'chatorch.db'}"
        return
    server = make_url(POSTGRES_URL)
    require("PostgreSQL", server.host or "127.0.0.1", server.port or 5432)
    name = f"chatorch_search_{os.getpid()}_{secrets.token_hex(4)}"
    asyncio.run(_postgres(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(_postgres(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _store_a_message(url: str, content: str) -> None:
    store = await connect(url)
    try:
        chat = await make.chat(store, await make.user(store))
        await make.add(store, make.question(chat, content))
    finally:
        await store.close()


async def _found(url: str, query: str) -> list[str]:
    store = await connect(url)
    try:
        async with store.transaction() as tx:
            owner = await tx.users.ensure_user("ada")
            hits = await tx.search.search(owner.id, query, limit=10)
        return [hit.snippet for hit in hits]
    finally:
        await store.close()


async def _full_text_objects(url: str) -> set[str]:
    if make_url(url).get_backend_name() == "sqlite":
        database = make_url(url).database
        assert database is not None
        with sqlite3.connect(database) as connection:
            rows = connection.execute("SELECT name FROM sqlite_master").fetchall()
        return {name for (name,) in rows if name.startswith("messages_fts")}
    dsn = make_url(url).set(drivername="postgresql").render_as_string(False)
    connection = await asyncpg.connect(dsn)
    try:
        rows = await connection.fetch("SELECT indexname FROM pg_indexes")
    finally:
        await connection.close()
    return {row["indexname"] for row in rows} & FULL_TEXT_OBJECTS


class TestMigration:
    async def test_messages_stored_before_the_upgrade_are_found(self, url: str) -> None:
        upgrade(url, BEFORE)
        await _store_a_message(url, "written before search existed")
        upgrade(url)
        assert await _found(url, "existed") == ["written before search **existed**"]

    async def test_downgrade_removes_the_index_and_upgrade_rebuilds_it(self, url: str) -> None:
        upgrade(url)
        made = await _full_text_objects(url)
        assert made
        await _store_a_message(url, "kept through a downgrade")
        downgrade(url, BEFORE)
        assert await _full_text_objects(url) == set()
        upgrade(url)
        assert await _full_text_objects(url) == made
        assert await _found(url, "downgrade") == ["kept through a **downgrade**"]


# ---- SQLite: the triggers -------------------------------------------------------------


def _in_step(connection: sqlite3.Connection) -> None:
    """Raise unless the FTS index holds exactly the messages table, no more, no less."""
    connection.execute(
        "INSERT INTO messages_fts (messages_fts, rank) VALUES ('integrity-check', 1)"
    )
    indexed = connection.execute("SELECT count(*) FROM messages_fts_docsize").fetchone()
    assert indexed == connection.execute("SELECT count(*) FROM messages").fetchone()


class TestSqliteTriggers:
    async def test_the_index_follows_inserts_edits_and_cascading_deletes(
        self, tmp_path: Path
    ) -> None:
        url = f"sqlite+aiosqlite:///{tmp_path / 'chatorch.db'}"
        upgrade(url)
        for content in ("first chat's words", "second chat's words", "third"):
            await _store_a_message(url, content)
        with sqlite3.connect(tmp_path / "chatorch.db") as connection:
            connection.execute("PRAGMA foreign_keys = ON")
            _in_step(connection)
            connection.execute("UPDATE messages SET content = 'edited' WHERE content = 'third'")
            connection.execute("UPDATE messages SET status = 'complete'")
            _in_step(connection)
            (chat,) = connection.execute(
                "SELECT chat_id FROM messages WHERE content = ?", ("first chat's words",)
            ).fetchone()
            connection.execute("DELETE FROM chats WHERE id = ?", (chat,))  # cascades
            _in_step(connection)
            connection.execute("DELETE FROM users")  # cascades through chats
            _in_step(connection)
            assert connection.execute("SELECT count(*) FROM messages").fetchone() == (0,)
