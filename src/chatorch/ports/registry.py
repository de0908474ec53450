"""Registry: which pod holds a live event stream for which chat."""

from collections.abc import Sequence
from typing import Any, Protocol
from uuid import UUID

from chatorch.domain.entities import Connection


class Registry(Protocol):
    async def register(self, connection: Connection, *, ttl: float) -> None:
        """Record a live connection; it expires after ``ttl`` seconds without a heartbeat."""
        ...

    async def unregister(self, connection_id: UUID) -> None: ...

    async def heartbeat(self, pod_id: str, *, ttl: float) -> None:
        """Keep every connection of ``pod_id`` alive for another ``ttl`` seconds."""
        ...

    async def connections(
        self, *, chat_id: UUID | None = None, pod_id: str | None = None
    ) -> Sequence[Connection]:
        """Live (unexpired) connections, optionally of one chat or one pod."""
        ...

    async def ping(self) -> None: ...

    async def close(self) -> None: ...

    def describe(self) -> dict[str, Any]: ...
