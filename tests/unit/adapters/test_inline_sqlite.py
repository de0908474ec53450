"""SQLite on the loop's thread: transactions take turns at the one connection."""

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from chatorch.adapters.sql import store as sql_store
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
            await tx.ensure_user("ada")
            first_inside.set()
            await asyncio.sleep(0.05)  # the loop runs on; the connection stays taken
            order.append("first done")

    async def second() -> None:
        await first_inside.wait()
        async with store.transaction() as tx:
            order.append("second in")
            assert (await tx.ensure_user("ada")).name == "ada"  # sees the first's commit

    await asyncio.gather(first(), second())
    assert order == ["first done", "second in"]


async def test_no_turn_within_the_limit_is_a_clear_unavailable(store: Store) -> None:
    async with store.transaction():
        with pytest.raises(StoreUnavailable, match=r"no turn at the connection within 0.2 s"):
            async with store.transaction():
                pass
    async with store.transaction() as tx:  # the turn came back
        assert (await tx.ensure_user("ada")).name == "ada"


async def test_a_failed_transaction_gives_its_turn_back(store: Store) -> None:
    added: list[User] = []

    async def add_then_fail() -> None:
        async with store.transaction() as tx:
            added.append(await tx.ensure_user("bob"))
            raise RuntimeError("the caller failed")

    with pytest.raises(RuntimeError):
        await add_then_fail()
    async with store.transaction() as tx:  # at once, not after the 0.2 s limit
        assert await tx.get_user(added[0].id) is None  # rolled back


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
