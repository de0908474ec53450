"""Chat summaries: what a chat said up to one of its messages, written when it idles,
so a long chat keeps its gist once its early turns no longer fit a prompt.

One process writes a chat's summary at a time: it takes a lease first (``lease``),
and a lease that ends with its process expires by itself.
"""

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol
from uuid import UUID

from chatorch.domain.entities import ChatSummary


class SummaryRepository(Protocol):
    async def get_summary(self, chat_id: UUID) -> ChatSummary | None:
        """The chat's summary; None before its first."""
        ...

    async def put_summary(self, summary: ChatSummary) -> bool:
        """Store ``summary`` as the chat's, ending its lease; False (nothing changed)
        when the chat has a summary through a later message already, or is gone."""
        ...

    async def lease(self, chat_id: UUID, *, until: datetime, now: datetime) -> bool:
        """Take the chat's summary lease until ``until`` unless another holds one past
        ``now``; whether it was taken."""
        ...

    async def idle_chats(
        self, *, since: UUID, idle_before: UUID, limit: int
    ) -> Sequence[tuple[UUID, UUID]]:
        """Chats with messages since the id ``since`` whose latest message is older than
        the id ``idle_before`` and whose latest complete answer is not summarised yet:
        (chat id, that answer's id), oldest first."""
        ...
