"""The Registry contract: memory now, Redis next."""

import asyncio
from collections.abc import AsyncIterator

import pytest

from chatorch.adapters.memory.registry import InMemoryRegistry
from chatorch.adapters.redis.client import connect as connect_redis
from chatorch.adapters.redis.registry import RedisRegistry
from chatorch.domain.entities import Connection
from chatorch.domain.ids import new_id
from chatorch.ports.registry import Registry
from tests.contract.conftest import redis_namespace
from tests.services import REDIS_URL


@pytest.fixture(params=["memory", "redis"])
async def registry(request: pytest.FixtureRequest) -> AsyncIterator[Registry]:
    if request.param == "memory":
        memory = InMemoryRegistry()
        yield memory
        await memory.close()
        return
    async with redis_namespace() as namespace:
        adapter = RedisRegistry(connect_redis(REDIS_URL), namespace=namespace)
        yield adapter
        await adapter.close()


class TestRegistry:
    async def test_lists_connections_by_chat_and_pod(self, registry: Registry) -> None:
        chat, user = new_id(), new_id()
        a = Connection(chat_id=chat, user_id=user, pod_id="pod-a")
        b = Connection(chat_id=chat, user_id=user, pod_id="pod-b")
        c = Connection(chat_id=new_id(), user_id=user, pod_id="pod-a")
        for conn in (a, b, c):
            await registry.register(conn, ttl=10)
        assert {x.id for x in await registry.connections(chat_id=chat)} == {a.id, b.id}
        assert {x.id for x in await registry.connections(pod_id="pod-a")} == {a.id, c.id}
        assert len(await registry.connections()) == 3

    async def test_unregister(self, registry: Registry) -> None:
        conn = Connection(chat_id=new_id(), user_id=new_id(), pod_id="p")
        await registry.register(conn, ttl=10)
        await registry.unregister(conn.id)
        assert await registry.connections() == []

    async def test_a_silent_pods_connections_expire(self, registry: Registry) -> None:
        alive = Connection(chat_id=new_id(), user_id=new_id(), pod_id="alive")
        dead = Connection(chat_id=new_id(), user_id=new_id(), pod_id="dead")
        await registry.register(alive, ttl=0.3)
        await registry.register(dead, ttl=0.3)
        await asyncio.sleep(0.2)
        await registry.heartbeat("alive", ttl=0.3)
        await asyncio.sleep(0.2)
        assert [c.id for c in await registry.connections()] == [alive.id]

    async def test_a_registered_connection_reads_back_whole(self, registry: Registry) -> None:
        conn = Connection(chat_id=new_id(), user_id=new_id(), pod_id="p")
        await registry.register(conn, ttl=10)
        assert await registry.connections(chat_id=conn.chat_id) == [conn]

    async def test_unregistering_twice_is_harmless(self, registry: Registry) -> None:
        conn = Connection(chat_id=new_id(), user_id=new_id(), pod_id="p")
        await registry.register(conn, ttl=10)
        await registry.unregister(conn.id)
        await registry.unregister(conn.id)
        assert await registry.connections(pod_id="p") == []
