"""The SearchIndex contract: a user finds their own messages by their words, best first,
in pages, whatever they type; what is erased or rolled back is never found."""

from uuid import UUID, uuid4

import pytest

from chatorch.domain.entities import Chat, FileChunk, FileMeta, Message, Role, User
from chatorch.ports.search import SearchHit
from chatorch.ports.store import Store
from tests.contract import records as make


async def _search(store: Store, user: User, query: str, **page: int) -> list[SearchHit]:
    async with store.transaction() as tx:
        return list(await tx.search.search(user.id, query, limit=page.pop("limit", 50), **page))


async def _say(store: Store, chat: Chat, *contents: str) -> list[Message]:
    said = [make.question(chat, content) for content in contents]
    await make.add(store, *said)
    return said


async def _write_then_fail(store: Store, message: Message) -> None:
    async with store.transaction() as tx:
        await tx.chats.add_message(message)
        raise RuntimeError("the request failed after the write")


class TestWhoseMessages:
    async def test_a_user_finds_their_own_messages_and_no_one_elses(self, store: Store) -> None:
        ada, bob = await make.user(store, "ada"), await make.user(store, "bob")
        adas = await make.chat(store, ada, "Trip")
        bobs = await make.chat(store, bob, "Also a trip")
        (question,) = await _say(store, adas, "Plan a week in Lisbon, please")
        answer = make.answer(question, "Lisbon in May: trams, tiles and custard tarts.")
        await make.add(store, answer)
        await _say(store, bobs, "Is Lisbon warm in May?")

        hits = await _search(store, ada, "lisbon")

        assert {hit.message_id for hit in hits} == {question.id, answer.id}
        assert {hit.chat_id for hit in hits} == {adas.id}
        by_id = {hit.message_id: hit for hit in hits}
        assert by_id[answer.id].role is Role.ASSISTANT
        assert by_id[answer.id].chat_title == "Trip"
        assert by_id[answer.id].created_at == answer.created_at
        assert "**Lisbon**" in by_id[answer.id].snippet

    async def test_words_match_whole_in_any_case_and_all_must_be_there(self, store: Store) -> None:
        ada = await make.user(store)
        chat = await make.chat(store, ada)
        café, other = await _say(store, chat, "Un CAFÉ au lait", "Coffee in Oslo")
        assert [h.message_id for h in await _search(store, ada, "café")] == [café.id]
        assert [h.message_id for h in await _search(store, ada, "coffee OSLO")] == [other.id]
        assert await _search(store, ada, "coffee paris") == []
        assert await _search(store, ada, "caf") == []  # whole words, no prefixes

    async def test_a_snippet_is_the_part_around_the_match(self, store: Store) -> None:
        ada = await make.user(store)
        chat = await make.chat(store, ada)
        filler = " ".join(f"word{n}" for n in range(200))
        await _say(store, chat, f"{filler} the needle is here {filler}")
        (hit,) = await _search(store, ada, "needle")
        assert "**needle**" in hit.snippet
        assert len(hit.snippet.split()) < 30


class TestRanking:
    async def test_a_message_with_the_word_twice_ranks_first(self, store: Store) -> None:
        ada = await make.user(store)
        chat = await make.chat(store, ada)
        once, twice = await _say(
            store,
            chat,
            "the rocket launch was a big success",
            "the rocket launch was a rocket success",
        )
        hits = await _search(store, ada, "rocket")
        assert [h.message_id for h in hits] == [twice.id, once.id]

    async def test_the_exact_phrase_ranks_above_the_words_apart(self, store: Store) -> None:
        ada = await make.user(store)
        chat = await make.chat(store, ada)
        apart, phrase = await _say(
            store,
            chat,
            "server build",  # shorter, so by word counts alone it would lead
            "please restart the build server today before the standup",
        )
        hits = await _search(store, ada, "build server")
        assert [h.message_id for h in hits] == [phrase.id, apart.id]


class TestPages:
    async def test_pages_follow_each_other_without_gaps_or_repeats(self, store: Store) -> None:
        ada = await make.user(store)
        chat = await make.chat(store, ada)
        await _say(store, chat, *[f"tram {'tram ' * n}ride number {n}" for n in range(7)])
        everything = [h.message_id for h in await _search(store, ada, "tram")]
        pages = [
            [h.message_id for h in await _search(store, ada, "tram", limit=3, offset=offset)]
            for offset in (0, 3, 6, 9)
        ]
        assert [len(page) for page in pages] == [3, 3, 1, 0]
        assert [hit for page in pages for hit in page] == everything
        assert len(set(everything)) == 7


TRICKY = [
    '"',
    '""',
    '"unterminated',
    "*",
    "lis*",
    "NEAR(lisbon tram)",
    "NEAR",
    "lisbon NOT tram",
    "AND",
    "OR",
    "-",
    "-lisbon",
    "(",
    ")",
    "content: lisbon",
    "{content}: lisbon",
    "^lisbon",
    "lisbon:*",
    "!",
    "a & b | c",
    "'",
    "don't",
    "\\",
    "%_",
    "\x00",
    "Ελλάδα",
    "日本語",
    "🚀",
    "e\u0301",
    " ".join(["lisbon"] * 300),
]


class TestAnyInput:
    @pytest.mark.parametrize("query", TRICKY, ids=range(len(TRICKY)))
    async def test_no_query_is_an_error(self, store: Store, query: str) -> None:
        ada = await make.user(store)
        chat = await make.chat(store, ada)
        await _say(store, chat, "Lisbon by tram: NEAR the river, AND OR NOT * ^ : 🚀 Ελλάδα")
        hits = await _search(store, ada, query)
        assert len(hits) <= 1

    async def test_operators_are_only_words(self, store: Store) -> None:
        ada = await make.user(store)
        chat = await make.chat(store, ada)
        (lisbon,) = await _say(store, chat, "Lisbon by tram")
        assert [h.message_id for h in await _search(store, ada, "-lisbon")] == [lisbon.id]
        assert [h.message_id for h in await _search(store, ada, '"lisbon"')] == [lisbon.id]
        assert await _search(store, ada, "lisbon OR paris") == []  # "or" is a word here
        assert await _search(store, ada, "   ") == []


class TestGone:
    async def test_an_erased_users_messages_are_never_found(self, store: Store) -> None:
        ada, bob = await make.user(store, "ada"), await make.user(store, "bob")
        await _say(store, await make.chat(store, ada), "the quarterly numbers")
        (bobs,) = await _say(store, await make.chat(store, bob), "bob's quarterly numbers")
        async with store.transaction() as tx:
            assert await tx.users.delete_user(ada.id)
        assert await _search(store, ada, "quarterly") == []
        assert [h.message_id for h in await _search(store, bob, "quarterly")] == [bobs.id]

    async def test_a_message_rolled_back_is_never_found(self, store: Store) -> None:
        ada = await make.user(store)
        chat = await make.chat(store, ada)
        with pytest.raises(RuntimeError):
            await _write_then_fail(store, make.question(chat, "an unsent draft"))
        assert await _search(store, ada, "draft") == []


async def _file(store: Store, owner: User, *texts: str, ready: bool = True) -> FileMeta:
    digest = uuid4().hex * 2  # a file of its own bytes
    file = FileMeta(
        owner_id=owner.id, name="notes.md", media_type="text/markdown", size=1, sha256=digest
    )
    chunks = [FileChunk(file.id, number, text) for number, text in enumerate(texts)]
    async with store.transaction() as tx:
        await tx.files.add_file(file)
        if ready:
            await tx.files.mark_ready(file.id, chunks)
    return file


async def _passages(
    store: Store, user: User, query: str, file_ids: list[UUID] | None = None
) -> list[tuple[UUID, int]]:
    async with store.transaction() as tx:
        found = await tx.search.passages(user.id, query, file_ids=file_ids, limit=10)
    return [(chunk.file_id, chunk.number) for chunk in found]


class TestPassages:
    async def test_exact_codes_are_found_in_the_owners_ready_files_only(self, store: Store) -> None:
        ada, bob = await make.user(store, "ada"), await make.user(store, "bob")
        manual = await _file(
            store,
            ada,
            "Error ERR-4417 means the printer is out of paper.",
            "Error ERR-4471 means the toner is empty; replace the cartridge.",
            "Warranty: two years from the date of purchase.",
        )
        await _file(store, bob, "ERR-4471 is also in Bob's notes.")
        await _file(store, ada, "ERR-4471 in a file still being read", ready=False)
        found = await _passages(store, ada, "what does err-4471 mean?")
        assert found[0] == (manual.id, 1)  # both words of the code: first
        assert {file_id for file_id, _ in found} == {manual.id}
        async with store.transaction() as tx:
            (chunk,) = await tx.search.passages(ada.id, "cartridge", file_ids=None, limit=5)
        assert chunk.text.startswith("Error ERR-4471")

    async def test_only_the_files_asked_for(self, store: Store) -> None:
        ada = await make.user(store)
        one = await _file(store, ada, "Lisbon trams run until midnight.")
        two = await _file(store, ada, "Porto trams stop at ten.")
        assert await _passages(store, ada, "trams", [two.id]) == [(two.id, 0)]
        assert await _passages(store, ada, "trams", []) == []
        assert {f for f, _ in await _passages(store, ada, "trams")} == {one.id, two.id}

    @pytest.mark.parametrize("query", TRICKY, ids=range(len(TRICKY)))
    async def test_no_query_is_an_error(self, store: Store, query: str) -> None:
        ada = await make.user(store)
        await _file(store, ada, "Lisbon by tram: NEAR the river, AND OR NOT * ^ : 🚀 Ελλάδα")
        assert len(await _passages(store, ada, query)) <= 1

    async def test_a_deleted_file_is_never_found(self, store: Store) -> None:
        ada = await make.user(store)
        file = await _file(store, ada, "Refund code RX-2291.")
        async with store.transaction() as tx:
            await tx.files.delete_file(file.id)
        assert await _passages(store, ada, "RX-2291") == []
