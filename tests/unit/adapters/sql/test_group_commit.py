"""SQLite's group commit: a write is on disk when its transaction's block ends, and
writers that commit together share one fsync of the log (ADR 0010)."""

import asyncio
import errno
import os
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from chatorch.adapters.sql.migrate import upgrade
from chatorch.adapters.sql.store import SqlStore, connect
from chatorch.domain.entities import Chat, User
from chatorch.domain.errors import StoreUnavailable


class Fsyncs:
    """Every ``os.fsync`` of the write-ahead log: when it started and ended."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, database: Path) -> None:
        self.log: list[tuple[float, float]] = []
        real: Callable[[int], None] = os.fsync
        wal = database.with_name(database.name + "-wal")

        def fsync(descriptor: int) -> None:
            started = time.monotonic()
            real(descriptor)
            if wal.exists() and os.fstat(descriptor).st_ino == wal.stat().st_ino:
                self.log.append((started, time.monotonic()))

        monkeypatch.setattr(os, "fsync", fsync)


@pytest.fixture
def database(tmp_path: Path) -> Path:
    path = tmp_path / "chatorch.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture
async def store(database: Path) -> AsyncIterator[SqlStore]:
    store = await connect(f"sqlite+aiosqlite:///{database}")
    yield store
    await store.close()


@pytest.fixture
def fsyncs(monkeypatch: pytest.MonkeyPatch, database: Path) -> Fsyncs:
    return Fsyncs(monkeypatch, database)


@pytest.fixture
async def owner(store: SqlStore) -> User:
    async with store.transaction() as tx:
        return await tx.users.ensure_user("ada")


def _titles_on_disk(database: Path) -> set[str]:
    """The chats' titles, read by a connection of its own."""
    with sqlite3.connect(database) as connection:
        return {title for (title,) in connection.execute("SELECT title FROM chats")}


async def test_writers_that_commit_together_share_an_fsync(
    store: SqlStore, owner: User, fsyncs: Fsyncs, database: Path
) -> None:
    fsyncs.log.clear()

    async def write(n: int) -> tuple[float, float]:
        async with store.transaction() as tx:
            await tx.chats.add_chat(Chat(owner_id=owner.id, title=f"chat {n}"))
            committing = time.monotonic()
        return committing, time.monotonic()

    windows = await asyncio.gather(*(write(n) for n in range(20)))

    assert 1 <= len(fsyncs.log) < 20
    for committing, ended in windows:  # each block ended after an fsync begun after it
        assert any(committing <= start and end <= ended for start, end in fsyncs.log)
    assert _titles_on_disk(database) == {f"chat {n}" for n in range(20)}


async def test_a_transaction_that_only_reads_syncs_nothing(
    store: SqlStore, owner: User, fsyncs: Fsyncs
) -> None:
    fsyncs.log.clear()
    async with store.transaction() as tx:
        assert await tx.users.get_user(owner.id) == owner
    assert fsyncs.log == []


async def test_a_write_that_need_not_wait_for_the_disk_is_committed_at_once(
    store: SqlStore, owner: User, fsyncs: Fsyncs, database: Path
) -> None:
    fsyncs.log.clear()
    async with store.transaction(durable=False) as tx:
        await tx.chats.add_chat(Chat(owner_id=owner.id, title="attempt counted"))
    assert fsyncs.log == []
    assert _titles_on_disk(database) == {"attempt counted"}  # committed, seen by others

    async with store.transaction() as tx:  # the next durable write syncs both
        await tx.chats.add_chat(Chat(owner_id=owner.id, title="answer"))
    assert len(fsyncs.log) == 1


async def test_a_disk_that_fails_the_fsync_fails_the_transaction(
    store: SqlStore, owner: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing(descriptor: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "fsync", failing)
    with pytest.raises(StoreUnavailable, match="Input/output error"):
        async with store.transaction() as tx:
            await tx.chats.add_chat(Chat(owner_id=owner.id, title="not confirmed"))


def test_a_loop_closing_mid_fsync_leaves_the_store_usable(
    database: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = os.fsync

    def slow(descriptor: int) -> None:
        time.sleep(0.2)
        real(descriptor)

    async def write(store: SqlStore, title: str) -> None:
        async with store.transaction() as tx:
            owner = await tx.users.ensure_user("ada")
            await tx.chats.add_chat(Chat(owner_id=owner.id, title=title))

    async def leave_while_syncing(store: SqlStore) -> None:
        first = asyncio.create_task(write(store, "first"))
        await asyncio.sleep(0.1)  # its fsync runs
        second = asyncio.create_task(write(store, "second"))  # waits for the next one
        await asyncio.sleep(0.05)
        assert not first.done()
        assert not second.done()
        # returning ends the loop, which cancels both and the fsync they wait for

    store = asyncio.run(connect(f"sqlite+aiosqlite:///{database}"))
    monkeypatch.setattr(os, "fsync", slow)
    asyncio.run(leave_while_syncing(store))
    monkeypatch.setattr(os, "fsync", real)

    async def later() -> None:
        await asyncio.wait_for(write(store, "later"), timeout=5)
        await store.close()

    asyncio.run(later())
    assert _titles_on_disk(database) == {"first", "second", "later"}
