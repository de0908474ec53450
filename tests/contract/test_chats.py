"""The ChatRepository contract: chats and their conversations, on every store."""

from datetime import UTC, datetime, timedelta

import pytest

from chatorch.domain.entities import Bot, FileMeta, Platform, Status
from chatorch.domain.errors import DuplicateAnswer, NotFound
from chatorch.domain.ids import new_id
from chatorch.domain.llm import Turn
from chatorch.ports.store import Store
from tests.contract import records as make


class TestChats:
    async def test_add_and_get(self, store: Store) -> None:
        chat = await make.chat(store, title="Plans ✈")
        async with store.transaction() as tx:
            assert await tx.chats.get_chat(chat.id) == chat
            assert await tx.chats.get_chat(new_id()) is None

    async def test_list_is_newest_first_with_limit_and_before(self, store: Store) -> None:
        owner = await make.user(store)
        chats = [await make.chat(store, owner, f"chat {n}") for n in range(5)]
        newest_first = list(reversed(chats))
        async with store.transaction() as tx:
            assert list(await tx.chats.list_chats(owner.id, limit=10)) == newest_first
            assert list(await tx.chats.list_chats(owner.id, limit=2)) == newest_first[:2]
            page = await tx.chats.list_chats(owner.id, limit=2, before=newest_first[1].id)
            assert list(page) == newest_first[2:4]
            assert list(await tx.chats.list_chats(owner.id, limit=2, before=chats[0].id)) == []

    async def test_owners_see_only_their_chats(self, store: Store) -> None:
        ada, grace = await make.user(store, "ada"), await make.user(store, "grace")
        mine = await make.chat(store, ada)
        theirs = await make.chat(store, grace)
        async with store.transaction() as tx:
            assert list(await tx.chats.list_chats(ada.id, limit=10)) == [mine]
            assert list(await tx.chats.list_chats(grace.id, limit=10)) == [theirs]
            assert list(await tx.chats.list_chats(new_id(), limit=10)) == []


class TestEnterChat:
    async def test_an_untitled_chat_takes_a_title_once(self, store: Store) -> None:
        chat = await make.chat(store, title="")
        async with store.transaction() as tx:
            first = await tx.chats.enter_chat(chat.id, chat.owner_id, title="first")
            second = await tx.chats.enter_chat(chat.id, chat.owner_id, title="second")
            stored = await tx.chats.get_chat(chat.id)
        assert first is not None
        assert second is not None
        assert first.title == second.title == "first"
        assert stored == second

    async def test_only_the_owner_enters_and_nobody_retitles(self, store: Store) -> None:
        chat = await make.chat(store, title="")
        async with store.transaction() as tx:
            assert await tx.chats.enter_chat(chat.id, new_id(), title="intruder") is None
            assert await tx.chats.enter_chat(new_id(), chat.owner_id, title="nowhere") is None
            stored = await tx.chats.get_chat(chat.id)
        assert stored is not None
        assert stored.title == ""


class TestConversationOrder:
    async def test_each_question_is_followed_by_its_answer(self, store: Store) -> None:
        chat = await make.chat(store)
        q1, q2 = make.question(chat, "q1"), make.question(chat, "q2")
        # Turn 2's question arrives while turn 1 is still being answered.
        await make.add(store, q1)
        await make.add(store, q2)
        await make.add(store, make.answer(q1, "a1"))
        await make.add(store, make.answer(q2, "a2"))
        async with store.transaction() as tx:
            assert make.contents(await tx.chats.list_messages(chat.id)) == ["q1", "a1", "q2", "a2"]

    async def test_limit_keeps_the_latest_oldest_first(self, store: Store) -> None:
        chat = await make.chat(store)
        await make.turns(store, chat, 3)
        async with store.transaction() as tx:
            assert make.contents(await tx.chats.list_messages(chat.id, limit=3)) == [
                "a2",
                "q3",
                "a3",
            ]
            assert len(await tx.chats.list_messages(chat.id, limit=100)) == 6

    async def test_chats_do_not_mix(self, store: Store) -> None:
        first, second = await make.chat(store), await make.chat(store)
        await make.turns(store, first, 2)
        await make.add(store, make.question(second, "elsewhere"))
        async with store.transaction() as tx:
            assert make.contents(await tx.chats.list_messages(second.id)) == ["elsewhere"]
            assert len(await tx.chats.list_messages(first.id)) == 4

    async def test_history_before_holds_earlier_turns_only(self, store: Store) -> None:
        chat = await make.chat(store)
        messages = await make.turns(store, chat, 4)
        q3 = messages[4]
        async with store.transaction() as tx:
            history = await tx.chats.history_before(q3, limit=3)
            assert make.contents(history) == ["a1", "q2", "a2"]
            assert make.contents(await tx.chats.history_before(q3, limit=10)) == [
                "q1",
                "a1",
                "q2",
                "a2",
            ]
            assert list(await tx.chats.history_before(messages[0], limit=10)) == []

    async def test_history_before_is_what_a_prompt_may_hold(self, store: Store) -> None:
        chat = await make.chat(store)
        asked = make.question(chat, "q1")
        failed = make.answer(asked, "half an ans")
        failed.status = Status.FAILED  # its partial text would mislead the model
        later = make.question(chat, "q2")
        await make.add(store, asked, failed, later)
        async with store.transaction() as tx:
            history = await tx.chats.history_before(later, limit=10)
        assert history == [Turn(role="user", content="q1")]


class TestMessages:
    async def test_roundtrip_keeps_every_field(self, store: Store) -> None:
        chat = await make.chat(store)
        metadata = {"tools": [{"name": "clock", "args": {"tz": "UTC"}}], "n": 1.5, "ok": True}
        question = make.question(chat, "héllo 👋\nsecond line", metadata=metadata)
        await make.add(store, question)
        async with store.transaction() as tx:
            loaded = await tx.chats.get_message(question.id)
            assert await tx.chats.get_message(new_id()) is None
        assert loaded == question
        assert loaded.metadata == metadata

    async def test_timestamps_come_back_aware_utc(self, store: Store) -> None:
        chat = await make.chat(store)
        created = datetime(2030, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
        question = make.question(chat, created_at=created)
        await make.add(store, question)
        async with store.transaction() as tx:
            loaded = await tx.chats.get_message(question.id)
            owner = await tx.users.get_user(chat.owner_id)
            stored_chat = await tx.chats.get_chat(chat.id)
        assert loaded is not None
        assert owner is not None
        assert stored_chat is not None
        assert loaded.created_at == created
        for moment in (loaded.created_at, owner.created_at, stored_chat.created_at):
            assert moment.utcoffset() == timedelta(0)

    async def test_a_turn_is_its_chat_then_its_question_then_its_answer(self, store: Store) -> None:
        chat = await make.chat(store)
        question = make.question(chat)
        await make.add(store, question)
        async with store.transaction() as tx:
            assert await tx.chats.chat_turn(chat.id, question.response_id) == (chat, [question])
            assert await tx.chats.chat_turn(chat.id, new_id()) == (chat, [])
        answer = make.answer(question)
        await make.add(store, answer)
        async with store.transaction() as tx:
            found = await tx.chats.chat_turn(chat.id, question.response_id)
        assert found == (chat, [question, answer])

    async def test_a_turn_of_another_chat_or_no_chat_is_not_found(self, store: Store) -> None:
        chat, other = await make.chat(store), await make.chat(store)
        question = make.question(chat)
        await make.add(store, question)
        async with store.transaction() as tx:
            assert await tx.chats.chat_turn(other.id, question.response_id) == (other, [])
            assert await tx.chats.chat_turn(new_id(), question.response_id) == (None, [])

    async def test_a_second_answer_is_refused_and_the_first_kept(self, store: Store) -> None:
        chat = await make.chat(store)
        question = make.question(chat)
        await make.add(store, question, make.answer(question, "first"))
        with pytest.raises(DuplicateAnswer):
            await make.add(store, make.answer(question, "second"))
        with pytest.raises(DuplicateAnswer):
            await make.add(store, make.question(chat, "again", response_id=question.response_id))
        async with store.transaction() as tx:
            assert make.contents(await tx.chats.list_messages(chat.id)) == ["question", "first"]


class TestChatsByTitle:
    async def test_a_title_holding_the_text_in_any_case_and_alphabet(self, store: Store) -> None:
        ada = await make.user(store)
        trip = await make.chat(store, ada, "Trip to LISBON")
        über = await make.chat(store, ada, "Über den Wolken")
        odd = await make.chat(store, ada, "100% done_")
        await make.chat(store, await make.user(store, "bob"), "Bob's Lisbon trip")

        async def titled(text: str, **page: object) -> list[str]:
            async with store.transaction() as tx:
                found = await tx.chats.list_chats(ada.id, limit=10, title_contains=text, **page)
            return [chat.title for chat in found]

        assert await titled("lisbon") == [trip.title]
        assert await titled("über") == await titled("ÜBER") == [über.title]
        assert await titled("% d") == await titled("_") == [odd.title]  # no wildcards
        assert await titled("o") == [odd.title, über.title, trip.title]
        assert await titled("o", before=odd.id) == [über.title, trip.title]
        assert await titled("nowhere") == []


class TestRenameAndDelete:
    async def test_a_chat_is_renamed(self, store: Store) -> None:
        chat = await make.chat(store, title="old")
        async with store.transaction() as tx:
            renamed = await tx.chats.rename_chat(chat.id, "new ✈")
            assert await tx.chats.rename_chat(new_id(), "nowhere") is None
            stored = await tx.chats.get_chat(chat.id)
        assert renamed == stored
        assert stored is not None
        assert (stored.title, stored.owner_id, stored.created_at) == (
            "new ✈",
            chat.owner_id,
            chat.created_at,
        )

    async def test_deleting_erases_the_conversation_and_keeps_the_files(self, store: Store) -> None:
        owner = await make.user(store)
        chat, kept = await make.chat(store, owner), await make.chat(store, owner)
        asked, *_ = await make.turns(store, chat, 2)
        await make.turns(store, kept, 1)
        bot = Bot(owner_id=owner.id, platform=Platform.TELEGRAM, name="tg")
        file = FileMeta(
            owner_id=owner.id, name="a.txt", media_type="text/plain", size=1, sha256="0" * 64
        )
        async with store.transaction() as tx:
            await tx.bots.add_bot(bot, "gAAAA-tg")
            await tx.bots.link_chat(bot.id, "conversation-1", chat.id)
            await tx.bots.record_send(bot.id, asked.response_id, 0, "m-1")
            await tx.files.add_file(file)
            await tx.files.attach_file(chat.id, file.id)
        async with store.transaction() as tx:
            assert await tx.chats.delete_chat(chat.id) == 4
            assert await tx.chats.delete_chat(chat.id) is None
        async with store.transaction() as tx:
            assert await tx.chats.get_chat(chat.id) is None
            assert list(await tx.chats.list_messages(chat.id)) == []
            assert await tx.chats.get_message(asked.id) is None
            assert await tx.bots.chat_for(bot.id, "conversation-1") is None
            assert list(await tx.bots.sends(asked.response_id)) == []
            assert await tx.files.get_file(file.id) is not None  # the owner's still
            assert list(await tx.files.chat_files(chat.id)) == []
            assert list(await tx.chats.list_chats(owner.id, limit=10)) == [kept]
            assert len(await tx.chats.list_messages(kept.id)) == 2

    async def test_an_answer_for_a_deleted_chat_is_refused(self, store: Store) -> None:
        chat = await make.chat(store)
        asked = make.question(chat)
        await make.add(store, asked)
        async with store.transaction() as tx:
            await tx.chats.delete_chat(chat.id)
        with pytest.raises(NotFound):
            await make.add(store, make.answer(asked))
        async with store.transaction() as tx:
            assert await tx.chats.get_chat(chat.id) is None
