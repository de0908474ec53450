"""RedisRegistry: live stream connections of every pod, expiring with their pod.

Each connection is a key with a TTL (``<ns>:conn:<id>``), indexed by chat and by pod
in sets. A pod's heartbeat renews its connections' TTLs; when a pod dies they lapse,
and readers drop the ids whose key is gone from the index sets.
"""

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import orjson
import redis.asyncio as redis

from chatorch.adapters.redis.client import millis, translated
from chatorch.domain.entities import Connection
from chatorch.domain.errors import RegistryUnavailable

SCAN_BATCH = 500


class RedisRegistry:
    def __init__(self, client: "redis.Redis", *, namespace: str) -> None:
        self._redis = client
        self._ns = namespace

    def _conn(self, connection_id: UUID | str) -> str:
        return f"{self._ns}:conn:{connection_id}"

    def _by_chat(self, chat_id: UUID) -> str:
        return f"{self._ns}:chat-conns:{chat_id}"

    def _by_pod(self, pod_id: str) -> str:
        return f"{self._ns}:pod-conns:{pod_id}"

    async def register(self, connection: Connection, *, ttl: float) -> None:
        ms = millis(ttl)
        async with (
            translated(RegistryUnavailable, "registry register"),
            self._redis.pipeline(transaction=True) as pipe,
        ):
            pipe.set(self._conn(connection.id), _encode(connection), px=ms)
            for index in (self._by_chat(connection.chat_id), self._by_pod(connection.pod_id)):
                pipe.sadd(index, str(connection.id))
                pipe.pexpire(index, ms, gt=True)
                pipe.pexpire(index, ms, nx=True)
            await pipe.execute()

    async def unregister(self, connection_id: UUID) -> None:
        async with translated(RegistryUnavailable, "registry unregister"):
            raw = await self._redis.getdel(self._conn(connection_id))
            if raw is None:
                return
            connection = _decode(raw)
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.srem(self._by_chat(connection.chat_id), str(connection_id))
                pipe.srem(self._by_pod(connection.pod_id), str(connection_id))
                await pipe.execute()

    async def heartbeat(self, pod_id: str, *, ttl: float) -> None:
        ms = millis(ttl)
        async with translated(RegistryUnavailable, "registry heartbeat"):
            ids = await self._redis.smembers(self._by_pod(pod_id))
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.pexpire(self._by_pod(pod_id), ms)
                for conn_id in ids:
                    pipe.pexpire(self._conn(_text(conn_id)), ms)
                await pipe.execute()

    async def connections(
        self, *, chat_id: UUID | None = None, pod_id: str | None = None
    ) -> Sequence[Connection]:
        async with translated(RegistryUnavailable, "registry read"):
            if chat_id is not None:
                found = await self._members(self._by_chat(chat_id))
            elif pod_id is not None:
                found = await self._members(self._by_pod(pod_id))
            else:
                found = await self._scan()
        return [c for c in found if pod_id is None or c.pod_id == pod_id]

    async def _members(self, index: str) -> list[Connection]:
        ids = [_text(member) for member in await self._redis.smembers(index)]
        if not ids:
            return []
        raws = await self._redis.mget([self._conn(i) for i in ids])
        stale = [i for i, raw in zip(ids, raws, strict=True) if raw is None]
        if stale:
            await self._redis.srem(index, *stale)  # their pod stopped renewing them
        return [_decode(raw) for raw in raws if raw is not None]

    async def _scan(self) -> list[Connection]:
        found: list[Connection] = []
        async for key in self._redis.scan_iter(match=self._conn("*"), count=SCAN_BATCH):
            raw = await self._redis.get(key)
            if raw is not None:
                found.append(_decode(raw))
        return found

    async def ping(self) -> None:
        async with translated(RegistryUnavailable, "registry ping"):
            await self._redis.ping()

    async def close(self) -> None:
        await self._redis.aclose()

    def describe(self) -> dict[str, Any]:
        return {"backend": "redis"}


def _encode(connection: Connection) -> bytes:
    return orjson.dumps(
        {
            "id": str(connection.id),
            "chat_id": str(connection.chat_id),
            "user_id": str(connection.user_id),
            "pod_id": connection.pod_id,
            "opened_at": connection.opened_at.isoformat(),
        }
    )


def _decode(raw: bytes | str) -> Connection:
    obj = orjson.loads(raw)
    return Connection(
        id=UUID(obj["id"]),
        chat_id=UUID(obj["chat_id"]),
        user_id=UUID(obj["user_id"]),
        pod_id=obj["pod_id"],
        opened_at=datetime.fromisoformat(obj["opened_at"]),
    )


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
