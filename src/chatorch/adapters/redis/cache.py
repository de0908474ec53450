"""RedisCache: the Cache port on Redis; the server's maxmemory policy bounds it."""

from typing import Any

import redis.asyncio as redis

from chatorch.adapters.redis.client import millis, translated
from chatorch.domain.errors import CacheUnavailable


class RedisCache:
    def __init__(self, client: "redis.Redis", *, namespace: str) -> None:
        self._redis = client
        self._prefix = f"{namespace}:cache:"

    async def get(self, key: str) -> bytes | None:
        async with translated(CacheUnavailable, "cache get"):
            value = await self._redis.get(self._prefix + key)
        return value.encode() if isinstance(value, str) else value

    async def set(self, key: str, value: bytes, *, ttl: float) -> None:
        async with translated(CacheUnavailable, "cache set"):
            await self._redis.set(self._prefix + key, value, px=millis(ttl))

    async def delete(self, key: str) -> None:
        async with translated(CacheUnavailable, "cache delete"):
            await self._redis.delete(self._prefix + key)

    async def incr(self, key: str, *, ttl: float) -> int:
        name = self._prefix + key
        async with translated(CacheUnavailable, "cache incr"):
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.incr(name)
                pipe.pexpire(name, millis(ttl), nx=True)  # the window starts at the first hit
                count, _ = await pipe.execute()
            return int(count)

    async def ping(self) -> None:
        async with translated(CacheUnavailable, "cache ping"):
            await self._redis.ping()

    async def close(self) -> None:
        await self._redis.aclose()

    def describe(self) -> dict[str, Any]:
        return {"backend": "redis"}
