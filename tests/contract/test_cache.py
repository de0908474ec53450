"""The Cache contract: memory now, Redis next."""

import asyncio
from collections.abc import AsyncIterator

import pytest

from chatorch.adapters.memory.cache import InMemoryCache
from chatorch.adapters.redis.cache import RedisCache
from chatorch.adapters.redis.client import connect as connect_redis
from chatorch.domain.errors import CacheUnavailable
from chatorch.ports.cache import Cache
from tests.contract.conftest import redis_namespace
from tests.services import REDIS_URL


@pytest.fixture(params=["memory", "redis"])
async def cache(request: pytest.FixtureRequest) -> AsyncIterator[Cache]:
    if request.param == "memory":
        memory = InMemoryCache(max_entries=100)
        yield memory
        await memory.close()
        return
    async with redis_namespace() as namespace:
        adapter = RedisCache(connect_redis(REDIS_URL), namespace=namespace)
        yield adapter
        await adapter.close()


class TestCache:
    async def test_set_get_delete(self, cache: Cache) -> None:
        assert await cache.get("k") is None
        await cache.set("k", b"v", ttl=10)
        assert await cache.get("k") == b"v"
        await cache.delete("k")
        assert await cache.get("k") is None

    async def test_entries_expire(self, cache: Cache) -> None:
        await cache.set("k", b"v", ttl=0.2)
        await asyncio.sleep(0.4)
        assert await cache.get("k") is None

    async def test_counters_count_within_their_window(self, cache: Cache) -> None:
        assert [await cache.incr("c", ttl=0.3) for _ in range(3)] == [1, 2, 3]
        await asyncio.sleep(0.5)
        assert await cache.incr("c", ttl=0.3) == 1


class TestMemoryBound:
    async def test_least_recently_used_entry_goes_first(self) -> None:
        cache = InMemoryCache(max_entries=2)
        await cache.set("a", b"1", ttl=10)
        await cache.set("b", b"2", ttl=10)
        await cache.get("a")
        await cache.set("c", b"3", ttl=10)
        assert await cache.get("b") is None
        assert await cache.get("a") == b"1"
        assert await cache.get("c") == b"3"


class TestRedisOutage:
    async def test_an_unreachable_server_is_reported_as_unavailable(self) -> None:
        cache = RedisCache(connect_redis("redis://127.0.0.1:1/0"), namespace="x")
        try:
            with pytest.raises(CacheUnavailable):
                await cache.ping()
            with pytest.raises(CacheUnavailable):
                await cache.get("k")
        finally:
            await cache.close()
