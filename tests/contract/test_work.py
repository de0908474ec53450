"""The WorkRepository contract: claims, statuses, the outbox and idempotent results."""

import asyncio
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from chatorch.domain.entities import IdempotentResult, Message, Role, Status
from chatorch.domain.errors import DuplicateAnswer, DuplicateKey, NotFound, Superseded
from chatorch.domain.ids import new_id
from chatorch.ports.store import Store
from chatorch.ports.work import CANCEL_MARK
from tests.contract import records as make


async def _settle(store: Store, question_id: UUID, answer: Message, *, attempt: int) -> None:
    """As the answer pipeline does: a unit of one write, on PostgreSQL one statement."""
    async with store.transaction(atomic=False) as tx:
        await tx.work.settle(question_id, answer, attempt=attempt)


class TestTurnOrder:
    async def test_a_question_is_claimed_in_turn_once_earlier_ones_are_answered(
        self, store: Store
    ) -> None:
        chat = await make.chat(store)
        first, second = make.question(chat, "first"), make.question(chat, "second")
        elsewhere = make.question(await make.chat(store), "other chat")
        await make.add(store, first, second, elsewhere)
        async with store.transaction() as tx:
            assert await tx.work.claim(second.id) is None  # first is still pending
            assert await tx.work.claim(elsewhere.id) is not None
            assert await tx.work.claim(first.id) is not None
            await tx.work.set_status(first.id, Status.COMPLETE)
            claimed = await tx.work.claim(second.id)
        assert claimed is not None
        assert claimed.attempts == 1  # the refused claim counted nothing

    async def test_out_of_turn_a_question_is_claimed_regardless(self, store: Store) -> None:
        chat = await make.chat(store)
        first, second = make.question(chat, "first"), make.question(chat, "second")
        await make.add(store, first, second)
        async with store.transaction() as tx:
            claimed = await tx.work.claim(second.id, in_turn=False)
        assert claimed is not None
        assert claimed.id == second.id


class TestClaims:
    async def test_claim_counts_attempts_while_the_question_is_pending(self, store: Store) -> None:
        chat = await make.chat(store)
        question = make.question(chat)
        await make.add(store, question)
        counts = []
        for _ in range(3):
            async with store.transaction() as tx:
                claimed = await tx.work.claim(question.id)
            assert claimed is not None
            assert claimed.content == question.content
            counts.append(claimed.attempts)
        assert counts == [1, 2, 3]
        async with store.transaction() as tx:
            await tx.work.set_status(question.id, Status.COMPLETE)
            assert await tx.work.claim(question.id) is None
            assert await tx.work.claim(new_id()) is None
            loaded = await tx.chats.get_message(question.id)
        assert loaded is not None
        assert loaded.attempts == 3

    async def test_concurrent_attempts_are_all_counted(self, store: Store) -> None:
        chat = await make.chat(store)
        question = make.question(chat)
        await make.add(store, question)

        async def attempt() -> int:
            async with store.transaction() as tx:
                claimed = await tx.work.claim(question.id)
            assert claimed is not None
            return claimed.attempts

        assert sorted(await asyncio.gather(*(attempt() for _ in range(5)))) == [1, 2, 3, 4, 5]

    async def test_set_status(self, store: Store) -> None:
        chat = await make.chat(store)
        question = make.question(chat)
        await make.add(store, question)
        async with store.transaction() as tx:
            await tx.work.set_status(question.id, Status.FAILED)
            loaded = await tx.chats.get_message(question.id)
        assert loaded is not None
        assert loaded.status is Status.FAILED

    async def test_only_the_latest_claim_settles_a_question(self, store: Store) -> None:
        chat = await make.chat(store)
        question = make.question(chat)
        await make.add(store, question)
        for _ in range(2):  # attempt 1 froze; attempt 2 took over
            async with store.transaction() as tx:
                await tx.work.claim(question.id)
        older, newer = make.answer(question, "older"), make.answer(question, "newer")
        with pytest.raises(Superseded):
            await _settle(store, question.id, older, attempt=1)
        await _settle(store, question.id, newer, attempt=2)
        with pytest.raises(Superseded):  # answered: no attempt settles it again
            await _settle(store, question.id, make.answer(question, "again"), attempt=2)
        with pytest.raises(NotFound):
            await _settle(store, new_id(), make.answer(question), attempt=1)
        async with store.transaction() as tx:
            loaded = await tx.chats.get_message(question.id)
            stored = await tx.chats.list_messages(chat.id)
        assert loaded is not None
        assert loaded.status is Status.COMPLETE
        assert make.contents(stored) == ["question", "newer"]  # the superseded one never

    async def test_a_turn_answered_already_is_not_settled_again(self, store: Store) -> None:
        chat = await make.chat(store)
        question = make.question(chat)
        await make.add(store, question, make.answer(question, "first"))
        async with store.transaction() as tx:
            await tx.work.claim(question.id)
        with pytest.raises(DuplicateAnswer):
            await _settle(store, question.id, make.answer(question, "second"), attempt=1)
        async with store.transaction() as tx:
            loaded = await tx.chats.get_message(question.id)
            stored = await tx.chats.list_messages(chat.id)
        assert loaded is not None
        assert loaded.status is Status.PENDING  # neither the answer nor the settling kept
        assert make.contents(stored) == ["question", "first"]

    async def test_pending_lists_waiting_questions_oldest_first(self, store: Store) -> None:
        chat = await make.chat(store)
        old, answered, new = (
            make.question(chat, "old"),
            make.question(chat, "done"),
            make.question(chat),
        )
        streaming = Message(
            chat_id=chat.id,
            role=Role.ASSISTANT,
            content="",
            response_id=answered.response_id,
            status=Status.PENDING,
        )
        await make.add(store, new, old, answered, streaming)  # insertion order is not age
        async with store.transaction() as tx:
            await tx.work.set_status(answered.id, Status.COMPLETE)
        async with store.transaction() as tx:
            assert [m.id for m in await tx.work.pending(limit=10)] == [old.id, new.id]
            assert [m.id for m in await tx.work.pending(limit=1)] == [old.id]


class TestCancelMark:
    async def test_a_pending_question_is_marked_and_keeps_its_metadata(self, store: Store) -> None:
        chat = await make.chat(store)
        question = make.question(chat, metadata={"file_ids": ["f-1"]})
        await make.add(store, question)
        async with store.transaction() as tx:
            assert await tx.work.request_cancel(question.id) is True
        async with store.transaction() as tx:
            claimed = await tx.work.claim(question.id)  # what the answer starts from
        assert claimed is not None
        assert claimed.metadata == {"file_ids": ["f-1"], CANCEL_MARK: True}

    async def test_an_answered_or_unknown_question_is_not_marked(self, store: Store) -> None:
        chat = await make.chat(store)
        question = make.question(chat)
        await make.add(store, question)
        async with store.transaction() as tx:
            await tx.work.set_status(question.id, Status.COMPLETE)
            assert await tx.work.request_cancel(question.id) is False
            assert await tx.work.request_cancel(new_id()) is False
            loaded = await tx.chats.get_message(question.id)
        assert loaded is not None
        assert CANCEL_MARK not in loaded.metadata


class TestOutbox:
    async def test_undispatched_lists_old_pending_questions_until_marked(
        self, store: Store
    ) -> None:
        chat = await make.chat(store)
        long_ago = datetime.now(UTC) - timedelta(seconds=30)
        old, older = (make.question(chat, name, created_at=long_ago) for name in ("o", "oo"))
        fresh = make.question(chat, "fresh")
        await make.add(store, old, older, fresh)
        async with store.transaction() as tx:
            overdue = await tx.work.undispatched(older_than=10, limit=10)
            assert {m.id for m in overdue} == {old.id, older.id}
            await tx.work.mark_dispatched([old.id, older.id])  # a batch: one statement
            await tx.work.mark_dispatched([])
            assert await tx.work.undispatched(older_than=10, limit=10) == []
            assert [m.id for m in await tx.work.undispatched(older_than=0, limit=10)] == [fresh.id]


class TestIdempotency:
    async def test_put_then_get(self, store: Store) -> None:
        user = await make.user(store)
        result = IdempotentResult(
            request_hash="abc123", status_code=202, body={"chat": {"id": "x", "tags": [1, 2]}}
        )
        async with store.transaction() as tx:
            assert await tx.work.get_idempotent(user.id, "key-1") is None
            await tx.work.put_idempotent(user.id, "key-1", result)
        async with store.transaction() as tx:
            assert await tx.work.get_idempotent(user.id, "key-1") == result
            assert await tx.work.get_idempotent(user.id, "key-2") is None

    async def test_second_put_is_refused_and_the_first_kept(self, store: Store) -> None:
        user = await make.user(store)
        first = IdempotentResult(request_hash="h1", status_code=201, body={"n": 1})
        async with store.transaction() as tx:
            await tx.work.put_idempotent(user.id, "key", first)
        with pytest.raises(DuplicateKey):
            async with store.transaction() as tx:
                await tx.work.put_idempotent(user.id, "key", IdempotentResult("h2", 201, {"n": 2}))
        async with store.transaction() as tx:
            assert await tx.work.get_idempotent(user.id, "key") == first

    async def test_keys_belong_to_one_user(self, store: Store) -> None:
        ada, grace = await make.user(store, "ada"), await make.user(store, "grace")
        result = IdempotentResult(request_hash="h", status_code=200, body={})
        async with store.transaction() as tx:
            await tx.work.put_idempotent(ada.id, "same", result)
            await tx.work.put_idempotent(grace.id, "same", result)
            assert await tx.work.get_idempotent(grace.id, "same") == result
