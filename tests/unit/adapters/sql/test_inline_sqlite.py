"""SQLite on the loop's thread: transactions take turns at the one connection."""

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, event, text

from chatorch.adapters.sql import store as sql_store
from chatorch.adapters.sql.inline_sqlite import InlineEngine
from chatorch.adapters.sql.migrate import upgrade
from chatorch.domain.entities import User
from chatorch.domain.errors import StoreUnavailable
from chatorch.ports.store import Store


@pytest.fixture
async def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Store]:
    monkeypatch.setattr(sql_store, "SQLITE_POOL_WAIT", 0.2)
    url = f"sqlite+aiosqlite:///{tmp_path / 'chatorch.db'}"
    upgrade(url)
    store = await sql_store.connect(url)
    yield store
    await store.close()


async def test_a_transaction_waits_for_the_one_before_it(store: Store) -> None:
    order: list[str] = []
    first_inside = asyncio.Event()

    async def first() -> None:
        async with store.transaction() as tx:
            await tx.users.ensure_user("ada")
            first_inside.set()
            await asyncio.sleep(0.05)  # the loop runs on; the connection stays taken
            order.append("first done")

    async def second() -> None:
        await first_inside.wait()
        async with store.transaction() as tx:
            order.append("second in")
            assert (await tx.users.ensure_user("ada")).name == "ada"  # sees the first's commit

    await asyncio.gather(first(), second())
    assert order == ["first done", "second in"]


async def test_no_turn_within_the_limit_is_a_clear_unavailable(store: Store) -> None:
    async with store.transaction():
        with pytest.raises(StoreUnavailable, match=r"no turn at the connection within 0.2 s"):
            async with store.transaction():
                pass
    async with store.transaction() as tx:  # the turn came back
        assert (await tx.users.ensure_user("ada")).name == "ada"


async def test_a_failed_transaction_gives_its_turn_back(store: Store) -> None:
    added: list[User] = []

    async def add_then_fail() -> None:
        async with store.transaction() as tx:
            added.append(await tx.users.ensure_user("bob"))
            raise RuntimeError("the caller failed")

    with pytest.raises(RuntimeError):
        await add_then_fail()
    async with store.transaction() as tx:  # at once, not after the 0.2 s limit
        assert await tx.users.get_user(added[0].id) is None  # rolled back


@pytest.mark.parametrize(
    "url",
    [
        "sqlite+aiosqlite://",
        "sqlite+aiosqlite:///:memory:",
        "sqlite+aiosqlite:///file:x?mode=memory&uri=true",
    ],
)
async def test_an_in_memory_database_is_refused_with_the_reason(url: str) -> None:
    with pytest.raises(ValueError, match="in-memory SQLite database cannot hold chatorch's data"):
        await sql_store.connect(url)


async def test_transactions_share_one_checked_out_connection(tmp_path: Path) -> None:
    engine = InlineEngine(create_engine(f"sqlite:///{tmp_path / 'one.db'}"), wait=1)
    checkouts: list[object] = []
    event.listen(engine.sync, "checkout", lambda *_: checkouts.append(1))
    try:
        for number in range(3):
            connection = await engine.connect()
            await connection.begin()
            assert (await connection.execute(text(f"SELECT {number}"))).scalar() == number
            await connection.commit()
            await connection.close()
            probe = await engine.connect()  # as a readiness ping: a read, no begin
            assert (await probe.execute(text("SELECT 1"))).scalar() == 1
            await probe.close()  # what the read began is rolled back; the next begin works
    finally:
        await engine.dispose()
    assert len(checkouts) == 1  # not one pool checkout (and reset) per transaction


async def test_a_connection_broken_mid_transaction_is_replaced(tmp_path: Path) -> None:
    engine = InlineEngine(create_engine(f"sqlite:///{tmp_path / 'one.db'}"), wait=1)
    try:
        broken = await engine.connect()
        await broken.begin()
        broken.sync.invalidate()  # what a driver error that loses the connection does
        await broken.close()  # the store's rollback failed too; it closes all the same
        fresh = await engine.connect()
        await fresh.begin()  # the broken one: "…already initialized a SQLAlchemy Transaction"
        assert (await fresh.execute(text("SELECT 1"))).scalar() == 1
        await fresh.commit()
        await fresh.close()
    finally:
        await engine.dispose()
