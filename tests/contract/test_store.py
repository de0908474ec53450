"""The Store contract: one unit of work over every repository, and a database that does
not answer; each aggregate's own contract is in test_<aggregate>.py."""

from uuid import UUID

import pytest

from chatorch.adapters.sql.store import connect
from chatorch.domain.entities import Chat, Status
from chatorch.domain.errors import DuplicateAnswer, StoreUnavailable
from chatorch.ports.store import Store
from tests.contract import records as make


class TestTransaction:
    async def test_the_transaction_stays_usable_after_a_duplicate(self, store: Store) -> None:
        chat = await make.chat(store)
        question = make.question(chat)
        await make.add(store, question, make.answer(question, "first"))
        async with store.transaction() as tx:
            with pytest.raises(DuplicateAnswer):
                await tx.chats.add_message(make.answer(question, "second"))
            await tx.work.set_status(question.id, Status.COMPLETE)
        async with store.transaction() as tx:
            loaded = await tx.chats.get_message(question.id)
        assert loaded is not None
        assert loaded.status is Status.COMPLETE

    async def test_a_unit_of_single_statements_writes_and_reads(self, store: Store) -> None:
        owner = await make.user(store)
        chat = Chat(owner_id=owner.id, title="quick")
        async with store.transaction(atomic=False) as tx:
            await tx.chats.add_chat(chat)
            assert await tx.chats.get_chat(chat.id) == chat
        async with store.transaction(durable=False, atomic=False) as tx:
            assert await tx.chats.get_chat(chat.id) == chat
        question = make.question(chat)

        async def write_then_fail() -> None:  # on a connection that is transactional again
            async with store.transaction() as tx:
                await tx.chats.add_message(question)
                raise RuntimeError("boom")

        with pytest.raises(RuntimeError, match="boom"):
            await write_then_fail()
        async with store.transaction() as tx:  # so this unit rolled back whole
            assert await tx.chats.get_message(question.id) is None

    async def test_a_rolled_back_transaction_leaves_nothing(self, store: Store) -> None:
        owner = await make.user(store)
        chat = Chat(owner_id=owner.id)
        question = make.question(chat)

        async def write_then_fail() -> None:
            async with store.transaction() as tx:
                await tx.chats.add_chat(chat)
                await tx.chats.add_message(question)
                raise RuntimeError("boom")

        with pytest.raises(RuntimeError, match="boom"):
            await write_then_fail()
        async with store.transaction() as tx:
            assert await tx.chats.get_chat(chat.id) is None
            assert await tx.chats.get_message(question.id) is None


class TestHealth:
    async def test_ping_and_describe(self, store: Store) -> None:
        await store.ping()
        description = store.describe()
        assert description["backend"] in {"sqlite", "postgresql"}
        assert "password" not in str(description).lower()


_CLOSED_PORT = "postgresql+asyncpg://postgres:secret@127.0.0.1:1/test"


class TestUnavailable:
    """A database that does not answer is ``StoreUnavailable``, never a driver error."""

    async def test_ping(self) -> None:
        store = await connect(_CLOSED_PORT, connect_timeout=1)
        try:
            with pytest.raises(StoreUnavailable, match="postgresql"):
                await store.ping()
        finally:
            await store.close()

    async def test_transaction(self) -> None:
        store = await connect(_CLOSED_PORT, connect_timeout=1)
        try:
            with pytest.raises(StoreUnavailable):
                async with store.transaction() as tx:
                    await tx.users.get_user(UUID(int=1))
        finally:
            await store.close()

    async def test_describe_never_shows_credentials(self) -> None:
        store = await connect(_CLOSED_PORT)
        try:
            assert store.describe() == {"backend": "postgresql"}
        finally:
            await store.close()
