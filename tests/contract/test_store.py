"""The Store contract: every adapter (SQLite, PostgreSQL) must pass all of it."""

import asyncio
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from chatorch.adapters.sql.store import connect
from chatorch.domain.entities import (
    AccessRole,
    ApiKey,
    AuditEvent,
    Chat,
    FileMeta,
    IdempotentResult,
    Message,
    Role,
    Status,
    User,
)
from chatorch.domain.errors import DuplicateAnswer, DuplicateKey, StoreUnavailable
from chatorch.domain.ids import new_id
from chatorch.ports.store import Store

# ---- helpers -------------------------------------------------------------------------


async def _user(store: Store, name: str = "ada") -> User:
    async with store.transaction() as tx:
        return await tx.ensure_user(name)


async def _chat(store: Store, owner: User | None = None, title: str = "a chat") -> Chat:
    owner = owner or await _user(store)
    chat = Chat(owner_id=owner.id, title=title)
    async with store.transaction() as tx:
        await tx.add_chat(chat)
    return chat


async def _add(store: Store, *messages: Message) -> None:
    async with store.transaction() as tx:
        for message in messages:
            await tx.add_message(message)


def _question(
    chat: Chat,
    content: str = "question",
    *,
    response_id: UUID | None = None,
    metadata: dict[str, Any] | None = None,
    created_at: datetime | None = None,
) -> Message:
    question = Message(
        chat_id=chat.id,
        role=Role.USER,
        content=content,
        response_id=response_id or new_id(),
        metadata=metadata or {},
    )
    if created_at is not None:
        question.created_at = created_at
    return question


def _answer(question: Message, content: str = "answer") -> Message:
    return Message(
        chat_id=question.chat_id,
        role=Role.ASSISTANT,
        content=content,
        response_id=question.response_id,
        status=Status.COMPLETE,
    )


async def _turns(store: Store, chat: Chat, count: int) -> list[Message]:
    """``count`` answered turns, stored; returns [q1, a1, q2, a2, …]."""
    messages: list[Message] = []
    for number in range(1, count + 1):
        question = _question(chat, f"q{number}")
        messages += [question, _answer(question, f"a{number}")]
    await _add(store, *messages)
    return messages


def _contents(messages: Iterable[Message]) -> list[str]:
    return [message.content for message in messages]


# ---- users ---------------------------------------------------------------------------


class TestUsers:
    async def test_ensure_user_creates_once(self, store: Store) -> None:
        first = await _user(store, "ada")
        again = await _user(store, "ada")
        other = await _user(store, "grace")
        assert again == first
        assert other.id != first.id
        async with store.transaction() as tx:
            assert await tx.get_user(first.id) == first

    async def test_concurrent_first_sight_makes_one_user(self, store: Store) -> None:
        users = await asyncio.gather(*(_user(store, "linus") for _ in range(4)))
        assert len({user.id for user in users}) == 1

    async def test_unknown_user_is_none(self, store: Store) -> None:
        async with store.transaction() as tx:
            assert await tx.get_user(new_id()) is None


# ---- chats ---------------------------------------------------------------------------


class TestChats:
    async def test_add_and_get(self, store: Store) -> None:
        chat = await _chat(store, title="Plans ✈")
        async with store.transaction() as tx:
            assert await tx.get_chat(chat.id) == chat
            assert await tx.get_chat(new_id()) is None

    async def test_list_is_newest_first_with_limit_and_before(self, store: Store) -> None:
        owner = await _user(store)
        chats = [await _chat(store, owner, f"chat {n}") for n in range(5)]
        newest_first = list(reversed(chats))
        async with store.transaction() as tx:
            assert list(await tx.list_chats(owner.id, limit=10)) == newest_first
            assert list(await tx.list_chats(owner.id, limit=2)) == newest_first[:2]
            page = await tx.list_chats(owner.id, limit=2, before=newest_first[1].id)
            assert list(page) == newest_first[2:4]
            assert list(await tx.list_chats(owner.id, limit=2, before=chats[0].id)) == []

    async def test_owners_see_only_their_chats(self, store: Store) -> None:
        ada, grace = await _user(store, "ada"), await _user(store, "grace")
        mine = await _chat(store, ada)
        theirs = await _chat(store, grace)
        async with store.transaction() as tx:
            assert list(await tx.list_chats(ada.id, limit=10)) == [mine]
            assert list(await tx.list_chats(grace.id, limit=10)) == [theirs]
            assert list(await tx.list_chats(new_id(), limit=10)) == []


# ---- messages ------------------------------------------------------------------------


class TestTurnOrder:
    async def test_a_question_is_claimed_in_turn_once_earlier_ones_are_answered(
        self, store: Store
    ) -> None:
        chat = await _chat(store)
        first, second = _question(chat, "first"), _question(chat, "second")
        elsewhere = _question(await _chat(store), "other chat")
        await _add(store, first, second, elsewhere)
        async with store.transaction() as tx:
            assert await tx.claim(second.id) is None  # first is still pending
            assert await tx.claim(elsewhere.id) is not None
            assert await tx.claim(first.id) is not None
            await tx.set_status(first.id, Status.COMPLETE)
            claimed = await tx.claim(second.id)
        assert claimed is not None
        assert claimed.attempts == 1  # the refused claim counted nothing

    async def test_out_of_turn_a_question_is_claimed_regardless(self, store: Store) -> None:
        chat = await _chat(store)
        first, second = _question(chat, "first"), _question(chat, "second")
        await _add(store, first, second)
        async with store.transaction() as tx:
            claimed = await tx.claim(second.id, in_turn=False)
        assert claimed is not None
        assert claimed.id == second.id


class TestOutbox:
    async def test_undispatched_lists_old_pending_questions_until_marked(
        self, store: Store
    ) -> None:
        chat = await _chat(store)
        old = _question(chat, "old", created_at=datetime.now(UTC) - timedelta(seconds=30))
        fresh = _question(chat, "fresh")
        await _add(store, old, fresh)
        async with store.transaction() as tx:
            assert [m.id for m in await tx.undispatched(older_than=10, limit=10)] == [old.id]
            await tx.mark_dispatched(old.id)
            assert await tx.undispatched(older_than=10, limit=10) == []
            assert [m.id for m in await tx.undispatched(older_than=0, limit=10)] == [fresh.id]


class TestErasure:
    async def test_deleting_a_user_takes_their_chats_messages_and_keys(self, store: Store) -> None:
        ada, bob = await _user(store, "ada"), await _user(store, "bob")
        mine, theirs = await _chat(store, ada), await _chat(store, bob)
        question = _question(mine)
        await _add(store, question, _question(theirs))
        async with store.transaction() as tx:
            await tx.add_api_key(ApiKey(user_id=ada.id, name="k", prefix="chk_a", hash="d" * 64))
            await tx.add_audit(AuditEvent(action="key.created", actor="ada"))
            assert await tx.delete_user(ada.id)
            assert not await tx.delete_user(ada.id)
        async with store.transaction() as tx:
            assert await tx.get_user(ada.id) is None
            assert await tx.get_chat(mine.id) is None
            assert await tx.get_message(question.id) is None
            assert await tx.find_api_key("d" * 64) is None
            assert await tx.get_chat(theirs.id) is not None
            assert [e.actor for e in await tx.list_audit(limit=5)] == ["ada"]


class TestApiKeys:
    async def test_keys_are_found_by_hash_listed_and_revoked_once(self, store: Store) -> None:
        ada, bob = await _user(store, "ada"), await _user(store, "bob")
        first = ApiKey(user_id=ada.id, name="laptop", prefix="chk_abc", hash="a" * 64)
        second = ApiKey(
            user_id=bob.id, name="ci", prefix="chk_def", hash="b" * 64, role=AccessRole.ADMIN
        )
        async with store.transaction() as tx:
            await tx.add_api_key(first)
            await tx.add_api_key(second)
        async with store.transaction() as tx:
            assert await tx.find_api_key("a" * 64) == first
            assert await tx.find_api_key("c" * 64) is None
            assert [k.id for k in await tx.list_api_keys()] == [second.id, first.id]
            assert [k.id for k in await tx.list_api_keys(ada.id)] == [first.id]
            revoked = await tx.revoke_api_key(first.id)
            again = await tx.revoke_api_key(first.id)
            assert await tx.revoke_api_key(new_id()) is None
        assert revoked is not None
        assert again is not None
        assert revoked.revoked_at is not None
        assert again.revoked_at == revoked.revoked_at


class TestAudit:
    async def test_events_list_newest_first_with_filters(self, store: Store) -> None:
        events = [
            AuditEvent(action="auth.failed", actor="anonymous", ip="10.0.0.1"),
            AuditEvent(action="key.created", actor="ada", target="chk_abc"),
            AuditEvent(action="key.revoked", actor="ada", detail={"why": "leaked"}),
        ]
        async with store.transaction() as tx:
            for event in events:
                await tx.add_audit(event)
        async with store.transaction() as tx:
            everything = await tx.list_audit(limit=10)
            keys = await tx.list_audit(limit=10, action="key.")
            anonymous = await tx.list_audit(limit=10, actor="anonymous")
            older = await tx.list_audit(limit=10, before=events[2].id)
        assert [e.action for e in everything][:3] == ["key.revoked", "key.created", "auth.failed"]
        assert everything[0] == events[2]
        assert [e.action for e in keys] == ["key.revoked", "key.created"]
        assert [e.ip for e in anonymous] == ["10.0.0.1"]
        assert events[2].id not in [e.id for e in older]


class TestEnterChat:
    async def test_an_untitled_chat_takes_a_title_once(self, store: Store) -> None:
        chat = await _chat(store, title="")
        async with store.transaction() as tx:
            first = await tx.enter_chat(chat.id, chat.owner_id, title="first")
            second = await tx.enter_chat(chat.id, chat.owner_id, title="second")
            stored = await tx.get_chat(chat.id)
        assert first is not None
        assert second is not None
        assert first.title == second.title == "first"
        assert stored == second

    async def test_only_the_owner_enters_and_nobody_retitles(self, store: Store) -> None:
        chat = await _chat(store, title="")
        async with store.transaction() as tx:
            assert await tx.enter_chat(chat.id, new_id(), title="intruder") is None
            assert await tx.enter_chat(new_id(), chat.owner_id, title="nowhere") is None
            stored = await tx.get_chat(chat.id)
        assert stored is not None
        assert stored.title == ""


class TestConversationOrder:
    async def test_each_question_is_followed_by_its_answer(self, store: Store) -> None:
        chat = await _chat(store)
        q1, q2 = _question(chat, "q1"), _question(chat, "q2")
        # Turn 2's question arrives while turn 1 is still being answered.
        await _add(store, q1)
        await _add(store, q2)
        await _add(store, _answer(q1, "a1"))
        await _add(store, _answer(q2, "a2"))
        async with store.transaction() as tx:
            assert _contents(await tx.list_messages(chat.id)) == ["q1", "a1", "q2", "a2"]

    async def test_limit_keeps_the_latest_oldest_first(self, store: Store) -> None:
        chat = await _chat(store)
        await _turns(store, chat, 3)
        async with store.transaction() as tx:
            assert _contents(await tx.list_messages(chat.id, limit=3)) == ["a2", "q3", "a3"]
            assert len(await tx.list_messages(chat.id, limit=100)) == 6

    async def test_chats_do_not_mix(self, store: Store) -> None:
        first, second = await _chat(store), await _chat(store)
        await _turns(store, first, 2)
        await _add(store, _question(second, "elsewhere"))
        async with store.transaction() as tx:
            assert _contents(await tx.list_messages(second.id)) == ["elsewhere"]
            assert len(await tx.list_messages(first.id)) == 4

    async def test_history_before_holds_earlier_turns_only(self, store: Store) -> None:
        chat = await _chat(store)
        messages = await _turns(store, chat, 4)
        q3 = messages[4]
        async with store.transaction() as tx:
            history = await tx.history_before(q3, limit=3)
            assert _contents(history) == ["a1", "q2", "a2"]
            assert _contents(await tx.history_before(q3, limit=10)) == ["q1", "a1", "q2", "a2"]
            assert list(await tx.history_before(messages[0], limit=10)) == []


class TestMessages:
    async def test_roundtrip_keeps_every_field(self, store: Store) -> None:
        chat = await _chat(store)
        metadata = {"tools": [{"name": "clock", "args": {"tz": "UTC"}}], "n": 1.5, "ok": True}
        question = _question(chat, "héllo 👋\nsecond line", metadata=metadata)
        await _add(store, question)
        async with store.transaction() as tx:
            loaded = await tx.get_message(question.id)
            assert await tx.get_message(new_id()) is None
        assert loaded == question
        assert loaded.metadata == metadata

    async def test_timestamps_come_back_aware_utc(self, store: Store) -> None:
        chat = await _chat(store)
        created = datetime(2030, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
        question = _question(chat, created_at=created)
        await _add(store, question)
        async with store.transaction() as tx:
            loaded = await tx.get_message(question.id)
            owner = await tx.get_user(chat.owner_id)
            stored_chat = await tx.get_chat(chat.id)
        assert loaded is not None
        assert owner is not None
        assert stored_chat is not None
        assert loaded.created_at == created
        for moment in (loaded.created_at, owner.created_at, stored_chat.created_at):
            assert moment.utcoffset() == timedelta(0)

    async def test_a_turn_is_its_chat_then_its_question_then_its_answer(self, store: Store) -> None:
        chat = await _chat(store)
        question = _question(chat)
        await _add(store, question)
        async with store.transaction() as tx:
            assert await tx.chat_turn(chat.id, question.response_id) == (chat, [question])
            assert await tx.chat_turn(chat.id, new_id()) == (chat, [])
        answer = _answer(question)
        await _add(store, answer)
        async with store.transaction() as tx:
            found = await tx.chat_turn(chat.id, question.response_id)
        assert found == (chat, [question, answer])

    async def test_a_turn_of_another_chat_or_no_chat_is_not_found(self, store: Store) -> None:
        chat, other = await _chat(store), await _chat(store)
        question = _question(chat)
        await _add(store, question)
        async with store.transaction() as tx:
            assert await tx.chat_turn(other.id, question.response_id) == (other, [])
            assert await tx.chat_turn(new_id(), question.response_id) == (None, [])

    async def test_a_second_answer_is_refused_and_the_first_kept(self, store: Store) -> None:
        chat = await _chat(store)
        question = _question(chat)
        await _add(store, question, _answer(question, "first"))
        with pytest.raises(DuplicateAnswer):
            await _add(store, _answer(question, "second"))
        with pytest.raises(DuplicateAnswer):
            await _add(store, _question(chat, "again", response_id=question.response_id))
        async with store.transaction() as tx:
            assert _contents(await tx.list_messages(chat.id)) == ["question", "first"]

    async def test_the_transaction_stays_usable_after_a_duplicate(self, store: Store) -> None:
        chat = await _chat(store)
        question = _question(chat)
        await _add(store, question, _answer(question, "first"))
        async with store.transaction() as tx:
            with pytest.raises(DuplicateAnswer):
                await tx.add_message(_answer(question, "second"))
            await tx.set_status(question.id, Status.COMPLETE)
        async with store.transaction() as tx:
            loaded = await tx.get_message(question.id)
        assert loaded is not None
        assert loaded.status is Status.COMPLETE

    async def test_a_rolled_back_transaction_leaves_nothing(self, store: Store) -> None:
        owner = await _user(store)
        chat = Chat(owner_id=owner.id)
        question = _question(chat)

        async def write_then_fail() -> None:
            async with store.transaction() as tx:
                await tx.add_chat(chat)
                await tx.add_message(question)
                raise RuntimeError("boom")

        with pytest.raises(RuntimeError, match="boom"):
            await write_then_fail()
        async with store.transaction() as tx:
            assert await tx.get_chat(chat.id) is None
            assert await tx.get_message(question.id) is None

    async def test_claim_counts_attempts_while_the_question_is_pending(self, store: Store) -> None:
        chat = await _chat(store)
        question = _question(chat)
        await _add(store, question)
        counts = []
        for _ in range(3):
            async with store.transaction() as tx:
                claimed = await tx.claim(question.id)
            assert claimed is not None
            assert claimed.content == question.content
            counts.append(claimed.attempts)
        assert counts == [1, 2, 3]
        async with store.transaction() as tx:
            await tx.set_status(question.id, Status.COMPLETE)
            assert await tx.claim(question.id) is None
            assert await tx.claim(new_id()) is None
            loaded = await tx.get_message(question.id)
        assert loaded is not None
        assert loaded.attempts == 3

    async def test_concurrent_attempts_are_all_counted(self, store: Store) -> None:
        chat = await _chat(store)
        question = _question(chat)
        await _add(store, question)

        async def attempt() -> int:
            async with store.transaction() as tx:
                claimed = await tx.claim(question.id)
            assert claimed is not None
            return claimed.attempts

        assert sorted(await asyncio.gather(*(attempt() for _ in range(5)))) == [1, 2, 3, 4, 5]

    async def test_set_status(self, store: Store) -> None:
        chat = await _chat(store)
        question = _question(chat)
        await _add(store, question)
        async with store.transaction() as tx:
            await tx.set_status(question.id, Status.FAILED)
            loaded = await tx.get_message(question.id)
        assert loaded is not None
        assert loaded.status is Status.FAILED

    async def test_pending_lists_waiting_questions_oldest_first(self, store: Store) -> None:
        chat = await _chat(store)
        old, answered, new = _question(chat, "old"), _question(chat, "done"), _question(chat)
        streaming = Message(
            chat_id=chat.id,
            role=Role.ASSISTANT,
            content="",
            response_id=answered.response_id,
            status=Status.PENDING,
        )
        await _add(store, new, old, answered, streaming)  # insertion order is not age
        async with store.transaction() as tx:
            await tx.set_status(answered.id, Status.COMPLETE)
        async with store.transaction() as tx:
            assert [m.id for m in await tx.pending(limit=10)] == [old.id, new.id]
            assert [m.id for m in await tx.pending(limit=1)] == [old.id]


# ---- files ---------------------------------------------------------------------------


class TestFiles:
    async def test_add_and_get(self, store: Store) -> None:
        chat = await _chat(store)
        loose = FileMeta(
            owner_id=chat.owner_id, name="a.txt", media_type="text/plain", size=3, sha256="0" * 64
        )
        attached = FileMeta(
            owner_id=chat.owner_id,
            chat_id=chat.id,
            name="big.bin",
            media_type="application/octet-stream",
            size=5 * 2**32,  # past 32 bits
            sha256="f" * 64,
        )
        async with store.transaction() as tx:
            await tx.add_file(loose)
            await tx.add_file(attached)
        async with store.transaction() as tx:
            assert await tx.get_file(loose.id) == loose
            assert await tx.get_file(attached.id) == attached
            assert await tx.get_file(new_id()) is None


# ---- idempotency ---------------------------------------------------------------------


class TestIdempotency:
    async def test_put_then_get(self, store: Store) -> None:
        user = await _user(store)
        result = IdempotentResult(
            request_hash="abc123", status_code=202, body={"chat": {"id": "x", "tags": [1, 2]}}
        )
        async with store.transaction() as tx:
            assert await tx.get_idempotent(user.id, "key-1") is None
            await tx.put_idempotent(user.id, "key-1", result)
        async with store.transaction() as tx:
            assert await tx.get_idempotent(user.id, "key-1") == result
            assert await tx.get_idempotent(user.id, "key-2") is None

    async def test_second_put_is_refused_and_the_first_kept(self, store: Store) -> None:
        user = await _user(store)
        first = IdempotentResult(request_hash="h1", status_code=201, body={"n": 1})
        async with store.transaction() as tx:
            await tx.put_idempotent(user.id, "key", first)
        with pytest.raises(DuplicateKey):
            async with store.transaction() as tx:
                await tx.put_idempotent(user.id, "key", IdempotentResult("h2", 201, {"n": 2}))
        async with store.transaction() as tx:
            assert await tx.get_idempotent(user.id, "key") == first

    async def test_keys_belong_to_one_user(self, store: Store) -> None:
        ada, grace = await _user(store, "ada"), await _user(store, "grace")
        result = IdempotentResult(request_hash="h", status_code=200, body={})
        async with store.transaction() as tx:
            await tx.put_idempotent(ada.id, "same", result)
            await tx.put_idempotent(grace.id, "same", result)
            assert await tx.get_idempotent(grace.id, "same") == result


# ---- health --------------------------------------------------------------------------


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
                    await tx.get_user(UUID(int=1))
        finally:
            await store.close()

    async def test_describe_never_shows_credentials(self) -> None:
        store = await connect(_CLOSED_PORT)
        try:
            assert store.describe() == {"backend": "postgresql"}
        finally:
            await store.close()
