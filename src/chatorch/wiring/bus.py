"""The bus named by CHATORCH_BUS_URL (in-process or NATS JetStream), the cache and the
session registry named by CHATORCH_CACHE_URL (in-process or Redis)."""

from contextlib import AsyncExitStack
from typing import Any
from urllib.parse import urlsplit

from chatorch.adapters.memory.bus import InMemoryBus
from chatorch.adapters.memory.cache import InMemoryCache
from chatorch.adapters.memory.registry import InMemoryRegistry
from chatorch.adapters.nats.bus import NatsBus
from chatorch.adapters.nats.discovery import announce, survey
from chatorch.adapters.redis.cache import RedisCache
from chatorch.adapters.redis.client import connect as connect_redis
from chatorch.adapters.redis.registry import RedisRegistry
from chatorch.container import Role
from chatorch.ports.bus import Bus
from chatorch.ports.cache import Cache
from chatorch.ports.registry import Registry
from chatorch.services.metrics import MetricsCollector
from chatorch.settings import Settings
from chatorch.wiring.startup import StartupError, connecting


def in_process(settings: Settings) -> bool:
    """Whether the bus lives in this process: one process does all the work."""
    return urlsplit(settings.bus_url).scheme == "memory"


async def build_bus(settings: Settings, stack: AsyncExitStack, *, pod_id: str) -> Bus:
    bus = await connecting("CHATORCH_BUS_URL", _connect_bus(settings, pod_id))
    stack.push_async_callback(bus.close)
    return bus


async def _connect_bus(settings: Settings, pod_id: str) -> Bus:
    if in_process(settings):
        return InMemoryBus(log_seconds=settings.event_log_seconds)
    return await NatsBus.connect(
        settings.bus_url,
        namespace=settings.namespace,
        log_seconds=settings.event_log_seconds,
        ack_wait=settings.ack_wait,
        name=f"chatorch {pod_id}",
    )


async def announce_process(
    bus: Bus,
    stack: AsyncExitStack,
    *,
    settings: Settings,
    role: Role,
    pod_id: str,
    metrics: MetricsCollector,
) -> None:
    """Answer `chatorch status` on NATS (the Services API); nothing to do in-process."""
    if not isinstance(bus, NatsBus):
        return
    service = await announce(
        bus.client, namespace=settings.namespace, role=role, pod_id=pod_id, load=metrics.load
    )
    stack.push_async_callback(service.stop)


async def live_processes(settings: Settings) -> list[dict[str, Any]]:
    """The gateways and workers of this deployment that answer on the bus."""
    if in_process(settings):
        raise StartupError("CHATORCH_BUS_URL: the in-process bus has no other processes to list")
    async with AsyncExitStack() as stack:
        bus = await build_bus(settings, stack, pod_id="status")
        assert isinstance(bus, NatsBus)
        return await survey(bus.client, namespace=settings.namespace)


async def build_cache_and_registry(
    settings: Settings, stack: AsyncExitStack
) -> tuple[Cache, Registry]:
    """Both live in the process, or both on the Redis named by CACHE_URL."""
    if urlsplit(settings.cache_url).scheme == "memory":
        cache: Cache = InMemoryCache()
        registry: Registry = InMemoryRegistry()
    else:
        namespace = settings.namespace
        cache = RedisCache(connect_redis(settings.cache_url), namespace=namespace)
        registry = RedisRegistry(connect_redis(settings.cache_url), namespace=namespace)
    stack.push_async_callback(cache.close)
    stack.push_async_callback(registry.close)
    await connecting("CHATORCH_CACHE_URL", cache.ping())
    return cache, registry
