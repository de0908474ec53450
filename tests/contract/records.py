"""Users, chats and messages that the store's contract suites write, made here once."""

from collections.abc import Iterable
from datetime import datetime
from typing import Any
from uuid import UUID

from chatorch.domain.entities import Chat, Message, Role, Status, User
from chatorch.domain.ids import new_id
from chatorch.ports.store import Store


async def user(store: Store, name: str = "ada") -> User:
    async with store.transaction() as tx:
        return await tx.users.ensure_user(name)


async def chat(store: Store, owner: User | None = None, title: str = "a chat") -> Chat:
    owner = owner or await user(store)
    made = Chat(owner_id=owner.id, title=title)
    async with store.transaction() as tx:
        await tx.chats.add_chat(made)
    return made


async def add(store: Store, *messages: Message) -> None:
    async with store.transaction() as tx:
        for message in messages:
            await tx.chats.add_message(message)


def question(
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


def answer(question: Message, content: str = "answer") -> Message:
    return Message(
        chat_id=question.chat_id,
        role=Role.ASSISTANT,
        content=content,
        response_id=question.response_id,
        status=Status.COMPLETE,
    )


async def turns(store: Store, chat: Chat, count: int) -> list[Message]:
    """``count`` answered turns, stored; returns [q1, a1, q2, a2, …]."""
    messages: list[Message] = []
    for number in range(1, count + 1):
        asked = question(chat, f"q{number}")
        messages += [asked, answer(asked, f"a{number}")]
    await add(store, *messages)
    return messages


def contents(messages: Iterable[Message]) -> list[str]:
    return [message.content for message in messages]
