"""A value PostgreSQL refuses is the caller's mistake (InvalidInput, a 422), and what the
error says never carries the statement's parameters: user text stays out of logs."""

import asyncio

import pytest

from chatorch.adapters.sql.migrate import upgrade
from chatorch.adapters.sql.store import connect
from chatorch.domain.entities import Chat, Message, Role
from chatorch.domain.errors import InvalidInput
from chatorch.domain.ids import new_id
from tests.services import fresh_database, require

pytestmark = pytest.mark.services

PRIVATE = "my card number is 4111 1111 1111 1111"


@pytest.mark.parametrize(
    ("content", "title"),
    [(PRIVATE + "\x00", "fine"), (PRIVATE, "t" * 600)],
    ids=["nul", "too-long"],
)
async def test_a_refused_value_is_invalid_input_without_parameters(
    content: str, title: str
) -> None:
    require("PostgreSQL", "127.0.0.1", 5432)
    async with fresh_database() as url:
        await asyncio.to_thread(upgrade, url)
        store = await connect(url)
        try:
            async with store.transaction() as tx:
                owner = await tx.users.ensure_user("ada")
            chat = Chat(owner_id=owner.id, title=title)
            question = Message(
                chat_id=chat.id, role=Role.USER, content=content, response_id=new_id()
            )
            with pytest.raises(InvalidInput) as refused:  # noqa: PT012 - one unit of work
                async with store.transaction() as tx:
                    await tx.chats.add_chat(chat)
                    await tx.chats.add_message(question)
        finally:
            await store.close()
    said = f"{refused.value} {refused.value.__cause__}"
    assert "database refused a value" in str(refused.value)
    assert PRIVATE not in said
    assert "t" * 600 not in said
