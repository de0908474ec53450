"""Store: users, chats, messages and file metadata, behind one unit of work."""

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol
from uuid import UUID

from chatorch.domain.entities import (
    ApiKey,
    AuditEvent,
    Chat,
    FileMeta,
    IdempotentResult,
    Message,
    Status,
    User,
)


class Transaction(Protocol):
    """Reads and writes inside one unit of work, committed or rolled back as a whole."""

    async def ensure_user(self, name: str) -> User:
        """Return the user called ``name``, creating it on first sight."""
        ...

    async def get_user(self, user_id: UUID) -> User | None: ...

    async def delete_user(self, user_id: UUID) -> bool:
        """Erase a user with their chats, messages, files and keys; False if unknown.

        The audit trail keeps its records: it is the account of what happened.
        """
        ...

    async def add_chat(self, chat: Chat) -> None: ...

    async def get_chat(self, chat_id: UUID) -> Chat | None: ...

    async def list_chats(
        self, owner_id: UUID, *, limit: int, before: UUID | None = None
    ) -> Sequence[Chat]:
        """Chats of ``owner_id``, newest first, optionally older than ``before``."""
        ...

    async def enter_chat(self, chat_id: UUID, owner_id: UUID, *, title: str) -> Chat | None:
        """The chat if ``owner_id`` owns it, given ``title`` unless it has one already.

        What every submitted message needs from its chat, in one statement; None for
        a chat that is missing or someone else's.
        """
        ...

    async def add_message(self, message: Message) -> None:
        """Insert a message.

        Raises:
            DuplicateAnswer: the turn ``message.response_id`` already has a message of
                that role — an answer is never stored twice.
        """
        ...

    async def get_message(self, message_id: UUID) -> Message | None: ...

    async def chat_turn(
        self, chat_id: UUID, response_id: UUID
    ) -> tuple[Chat | None, Sequence[Message]]:
        """The chat, and the turn's question and (once stored) answer in that order, in
        one read: what an event stream for one response checks first. No messages when
        the turn is not in that chat; (None, []) when the chat does not exist."""
        ...

    async def list_messages(self, chat_id: UUID, *, limit: int | None = None) -> Sequence[Message]:
        """The chat's messages in conversation order: each turn's question, then its answer.

        With ``limit``, the latest ``limit`` messages, still oldest first.
        """
        ...

    async def history_before(self, message: Message, *, limit: int) -> Sequence[Message]:
        """The up to ``limit`` latest messages of the chat's turns before ``message``'s."""
        ...

    async def claim(self, message_id: UUID, *, in_turn: bool = True) -> Message | None:
        """Count one more attempt at answering a pending user message; the message, with
        the new count. ``in_turn``: only once no earlier user message of its chat is
        pending. None when nothing was claimed: the message is answered, failed or gone,
        or (``in_turn``) an earlier one still waits for its answer."""
        ...

    async def set_status(self, message_id: UUID, status: Status) -> None: ...

    async def pending(self, *, limit: int, after: UUID | None = None) -> Sequence[Message]:
        """User messages still waiting for an answer, oldest first (newer than ``after``)."""
        ...

    async def mark_dispatched(self, message_id: UUID) -> None:
        """Note that the message's work item reached the bus (the outbox mark)."""
        ...

    async def undispatched(self, *, older_than: float, limit: int) -> Sequence[Message]:
        """Pending user messages whose work item never reached the bus, oldest first.

        Only those accepted at least ``older_than`` seconds ago: younger ones may still
        be on their way.
        """
        ...

    async def add_file(self, meta: FileMeta) -> None: ...

    async def get_file(self, file_id: UUID) -> FileMeta | None: ...

    async def add_api_key(self, key: ApiKey) -> None: ...

    async def find_api_key(self, key_hash: str) -> ApiKey | None:
        """The key with this SHA-256 hash, revoked or expired ones included."""
        ...

    async def list_api_keys(self, user_id: UUID | None = None) -> Sequence[ApiKey]:
        """Keys newest first, of one user or of everyone."""
        ...

    async def revoke_api_key(self, key_id: UUID) -> ApiKey | None:
        """Mark a key revoked (once); None if there is no such key."""
        ...

    async def add_audit(self, event: AuditEvent) -> None: ...

    async def list_audit(
        self,
        *,
        limit: int,
        action: str | None = None,
        actor: str | None = None,
        before: UUID | None = None,
    ) -> Sequence[AuditEvent]:
        """Audit events newest first, filtered by action (prefix) and actor."""
        ...

    async def put_secret(self, name: str, ciphertext: str) -> None:
        """Store (or replace) an already encrypted secret."""
        ...

    async def get_secret(self, name: str) -> str | None: ...

    async def secret_names(self) -> Sequence[str]: ...

    async def delete_secret(self, name: str) -> bool: ...

    async def get_idempotent(self, user_id: UUID, key: str) -> IdempotentResult | None: ...

    async def put_idempotent(self, user_id: UUID, key: str, result: IdempotentResult) -> None:
        """Remember a POST's result.

        Raises:
            DuplicateKey: another request stored a result under this key first.
        """
        ...


class Store(Protocol):
    def transaction(self, *, durable: bool = True) -> AbstractAsyncContextManager[Transaction]:
        """Open a unit of work: commit when the block ends, roll back if it raises.

        The block ends once what it wrote is on disk. ``durable=False`` lets it end as
        soon as the commit is made, for a write that only needs to survive a crash of
        this process, not of the machine; the next durable commit covers it.

        Raises:
            StoreUnavailable: the database did not answer.
        """
        ...

    async def ping(self) -> None:
        """Raise ``StoreUnavailable`` unless the database answers."""
        ...

    async def close(self) -> None: ...

    def describe(self) -> dict[str, Any]:
        """What a readiness probe shows: the backend, never credentials."""
        ...
