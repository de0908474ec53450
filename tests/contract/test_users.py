"""The UserRepository contract: users, their API keys and the audit trail, on every store."""

import asyncio

from chatorch.domain.entities import AccessRole, ApiKey, AuditEvent
from chatorch.domain.ids import new_id
from chatorch.ports.store import Store
from tests.contract import records as make


class TestUsers:
    async def test_ensure_user_creates_once(self, store: Store) -> None:
        first = await make.user(store, "ada")
        again = await make.user(store, "ada")
        other = await make.user(store, "grace")
        assert again == first
        assert other.id != first.id
        async with store.transaction() as tx:
            assert await tx.users.get_user(first.id) == first

    async def test_concurrent_first_sight_makes_one_user(self, store: Store) -> None:
        users = await asyncio.gather(*(make.user(store, "linus") for _ in range(4)))
        assert len({user.id for user in users}) == 1

    async def test_unknown_user_is_none(self, store: Store) -> None:
        async with store.transaction() as tx:
            assert await tx.users.get_user(new_id()) is None


class TestErasure:
    async def test_deleting_a_user_takes_their_chats_messages_and_keys(self, store: Store) -> None:
        ada, bob = await make.user(store, "ada"), await make.user(store, "bob")
        mine, theirs = await make.chat(store, ada), await make.chat(store, bob)
        question = make.question(mine)
        await make.add(store, question, make.question(theirs))
        async with store.transaction() as tx:
            await tx.users.add_api_key(
                ApiKey(user_id=ada.id, name="k", prefix="chk_a", hash="d" * 64)
            )
            await tx.users.add_audit(AuditEvent(action="key.created", actor="ada"))
            assert await tx.users.delete_user(ada.id)
            assert not await tx.users.delete_user(ada.id)
        async with store.transaction() as tx:
            assert await tx.users.get_user(ada.id) is None
            assert await tx.chats.get_chat(mine.id) is None
            assert await tx.chats.get_message(question.id) is None
            assert await tx.users.find_api_key("d" * 64) is None
            assert await tx.chats.get_chat(theirs.id) is not None
            assert [e.actor for e in await tx.users.list_audit(limit=5)] == ["ada"]


class TestApiKeys:
    async def test_keys_are_found_by_hash_listed_and_revoked_once(self, store: Store) -> None:
        ada, bob = await make.user(store, "ada"), await make.user(store, "bob")
        first = ApiKey(user_id=ada.id, name="laptop", prefix="chk_abc", hash="a" * 64)
        second = ApiKey(
            user_id=bob.id, name="ci", prefix="chk_def", hash="b" * 64, role=AccessRole.ADMIN
        )
        async with store.transaction() as tx:
            await tx.users.add_api_key(first)
            await tx.users.add_api_key(second)
        async with store.transaction() as tx:
            assert await tx.users.find_api_key("a" * 64) == first
            assert await tx.users.find_api_key("c" * 64) is None
            assert [k.id for k in await tx.users.list_api_keys()] == [second.id, first.id]
            assert [k.id for k in await tx.users.list_api_keys(ada.id)] == [first.id]
            revoked = await tx.users.revoke_api_key(first.id)
            again = await tx.users.revoke_api_key(first.id)
            assert await tx.users.revoke_api_key(new_id()) is None
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
                await tx.users.add_audit(event)
        async with store.transaction() as tx:
            everything = await tx.users.list_audit(limit=10)
            keys = await tx.users.list_audit(limit=10, action="key.")
            anonymous = await tx.users.list_audit(limit=10, actor="anonymous")
            older = await tx.users.list_audit(limit=10, before=events[2].id)
        assert [e.action for e in everything][:3] == ["key.revoked", "key.created", "auth.failed"]
        assert everything[0] == events[2]
        assert [e.action for e in keys] == ["key.revoked", "key.created"]
        assert [e.ip for e in anonymous] == ["10.0.0.1"]
        assert events[2].id not in [e.id for e in older]
