"""The SummaryRepository contract: a chat's summary only moves forward, one process
holds a chat's lease at a time, and idle chats with unsummarised answers are found."""

import asyncio
from datetime import timedelta

from chatorch.domain.entities import ChatSummary, Message, utcnow
from chatorch.domain.ids import id_at, new_id
from chatorch.ports.store import Store
from tests.contract import records as make


def _summary(message: Message, text: str = "they talked") -> ChatSummary:
    return ChatSummary(message.chat_id, text, "summary@1", message.id)


class TestSummaries:
    async def test_a_summary_is_stored_and_read(self, store: Store) -> None:
        chat = await make.chat(store)
        _, answer = await make.turns(store, chat, 1)
        async with store.transaction() as tx:
            assert await tx.summaries.get_summary(chat.id) is None
            assert await tx.summaries.put_summary(_summary(answer))
        async with store.transaction() as tx:
            found = await tx.summaries.get_summary(chat.id)
        assert found is not None
        assert (found.chat_id, found.text, found.prompt) == (chat.id, "they talked", "summary@1")
        assert found.through_message_id == answer.id
        assert abs(found.created_at - utcnow()) < timedelta(minutes=1)

    async def test_a_summary_never_moves_back(self, store: Store) -> None:
        chat = await make.chat(store)
        _, first, _, second = await make.turns(store, chat, 2)
        async with store.transaction() as tx:
            assert await tx.summaries.put_summary(_summary(second, "newer"))
            assert not await tx.summaries.put_summary(_summary(first, "older"))
            assert not await tx.summaries.put_summary(_summary(second, "same again"))
        async with store.transaction() as tx:
            found = await tx.summaries.get_summary(chat.id)
        assert found is not None
        assert found.text == "newer"

    async def test_no_summary_for_a_chat_that_is_gone(self, store: Store) -> None:
        chat = await make.chat(store)
        (_, answer) = await make.turns(store, chat, 1)
        async with store.transaction() as tx:
            assert await tx.users.delete_user(chat.owner_id)
        async with store.transaction() as tx:
            assert not await tx.summaries.put_summary(_summary(answer))
            assert not await tx.summaries.lease(chat.id, until=utcnow(), now=utcnow())


class TestLease:
    async def test_one_holder_until_it_runs_out(self, store: Store) -> None:
        chat = await make.chat(store)
        now = utcnow()
        later = now + timedelta(minutes=5)
        async with store.transaction() as tx:
            assert await tx.summaries.lease(chat.id, until=later, now=now)
        async with store.transaction() as tx:
            assert not await tx.summaries.lease(chat.id, until=later, now=now)
        async with store.transaction() as tx:  # once it has run out, anyone may take it
            assert await tx.summaries.lease(chat.id, until=later, now=later + timedelta(1))

    async def test_writing_the_summary_ends_the_lease(self, store: Store) -> None:
        chat = await make.chat(store)
        (_, answer) = await make.turns(store, chat, 1)
        now = utcnow()
        async with store.transaction() as tx:
            assert await tx.summaries.lease(chat.id, until=now + timedelta(hours=1), now=now)
            assert await tx.summaries.get_summary(chat.id) is None  # a lease is no summary
            assert await tx.summaries.put_summary(_summary(answer))
        async with store.transaction() as tx:
            assert await tx.summaries.lease(chat.id, until=now + timedelta(hours=1), now=now)

    async def test_of_processes_racing_for_it_one_wins(self, store: Store) -> None:
        chat = await make.chat(store)
        now = utcnow()

        async def take() -> bool:
            async with store.transaction() as tx:
                return await tx.summaries.lease(chat.id, until=now + timedelta(hours=1), now=now)

        assert sorted(await asyncio.gather(*(take() for _ in range(4)))) == [
            False,
            False,
            False,
            True,
        ]


class TestIdleChats:
    async def test_idle_chats_with_answers_not_summarised(self, store: Store) -> None:
        since = id_at(utcnow() - timedelta(hours=1))
        quiet, summarised, fresh = [await make.chat(store, title=t) for t in "abc"]
        (_, quiet_answer) = await make.turns(store, quiet, 1)
        (_, done) = await make.turns(store, summarised, 1)
        async with store.transaction() as tx:
            await tx.summaries.put_summary(_summary(done))
        cutoff = new_id()  # everything before this is idle
        (_, fresh_answer) = await make.turns(store, fresh, 1)
        async with store.transaction() as tx:
            idle = await tx.summaries.idle_chats(since=since, idle_before=cutoff, limit=10)
            everything = await tx.summaries.idle_chats(since=since, idle_before=new_id(), limit=10)
            too_old = await tx.summaries.idle_chats(since=new_id(), idle_before=new_id(), limit=10)
        assert idle == [(quiet_answer.chat_id, quiet_answer.id)]
        assert everything == [
            (quiet_answer.chat_id, quiet_answer.id),
            (fresh_answer.chat_id, fresh_answer.id),
        ]
        assert too_old == []

    async def test_a_new_question_makes_a_chat_busy_again(self, store: Store) -> None:
        since = id_at(utcnow() - timedelta(hours=1))
        chat = await make.chat(store)
        await make.turns(store, chat, 1)
        cutoff = new_id()
        await make.add(store, make.question(chat, "one more thing"))
        async with store.transaction() as tx:
            assert await tx.summaries.idle_chats(since=since, idle_before=cutoff, limit=10) == []
