"""The BotRepository contract: bots with their ciphertexts, the chats of platform
conversations (one each, even when deliveries race) and the parts of answers sent."""

import asyncio
from uuid import UUID

from chatorch.domain.entities import Bot, Chat, Platform, User
from chatorch.domain.ids import new_id
from chatorch.ports.store import Store
from tests.contract import records as make


async def _bot(
    store: Store,
    owner: User,
    name: str = "helper",
    *,
    llm: str | None = None,
    tools: list[str] | None = None,
) -> Bot:
    bot = Bot(owner_id=owner.id, platform=Platform.TELEGRAM, name=name, llm=llm, tools=tools)
    async with store.transaction() as tx:
        await tx.bots.add_bot(bot, f"gAAAA-{name}")
    return bot


async def _stored(store: Store, bot: Bot) -> Bot:
    async with store.transaction() as tx:
        found = await tx.bots.get_bot(bot.id)
    assert found is not None
    return found[0]


class TestBots:
    async def test_a_bot_is_stored_with_its_ciphertext(self, store: Store) -> None:
        owner = await make.user(store)
        bot = await _bot(store, owner, llm="openai:gpt-4o-mini,builtin", tools=["calculator"])
        async with store.transaction() as tx:
            assert await tx.bots.get_bot(bot.id) == (bot, "gAAAA-helper")
            assert await tx.bots.get_bot(new_id()) is None

    async def test_none_and_no_tools_are_not_the_same(self, store: Store) -> None:
        owner = await make.user(store)
        servers, none = await _bot(store, owner, "a"), await _bot(store, owner, "b", tools=[])
        assert (await _stored(store, servers)).tools is None
        assert (await _stored(store, none)).tools == []

    async def test_bots_list_newest_first(self, store: Store) -> None:
        owner = await make.user(store)
        made = [await _bot(store, owner, name) for name in ("first", "second", "third")]
        async with store.transaction() as tx:
            listed = await tx.bots.list_bots()
        assert [bot.name for bot in listed] == ["third", "second", "first"]
        assert listed[0] == made[2]

    async def test_update_changes_only_what_it_is_given(self, store: Store) -> None:
        owner = await make.user(store)
        bot = await _bot(store, owner, llm="builtin", tools=["calculator"])
        async with store.transaction() as tx:
            renamed = await tx.bots.update_bot(bot.id, name="renamed")
            assert await tx.bots.update_bot(new_id(), name="nobody") is None
        assert renamed is not None
        assert (renamed.name, renamed.llm, renamed.tools) == ("renamed", "builtin", ["calculator"])
        async with store.transaction() as tx:
            cleared = await tx.bots.update_bot(bot.id, ciphertext="gAAAA-new", llm=None, tools=[])
            stored = await tx.bots.get_bot(bot.id)
        assert cleared is not None
        assert (cleared.name, cleared.llm, cleared.tools) == ("renamed", None, [])
        assert stored == (cleared, "gAAAA-new")

    async def test_ciphertexts_are_listed_and_replaced_for_rotation(self, store: Store) -> None:
        owner = await make.user(store)
        first, second = await _bot(store, owner, "one"), await _bot(store, owner, "two")
        async with store.transaction() as tx:
            assert sorted(await tx.bots.bot_ciphertexts()) == sorted(
                [(first.id, "gAAAA-one"), (second.id, "gAAAA-two")]
            )
            await tx.bots.put_bot_ciphertext(first.id, "gAAAA-rotated")
        async with store.transaction() as tx:
            assert dict(await tx.bots.bot_ciphertexts())[first.id] == "gAAAA-rotated"

    async def test_a_rolled_back_add_leaves_nothing(self, store: Store) -> None:
        owner = await make.user(store)
        bot = Bot(owner_id=owner.id, platform=Platform.SLACK, name="gone")
        try:
            async with store.transaction() as tx:
                await tx.bots.add_bot(bot, "gAAAA")
                raise LookupError("abandon")
        except LookupError:
            pass
        async with store.transaction() as tx:
            assert await tx.bots.get_bot(bot.id) is None


class TestConversations:
    async def test_a_conversation_is_linked_to_one_chat(self, store: Store) -> None:
        owner = await make.user(store)
        bot = await _bot(store, owner)
        first, second = await make.chat(store, owner), await make.chat(store, owner)
        async with store.transaction() as tx:
            assert await tx.bots.chat_for(bot.id, "42") is None
            assert await tx.bots.link_chat(bot.id, "42", first.id) == first.id
            assert await tx.bots.link_chat(bot.id, "42", second.id) == first.id  # taken
            assert await tx.bots.chat_for(bot.id, "42") == first.id
            assert await tx.bots.conversation_of(first.id) == (bot.id, "42")
            assert await tx.bots.conversation_of(second.id) is None

    async def test_two_bots_may_share_a_conversation_name(self, store: Store) -> None:
        owner = await make.user(store)
        one, two = await _bot(store, owner, "one"), await _bot(store, owner, "two")
        first, second = await make.chat(store, owner), await make.chat(store, owner)
        async with store.transaction() as tx:
            assert await tx.bots.link_chat(one.id, "C1:171.2", first.id) == first.id
            assert await tx.bots.link_chat(two.id, "C1:171.2", second.id) == second.id

    async def test_racing_deliveries_get_one_chat(self, store: Store) -> None:
        owner = await make.user(store)
        bot = await _bot(store, owner)

        async def deliver() -> tuple[Chat, UUID]:
            chat = Chat(owner_id=owner.id, title="from telegram")
            async with store.transaction() as tx:
                await tx.chats.add_chat(chat)
                return chat, await tx.bots.link_chat(bot.id, "777", chat.id)

        results = await asyncio.gather(*(deliver() for _ in range(4)))
        winners = {linked for _, linked in results}
        assert len(winners) == 1
        assert winners <= {chat.id for chat, _ in results}
        async with store.transaction() as tx:
            assert await tx.bots.chat_for(bot.id, "777") in winners

    async def test_deleting_the_chat_deletes_its_link(self, store: Store) -> None:
        operator, person = await make.user(store, "operator"), await make.user(store, "person")
        bot = await _bot(store, operator)
        chat = await make.chat(store, person)
        async with store.transaction() as tx:
            await tx.bots.link_chat(bot.id, "42", chat.id)
        async with store.transaction() as tx:
            assert await tx.users.delete_user(person.id)  # and their chats with them
        async with store.transaction() as tx:
            assert await tx.bots.chat_for(bot.id, "42") is None
            assert await tx.bots.get_bot(bot.id) is not None


class TestSends:
    async def test_a_part_is_recorded_once_and_parts_come_in_order(self, store: Store) -> None:
        owner = await make.user(store)
        bot = await _bot(store, owner)
        response, other = new_id(), new_id()
        async with store.transaction() as tx:
            assert await tx.bots.sends(response) == []
            assert await tx.bots.record_send(bot.id, response, 1, "m-2")
            assert await tx.bots.record_send(bot.id, response, 0, "m-1")
        async with store.transaction() as tx:
            assert not await tx.bots.record_send(bot.id, response, 0, "m-again")
            assert list(await tx.bots.sends(response)) == [(0, "m-1"), (1, "m-2")]
            assert await tx.bots.sends(other) == []

    async def test_racing_records_of_one_part_keep_one(self, store: Store) -> None:
        owner = await make.user(store)
        bot = await _bot(store, owner)
        response = new_id()

        async def record(message_id: str) -> bool:
            async with store.transaction() as tx:
                return await tx.bots.record_send(bot.id, response, 0, message_id)

        recorded = await asyncio.gather(*(record(f"m-{n}") for n in range(4)))
        assert sorted(recorded) == [False, False, False, True]
        async with store.transaction() as tx:
            assert len(await tx.bots.sends(response)) == 1


class TestOwedAnswers:
    async def test_an_owed_answer_is_listed_until_settled(self, store: Store) -> None:
        owner = await make.user(store)
        bot, chat = await _bot(store, owner), await make.chat(store, owner)
        first, second = make.question(chat, "one"), make.question(chat, "two")
        await make.add(store, first, second)
        async with store.transaction() as tx:
            await tx.bots.owe(bot.id, second)
            await tx.bots.owe(bot.id, first)
            await tx.bots.owe(bot.id, first)  # noted once
        async with store.transaction() as tx:
            assert await tx.bots.is_owed(first.response_id)
            owed = await tx.bots.owed(limit=10)
            assert [item.response_id for item in owed] == sorted(
                [first.response_id, second.response_id]
            )
            assert owed[0].message_id in (first.id, second.id)
            assert owed[0].chat_id == chat.id
            later = await tx.bots.owed(limit=10, after=owed[0].response_id)
            assert [item.response_id for item in later] == [owed[1].response_id]
            await tx.bots.settle(first.response_id)
        async with store.transaction() as tx:
            assert not await tx.bots.is_owed(first.response_id)
            assert [item.message_id for item in await tx.bots.owed(limit=10)] == [second.id]

    async def test_nothing_is_owed_for_a_bot_deleted_before(self, store: Store) -> None:
        owner = await make.user(store)
        bot, chat = await _bot(store, owner), await make.chat(store, owner)
        asked = make.question(chat)
        await make.add(store, asked)
        async with store.transaction() as tx:
            assert await tx.bots.delete_bot(bot.id)
        async with store.transaction() as tx:  # the answer's transaction goes on
            await tx.bots.owe(bot.id, asked)
            await tx.chats.add_message(make.answer(asked))
        async with store.transaction() as tx:
            assert not await tx.bots.is_owed(asked.response_id)
            assert len((await tx.chats.chat_turn(chat.id, asked.response_id))[1]) == 2

    async def test_erasing_the_asker_or_deleting_the_bot_forgets_the_debt(
        self, store: Store
    ) -> None:
        operator, person = await make.user(store, "operator"), await make.user(store, "person")
        bot = await _bot(store, operator)
        chat, other_chat = await make.chat(store, person), await make.chat(store, operator)
        gone, kept = make.question(chat), make.question(other_chat)
        await make.add(store, gone, kept)
        async with store.transaction() as tx:
            await tx.bots.owe(bot.id, gone)
            await tx.bots.owe(bot.id, kept)
        async with store.transaction() as tx:
            assert await tx.users.delete_user(person.id)  # and their chats and messages
        async with store.transaction() as tx:
            assert [item.message_id for item in await tx.bots.owed(limit=10)] == [kept.id]
            assert await tx.bots.delete_bot(bot.id)
        async with store.transaction() as tx:
            assert await tx.bots.owed(limit=10) == []


class TestDeletion:
    async def test_deleting_a_bot_deletes_its_links_and_sends_not_its_chats(
        self, store: Store
    ) -> None:
        owner = await make.user(store)
        bot, other = await _bot(store, owner, "gone"), await _bot(store, owner, "kept")
        chat, kept = await make.chat(store, owner), await make.chat(store, owner)
        response = new_id()
        async with store.transaction() as tx:
            await tx.bots.link_chat(bot.id, "42", chat.id)
            await tx.bots.link_chat(other.id, "42", kept.id)
            await tx.bots.record_send(bot.id, response, 0, "m-1")
        async with store.transaction() as tx:
            assert await tx.bots.delete_bot(bot.id)
            assert not await tx.bots.delete_bot(bot.id)
        async with store.transaction() as tx:
            assert await tx.bots.get_bot(bot.id) is None
            assert await tx.bots.chat_for(bot.id, "42") is None
            assert await tx.bots.conversation_of(chat.id) is None
            assert await tx.bots.sends(response) == []
            assert await tx.chats.get_chat(chat.id) is not None
            assert await tx.bots.chat_for(other.id, "42") == kept.id
            assert [b.id for b in await tx.bots.list_bots()] == [other.id]

    async def test_erasing_the_owner_deletes_their_bots(self, store: Store) -> None:
        owner = await make.user(store, "operator")
        bot = await _bot(store, owner)
        async with store.transaction() as tx:
            assert await tx.users.delete_user(owner.id)
        async with store.transaction() as tx:
            assert await tx.bots.get_bot(bot.id) is None
