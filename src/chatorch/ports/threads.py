"""Threads: where a conversation a client keeps (OpenAI's chat completions) stands in
chatorch — the chat and the question its latest message became, by fingerprint."""

from typing import Protocol
from uuid import UUID


class ThreadRepository(Protocol):
    async def put_thread(
        self, owner_id: UUID, fingerprint: str, *, chat_id: UUID, response_id: UUID
    ) -> None:
        """Note that the conversation ``fingerprint`` of ``owner_id`` led to the question
        of ``response_id`` in ``chat_id``; a later note for the same fingerprint wins."""
        ...

    async def get_thread(self, owner_id: UUID, fingerprint: str) -> tuple[UUID, UUID] | None:
        """(chat id, response id) noted for the conversation; None if there is none, or
        its chat is gone."""
        ...
