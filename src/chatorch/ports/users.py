"""Users with their API keys, and the audit trail of what they and others did."""

from collections.abc import Sequence
from typing import Protocol
from uuid import UUID

from chatorch.domain.entities import ApiKey, AuditEvent, User


class UserRepository(Protocol):
    async def ensure_user(self, name: str) -> User:
        """Return the user called ``name``, creating it on first sight."""
        ...

    async def get_user(self, user_id: UUID) -> User | None: ...

    async def delete_user(self, user_id: UUID) -> bool:
        """Erase a user with their chats, messages, files and keys; False if unknown.

        The audit trail keeps its records: it is the account of what happened.
        """
        ...

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
