"""The ThreadRepository contract: a conversation's fingerprint leads to the question it
last became, per owner, and goes with its chat."""

from chatorch.domain.ids import new_id
from chatorch.ports.store import Store
from tests.contract import records as make

PRINT = "a" * 64


class TestThreads:
    async def test_a_noted_thread_is_found_by_its_owner_only(self, store: Store) -> None:
        chat = await make.chat(store)
        other = await make.user(store, "bea")
        response_id = new_id()
        async with store.transaction() as tx:
            assert await tx.threads.get_thread(chat.owner_id, PRINT) is None
            await tx.threads.put_thread(
                chat.owner_id, PRINT, chat_id=chat.id, response_id=response_id
            )
        async with store.transaction() as tx:
            assert await tx.threads.get_thread(chat.owner_id, PRINT) == (chat.id, response_id)
            assert await tx.threads.get_thread(other.id, PRINT) is None
            assert await tx.threads.get_thread(chat.owner_id, "b" * 64) is None

    async def test_the_latest_note_wins(self, store: Store) -> None:
        owner = await make.user(store, "cy")
        first = await make.chat(store, owner)
        second = await make.chat(store, owner, title="again")
        later = new_id()
        async with store.transaction() as tx:
            await tx.threads.put_thread(owner.id, PRINT, chat_id=first.id, response_id=new_id())
        async with store.transaction() as tx:
            await tx.threads.put_thread(owner.id, PRINT, chat_id=second.id, response_id=later)
        async with store.transaction() as tx:
            assert await tx.threads.get_thread(owner.id, PRINT) == (second.id, later)

    async def test_a_thread_goes_with_its_owner_and_chat(self, store: Store) -> None:
        chat = await make.chat(store)
        async with store.transaction() as tx:
            await tx.threads.put_thread(chat.owner_id, PRINT, chat_id=chat.id, response_id=new_id())
        async with store.transaction() as tx:
            assert await tx.users.delete_user(chat.owner_id)
        async with store.transaction() as tx:
            assert await tx.threads.get_thread(chat.owner_id, PRINT) is None
