"""The work of answering: claims on pending questions, their status, the outbox mark, and
the remembered results of idempotent requests."""

from collections.abc import Sequence
from typing import Protocol
from uuid import UUID

from chatorch.domain.entities import IdempotentResult, Message, Status

CANCEL_MARK = "cancel_requested"  # a question's metadata key: its answer is to stop


class WorkRepository(Protocol):
    async def claim(self, message_id: UUID, *, in_turn: bool = True) -> Message | None:
        """Count one more attempt at answering a pending user message; the message, with
        the new count. ``in_turn``: only once no earlier user message of its chat is
        pending. None when nothing was claimed: the message is answered, failed or gone,
        or (``in_turn``) an earlier one still waits for its answer."""
        ...

    async def set_status(self, message_id: UUID, status: Status) -> None:
        """Set a message's status.

        Raises:
            NotFound: there is no such message.
        """
        ...

    async def settle(self, question_id: UUID, answer: Message, *, attempt: int) -> None:
        """Store ``answer`` and mark the pending question answered (``answer.status``)
        by its ``attempt``-th attempt, both or neither: only the latest claim may, so an
        attempt that froze while another took over never stores its older answer over
        the one the client was shown.

        Raises:
            Superseded: the question was claimed again since, or is no longer pending.
            NotFound: there is no such question (its chat was erased).
            DuplicateAnswer: the turn already has an answer.
        """
        ...

    async def request_cancel(self, message_id: UUID) -> bool:
        """Record on a pending question that its answer is to stop (``metadata``'s
        ``cancel_requested``); False when it is not pending (answered, failed or gone)."""
        ...

    async def pending(self, *, limit: int, after: UUID | None = None) -> Sequence[Message]:
        """User messages still waiting for an answer, oldest first (newer than ``after``)."""
        ...

    async def mark_dispatched(self, message_ids: Sequence[UUID]) -> None:
        """Note that these messages' work items reached the bus (the outbox mark), in
        one statement however many."""
        ...

    async def undispatched(self, *, older_than: float, limit: int) -> Sequence[Message]:
        """Pending user messages whose work item never reached the bus, oldest first.

        Only those accepted at least ``older_than`` seconds ago: younger ones may still
        be on their way.
        """
        ...

    async def get_idempotent(self, user_id: UUID, key: str) -> IdempotentResult | None: ...

    async def put_idempotent(self, user_id: UUID, key: str, result: IdempotentResult) -> None:
        """Remember a POST's result.

        Raises:
            DuplicateKey: another request stored a result under this key first.
        """
        ...
