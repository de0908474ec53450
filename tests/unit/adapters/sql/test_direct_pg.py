"""PostgreSQL units on asyncpg itself: the hot statements as SQLAlchemy would run them,
and the unit's own BEGIN/COMMIT holding every statement, hot or not, together."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from uuid import uuid4

import asyncpg  # type: ignore[import-untyped,unused-ignore]
import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import create_async_engine

from chatorch.adapters.sql import hot
from chatorch.adapters.sql import store as sql_store
from chatorch.adapters.sql.migrate import upgrade
from chatorch.adapters.sql.models import UserRow
from chatorch.adapters.sql.store import SqlStore
from chatorch.domain.entities import Chat, IdempotentResult, User, utcnow
from chatorch.domain.errors import DuplicateKey
from tests.services import fresh_database, require
from tests.unit.adapters.sql.test_prepared import OWNER, conversation

pytestmark = pytest.mark.services


@asynccontextmanager
async def _database() -> AsyncIterator[str]:
    """A migrated database of the test's own, with the user ``OWNER``."""
    require("PostgreSQL", "127.0.0.1", 5432)
    async with fresh_database() as url:
        await asyncio.to_thread(upgrade, url)
        owner = {"id": OWNER, "name": "ada", "created_at": utcnow()}
        engine = create_async_engine(url)
        async with engine.begin() as connection:
            await connection.execute(insert(UserRow), owner)
        await engine.dispose()
        yield url


async def _stored(url: str) -> list[tuple[Any, ...]]:
    """Every stored value as the server holds it: what any later reader will see."""
    connection = await asyncpg.connect(url.replace("+asyncpg", ""))
    try:
        chats = await connection.fetch("SELECT * FROM chats ORDER BY created_at")
        messages = await connection.fetch("SELECT * FROM messages ORDER BY created_at, role")
        return [tuple(row) for row in [*chats, *messages]]
    finally:
        await connection.close()


@pytest.fixture
async def store() -> AsyncIterator[SqlStore]:
    async with _database() as url:
        made = await sql_store.connect(url)
        try:
            yield made
        finally:
            await made.close()


async def test_every_hot_statement_reads_and_writes_what_sqlalchemy_does() -> None:
    async with _database() as through_sqlalchemy, _database() as on_the_driver:
        engine = create_async_engine(
            through_sqlalchemy, json_serializer=sql_store._json_text, **_AUTOCOMMIT
        )
        expected = []
        async with engine.connect() as connection:
            for statement, params in conversation("postgresql"):
                result = await connection.execute(statement, params)
                rows = result.all() if result.returns_rows else []
                expected.append([(tuple(row._mapping), tuple(row)) for row in rows])
        await engine.dispose()
        store = await sql_store.connect(on_the_driver)
        got = []
        try:
            async with store.transaction(atomic=False) as tx:
                for statement, params in conversation("postgresql"):
                    rows = (await tx._scope.run(statement, params)).all()
                    got.append([(row._fields, tuple(row)) for row in rows])
        finally:
            await store.close()

        assert got == expected
        assert any(rows for rows in got)  # the conversation did read rows back
        assert await _stored(on_the_driver) == await _stored(through_sqlalchemy)


_AUTOCOMMIT: dict[str, Any] = {"isolation_level": "AUTOCOMMIT"}


async def test_a_driver_error_is_the_error_sqlalchemy_raises(store: SqlStore) -> None:
    chat = hot.chat_params(Chat(owner_id=OWNER, title=""))
    async with store.transaction(atomic=False) as tx:
        await tx._scope.run(hot.ADD_CHAT, chat)
    with pytest.raises(sa_exc.IntegrityError, match="duplicate key value") as raised:
        async with store.transaction(atomic=False) as tx:
            await tx._scope.run(hot.ADD_CHAT, chat)
    assert str(chat["owner_id"]) not in str(raised.value)  # parameters stay hidden


async def test_an_atomic_unit_holds_hot_and_orm_statements_in_one_transaction(
    store: SqlStore,
) -> None:
    async with store.transaction() as tx:
        user: User = await tx.users.ensure_user("grace")
        await tx.work.put_idempotent(user.id, "k", _result())  # through the ORM session
    chat = Chat(owner_id=user.id, title="kept only with its key")

    async def add_chat_and_take_the_key() -> None:
        async with store.transaction() as tx:
            await tx.chats.add_chat(chat)  # a hot statement on the driver
            await tx.work.put_idempotent(user.id, "k", _result())  # taken: the unit fails

    with pytest.raises(DuplicateKey):
        await add_chat_and_take_the_key()
    async with store.transaction(atomic=False) as tx:
        assert await tx.chats.get_chat(chat.id) is None  # rolled back with the ORM's write
        await tx.chats.add_chat(chat)  # and the connection is in no transaction now
    assert any(row[0] == chat.id for row in await _stored(_url(store)))  # committed: seen


async def test_a_unit_of_single_statements_keeps_each_one(store: SqlStore) -> None:
    chat = Chat(owner_id=OWNER, title="kept")

    async def add_chat_then_fail() -> None:
        async with store.transaction(atomic=False) as tx:
            await tx.chats.add_chat(chat)
            raise RuntimeError("after the write")

    with pytest.raises(RuntimeError):
        await add_chat_then_fail()
    async with store.transaction(atomic=False) as tx:
        assert await tx.chats.get_chat(chat.id) == chat


def _result() -> IdempotentResult:
    return IdempotentResult(request_hash=uuid4().hex, status_code=202, body={})


def _url(store: SqlStore) -> str:
    engine = store._engine
    assert not isinstance(engine, sql_store.InlineEngine)
    return engine.url.render_as_string(hide_password=False)
