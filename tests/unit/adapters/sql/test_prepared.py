"""The message path's statements on the SQLite driver: as SQLAlchemy would run them."""

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from sqlalchemy import Connection, create_engine, insert
from sqlalchemy import exc as sa_exc

from chatorch.adapters.sql import hot
from chatorch.adapters.sql import store as sql_store
from chatorch.adapters.sql.inline_sqlite import InlineEngine
from chatorch.adapters.sql.migrate import upgrade
from chatorch.adapters.sql.models import UserRow
from chatorch.adapters.sql.prepared import PreparedStatements
from chatorch.domain.entities import Chat, Message, Role, Status, User, utcnow
from chatorch.domain.errors import StoreUnavailable

OWNER = UUID("0190f0f0-0000-7000-8000-000000000001")


def _database(path: Path) -> Connection:
    url = f"sqlite+aiosqlite:///{path}"
    upgrade(url)
    connection = create_engine(f"sqlite:///{path}", json_serializer=sql_store._json_text).connect()
    connection.execute(insert(UserRow), {"id": OWNER, "name": "ada", "created_at": utcnow()})
    connection.commit()
    return connection


class Made:
    """Ids and times in a fixed order, so two runs of a conversation store the same."""

    def __init__(self) -> None:
        self._count = 0

    def id(self) -> UUID:
        self._count += 1
        return UUID(int=self._count << 64)

    def at(self) -> datetime:
        return datetime(2026, 1, 1, tzinfo=UTC) + timedelta(microseconds=self._count)


def conversation(backend: str = "sqlite") -> list[tuple[Any, dict[str, Any]]]:
    """What one chat's message path reads and writes, every hot statement once or more:
    the statements and their parameters, in order."""
    made = Made()
    chat = Chat(owner_id=OWNER, title="", id=made.id(), created_at=made.at())
    steps: list[tuple[Any, dict[str, Any]]] = [(hot.ADD_CHAT, hot.chat_params(chat))]
    steps.append((hot.GET_CHAT, {"b_id": chat.id}))
    steps.append((hot.ENTER_CHAT, {"b_id": chat.id, "b_owner": OWNER, "b_title": "Hi"}))
    turns = []
    for number in range(3):
        turn = made.id()
        question = Message(
            chat.id, Role.USER, f"q{number}", turn, id=made.id(), created_at=made.at()
        )
        answer = Message(
            chat.id,
            Role.ASSISTANT,
            f"a{number} ✓",
            turn,
            status=Status.COMPLETE,
            id=made.id(),
            created_at=made.at(),
            metadata={"model": "m", "tokens": [1, 2], "none": None},
        )
        turns.append((question, answer))
        steps.append((hot.ADD_MESSAGE[backend], hot.message_params(question)))
        if backend == "postgresql":
            marks = {"b_ids": [question.id], "b_at": made.at()}
            steps.append((hot.MARK_DISPATCHED[backend], marks))
    for question, answer in turns:
        turn = {"b_chat": chat.id, "b_response": question.response_id}
        steps.append((hot.CLAIM_IN_TURN, {"b_id": question.id}))
        steps.append((hot.CHAT_TURN, turn))
        steps.append((hot.HISTORY_BEFORE, turn | {"b_limit": 5}))
        if backend == "postgresql":  # claimed once: its first attempt settles it
            steps.append((hot.SETTLE_WITH_ANSWER, hot.settle_params(question.id, answer, 1)))
        else:
            steps.append((hot.ADD_MESSAGE[backend], hot.message_params(answer)))
            steps.append((hot.SET_STATUS, {"b_id": question.id, "b_status": "complete"}))
        steps.append((hot.ADD_MESSAGE[backend], hot.message_params(answer)))  # taken: no row
        steps.append((hot.GET_MESSAGE, {"b_id": answer.id}))
    file = {
        "id": made.id(),
        "owner_id": OWNER,
        "chat_id": chat.id,
        "name": "notes.md",
        "media_type": "text/markdown",
        "size": 5,
        "sha256": "0" * 64,
        "created_at": made.at(),
        "status": "ready",
        "error": None,
    }
    at = {"created_at": made.at()}
    steps.append((hot.CHAT_FILES, {"b_chat": chat.id}))  # none yet
    steps.append((insert(hot.files), file))
    steps.append((insert(hot.chat_files), {"chat_id": chat.id, "file_id": file["id"]} | at))
    steps.append((hot.CHAT_FILES, {"b_chat": chat.id}))
    steps.append((hot.CLAIM, {"b_id": turns[0][0].id}))  # done: not claimed again
    steps.append((hot.CHAT_TURN, {"b_chat": chat.id, "b_response": made.id()}))  # none yet
    return steps


def _stored(connection: Connection) -> list[tuple[Any, ...]]:
    """Every stored value as the file holds it: what any later reader will see."""
    raw = connection.connection.driver_connection
    assert isinstance(raw, sqlite3.Connection)
    rows = raw.execute("SELECT * FROM chats ORDER BY created_at").fetchall()
    return rows + raw.execute("SELECT * FROM messages ORDER BY created_at, role").fetchall()


@pytest.fixture
def twins(tmp_path: Path) -> Iterator[tuple[Connection, Connection]]:
    one, other = _database(tmp_path / "one.db"), _database(tmp_path / "other.db")
    yield one, other
    one.close()
    other.close()


def test_every_hot_statement_reads_and_writes_what_sqlalchemy_does(
    twins: tuple[Connection, Connection],
) -> None:
    through_sqlalchemy, on_the_driver = twins
    prepared = PreparedStatements(on_the_driver.dialect)
    driver = on_the_driver.connection.driver_connection

    def by_sqlalchemy(statement: Any, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        result = through_sqlalchemy.execute(statement, params)
        rows = result.all() if result.returns_rows else []
        return [(tuple(row._mapping), tuple(row)) for row in rows]

    def by_the_driver(statement: Any, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        rows = prepared.run(driver, statement, params).all()
        return [(row._fields, tuple(row)) for row in rows]

    expected = [by_sqlalchemy(statement, params) for statement, params in conversation()]
    got = [by_the_driver(statement, params) for statement, params in conversation()]

    assert got == expected
    assert any(rows for rows in got)  # the conversation did read rows back
    assert _stored(on_the_driver) == _stored(through_sqlalchemy)


def test_a_driver_error_is_the_error_sqlalchemy_raises(
    twins: tuple[Connection, Connection],
) -> None:
    connection = twins[0]
    prepared = PreparedStatements(connection.dialect)
    chat = hot.chat_params(Chat(owner_id=OWNER, title=""))
    driver = connection.connection.driver_connection
    prepared.run(driver, hot.ADD_CHAT, chat)
    with pytest.raises(sa_exc.IntegrityError, match=r"UNIQUE constraint failed: chats\.id"):
        prepared.run(driver, hot.ADD_CHAT, chat)


def test_a_missing_parameter_is_refused_not_bound_as_null(
    twins: tuple[Connection, Connection],
) -> None:
    connection = twins[0]
    prepared = PreparedStatements(connection.dialect)
    with pytest.raises(sa_exc.ArgumentError, match="no value for the parameters b_owner"):
        prepared.run(
            connection.connection.driver_connection, hot.ENTER_CHAT, {"b_id": OWNER, "b_title": ""}
        )


async def test_a_closed_driver_connection_is_replaced_and_the_store_goes_on(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'chatorch.db'}"
    upgrade(url)
    store = await sql_store.connect(url)
    try:
        async with store.transaction() as tx:
            user: User = await tx.users.ensure_user("ada")
        engine = store._engine
        assert isinstance(engine, InlineEngine)
        assert engine._held is not None
        engine._held.connection.driver_connection.close()  # type: ignore[union-attr]
        with pytest.raises(StoreUnavailable, match="connection lost"):
            async with store.transaction() as tx:
                await tx.chats.get_chat(uuid4())
        chat = Chat(owner_id=user.id, title="again")
        async with store.transaction() as tx:  # a new connection
            await tx.chats.add_chat(chat)
        async with store.transaction() as tx:
            assert await tx.chats.get_chat(chat.id) == chat
    finally:
        await store.close()
