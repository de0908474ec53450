"""InMemoryRegistry: live stream connections of this process, with expiry."""

import time
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from chatorch.domain.entities import Connection


class InMemoryRegistry:
    def __init__(self) -> None:
        self._live: dict[UUID, tuple[float, Connection]] = {}

    async def register(self, connection: Connection, *, ttl: float) -> None:
        self._live[connection.id] = (time.monotonic() + ttl, connection)

    async def unregister(self, connection_id: UUID) -> None:
        self._live.pop(connection_id, None)

    async def heartbeat(self, pod_id: str, *, ttl: float) -> None:
        expires = time.monotonic() + ttl
        for conn_id, (_, conn) in list(self._live.items()):
            if conn.pod_id == pod_id:
                self._live[conn_id] = (expires, conn)

    async def connections(
        self, *, chat_id: UUID | None = None, pod_id: str | None = None
    ) -> Sequence[Connection]:
        now = time.monotonic()
        for conn_id in [c for c, (expires, _) in self._live.items() if expires <= now]:
            del self._live[conn_id]
        return [
            conn
            for _, conn in self._live.values()
            if (chat_id is None or conn.chat_id == chat_id)
            and (pod_id is None or conn.pod_id == pod_id)
        ]

    async def ping(self) -> None:
        """Always answers: it lives in this process."""

    async def close(self) -> None:
        self._live.clear()

    def describe(self) -> dict[str, Any]:
        return {"backend": "memory", "connections": len(self._live)}
