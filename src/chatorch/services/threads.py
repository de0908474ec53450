"""Threads: a conversation its client keeps, as OpenAI's chat completions have it,
matched to the stored chat it continues.

An OpenAI client sends the whole conversation with every request. Each question
chatorch accepts from one is remembered under a fingerprint of the conversation up to
it; a later request whose earlier messages are that conversation and then the stored
answer — the chat's latest message — continues the same chat. Anything else starts a
new chat, with the request's earlier turns stored first as its answered history, so the
model sees them. The fingerprints are stored (``ports/threads.py``), erased with
their chat.
"""

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal
from uuid import UUID

import orjson

from chatorch.domain.entities import Message, Role, Status, User
from chatorch.domain.errors import InvalidInput
from chatorch.domain.ids import new_id
from chatorch.ports.store import Store

IMPORTED = {"imported": True}  # the metadata of turns a client brought along

Speaker = Literal["user", "assistant"]


@dataclass(slots=True, frozen=True)
class Said:
    role: Speaker
    content: str


@dataclass(slots=True, frozen=True)
class Conversation:
    """A request's messages: the client's instructions (its system messages), what was
    said before, and the question to answer now."""

    instructions: str
    earlier: tuple[Said, ...]
    question: str

    @property
    def title(self) -> str:
        """What a new chat is called: its first question."""
        first = next((said.content for said in self.earlier if said.role == "user"), "")
        return first or self.question


def conversation(messages: Sequence[tuple[str, str]]) -> Conversation:
    """``messages`` as (role, text) pairs, oldest first, as a conversation.

    ``system`` and ``developer`` messages become the instructions; ``tool`` and
    ``function`` messages (results of tools the client ran) are left out.

    Raises:
        InvalidInput: no messages, or the last one said is not the user's.
    """
    if not messages:
        raise InvalidInput("messages is empty; send at least one user message")
    instructions: list[str] = []
    said: list[Said] = []
    for role, text in messages:
        if "\x00" in text:  # NUL is no text, and PostgreSQL cannot store it
            raise InvalidInput("a message contains a NUL character (\\u0000); remove it")
        if role in ("system", "developer"):
            if text.strip():
                instructions.append(text.strip())
        elif role in ("user", "assistant"):
            said.append(Said("user" if role == "user" else "assistant", text))
    if not said or said[-1].role != "user":
        raise InvalidInput("the last user or assistant message must be the user's question")
    return Conversation("\n\n".join(instructions), tuple(said[:-1]), said[-1].content)


def fingerprint(said: Sequence[Said]) -> str:
    """The same text for the same messages in the same order, and for nothing else."""
    body = orjson.dumps([[each.role, each.content] for each in said])
    return hashlib.sha256(body).hexdigest()


def imported_turns(chat_id: UUID, earlier: Sequence[Said]) -> list[Message]:
    """The earlier messages as answered turns of ``chat_id``, oldest first.

    Consecutive messages of one role become one, a blank line apart; an answer before
    the first question answers nothing and is left out.
    """
    merged: list[Said] = []
    for each in earlier:
        if merged and merged[-1].role == each.role:
            merged[-1] = Said(each.role, f"{merged[-1].content}\n\n{each.content}")
        elif merged or each.role == "user":
            merged.append(each)
    turns: list[Message] = []
    response_id = new_id()
    for each in merged:
        if each.role == "user":
            response_id = new_id()
        role = Role.USER if each.role == "user" else Role.ASSISTANT
        turns.append(
            Message(
                chat_id=chat_id,
                role=role,
                content=each.content,
                response_id=response_id,
                status=Status.COMPLETE,
                metadata=dict(IMPORTED),
            )
        )
    return turns


class Threads:
    """Which stored chat a conversation continues, by fingerprint."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def find(self, user: User, asked: Conversation) -> UUID | None:
        """The chat of ``user`` that ``asked`` continues; None when it continues none.

        It continues a chat when its earlier messages are a remembered question's
        conversation followed by that question's answer, as stored, and nothing has
        been said in the chat since.
        """
        earlier = asked.earlier
        if len(earlier) < 2 or earlier[-1].role != "assistant":
            return None
        async with self._store.transaction(durable=False) as tx:
            noted = await tx.threads.get_thread(user.id, fingerprint(earlier[:-1]))
            if noted is None:
                return None
            chat_id, response_id = noted
            chat, turn = await tx.chats.chat_turn(chat_id, response_id)
            latest = await tx.chats.list_messages(chat_id, limit=1)
        if chat is None or chat.owner_id != user.id or len(turn) != 2:
            return None
        answer = turn[1]
        if (
            answer.status is not Status.COMPLETE
            or answer.content.strip() != earlier[-1].content.strip()
            or [message.id for message in latest] != [answer.id]
        ):
            return None
        return chat_id

    async def remember(self, user: User, asked: Conversation, question: Message) -> None:
        """Note that ``question`` (stored) is where ``asked`` now stands."""
        said = (*asked.earlier, Said("user", asked.question))
        async with self._store.transaction() as tx:
            await tx.threads.put_thread(
                user.id,
                fingerprint(said),
                chat_id=question.chat_id,
                response_id=question.response_id,
            )
