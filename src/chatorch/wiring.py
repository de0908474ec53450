"""Settings → adapters → services: the only module that imports adapters.

``assemble`` connects every backing service named by the settings, fails at once
with one line naming the setting when one is unreachable, and owns their lifetimes.
"""

import asyncio
import contextlib
import os
import socket
from collections.abc import AsyncIterator, Awaitable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit

import httpx
import structlog
from pydantic import SecretStr

from chatorch.adapters.llm.builtin import BuiltinProvider
from chatorch.adapters.memory.bus import InMemoryBus
from chatorch.adapters.memory.cache import InMemoryCache
from chatorch.adapters.memory.registry import InMemoryRegistry
from chatorch.adapters.nats.bus import NatsBus
from chatorch.adapters.nats.discovery import announce, survey
from chatorch.adapters.ratelimit.limits import from_url as rate_limiter
from chatorch.adapters.redis.cache import RedisCache
from chatorch.adapters.redis.client import connect as connect_redis
from chatorch.adapters.redis.registry import RedisRegistry
from chatorch.adapters.sql import migrate
from chatorch.adapters.sql.store import connect as connect_sql
from chatorch.adapters.tools import ToolConfigError, load_tools
from chatorch.domain.entities import User
from chatorch.domain.errors import ChatorchError
from chatorch.pipeline.act import ActionEngine
from chatorch.pipeline.answer import AnswerPipeline, Limits
from chatorch.pipeline.outbox import OutboxRelay
from chatorch.pipeline.request import RequestProcessor
from chatorch.pipeline.respond import ResponseEngine
from chatorch.pipeline.runner import Runner
from chatorch.pipeline.think import ThinkEngine
from chatorch.ports.auth import TokenVerifier
from chatorch.ports.bus import Bus
from chatorch.ports.cache import Cache
from chatorch.ports.llm import LLMProvider
from chatorch.ports.registry import Registry
from chatorch.ports.store import Store
from chatorch.ports.tools import Tool
from chatorch.services.auth import Authenticator
from chatorch.services.context import ContextManager
from chatorch.services.llm import LLMManager, Policy
from chatorch.services.metrics import MetricsCollector
from chatorch.services.prompts import PromptManager
from chatorch.services.secrets import Vault
from chatorch.services.tools import ToolRegistry, builtin_tools
from chatorch.settings import Settings

log = structlog.get_logger(__name__)

Role = Literal["serve", "gateway", "worker"]
LOCAL_USER = "local"
SHUTDOWN_GRACE = 10.0  # s answers in flight may take to finish on stop
T = TypeVar("T")


class StartupError(Exception):
    """A backing service is misconfigured or unreachable; the message names the setting."""


@dataclass(slots=True)
class Container:
    settings: Settings
    pod_id: str
    store: Store
    bus: Bus
    cache: Cache
    registry: Registry
    llm: LLMManager
    tools: ToolRegistry
    metrics: MetricsCollector
    processor: RequestProcessor
    local_user: User
    auth: Authenticator
    vault: Vault | None
    runner: Runner | None = None

    async def readiness(self) -> dict[str, dict[str, Any]]:
        """Ask every backing service; report each one's state and whether it is critical.

        The store and the bus are critical: without them no answer is made. Without the
        cache or the registry chatorch still answers, degraded.
        """
        services: dict[str, Any] = {
            "store": self.store,
            "bus": self.bus,
            "cache": self.cache,
            "registry": self.registry,
        }
        results = await asyncio.gather(*(_check(s) for s in services.values()))
        checks = dict(zip(services, results, strict=True))
        for name, check in checks.items():
            check["critical"] = name in ("store", "bus")
        return checks


async def _check(service: Any) -> dict[str, Any]:
    try:
        async with asyncio.timeout(2.0):
            await service.ping()
    except (ChatorchError, OSError, TimeoutError) as error:
        return {"ok": False, "error": str(error) or type(error).__name__, **service.describe()}
    return {"ok": True, **service.describe()}


def default_pod_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


@asynccontextmanager
async def assemble(settings: Settings, *, role: Role = "serve") -> AsyncIterator[Container]:
    """Build and connect everything ``role`` needs; close it all on exit."""
    if role != "serve" and urlsplit(settings.bus_url).scheme == "memory":
        raise StartupError(
            f"CHATORCH_BUS_URL: a {role} shares work with other processes through NATS; "
            "set CHATORCH_BUS_URL=nats://host:4222, or run everything in one with `chatorch serve`"
        )
    async with AsyncExitStack() as stack:
        if role == "serve":
            await _connecting("CHATORCH_DATABASE_URL", _migrate(settings.database_url))
        store = await _connecting("CHATORCH_DATABASE_URL", connect_sql(settings.database_url))
        stack.push_async_callback(store.close)
        await _connecting("CHATORCH_DATABASE_URL", store.ping())
        pod_id = settings.pod_id or default_pod_id()
        bus = await _connecting("CHATORCH_BUS_URL", _bus(settings, pod_id))
        stack.push_async_callback(bus.close)
        cache, registry = _cache_and_registry(settings)
        stack.push_async_callback(cache.close)
        stack.push_async_callback(registry.close)
        await _connecting("CHATORCH_CACHE_URL", cache.ping())
        vault = vault_for(settings, store)
        metrics = MetricsCollector()
        limiter = rate_limiter(settings.cache_url, namespace=settings.namespace)
        stack.push_async_callback(limiter.close)
        llm = LLMManager(
            await _providers(settings, vault),
            policy=_policy(settings),
            metrics=metrics,
            cache=cache,
        )
        stack.push_async_callback(llm.close)
        tools = ToolRegistry()
        for tool in builtin_tools():
            tools.register(tool)
        if settings.tools_file and role in ("serve", "worker"):
            for tool in await _declared_tools(settings.tools_file, stack):
                tools.register(tool)
        async with store.transaction() as tx:
            local_user = await tx.users.ensure_user(LOCAL_USER)
        container = Container(
            settings=settings,
            pod_id=pod_id,
            store=store,
            bus=bus,
            cache=cache,
            registry=registry,
            llm=llm,
            tools=tools,
            metrics=metrics,
            processor=RequestProcessor(
                store,
                bus,
                metrics,
                max_content_chars=settings.max_content_chars,
                limiter=limiter,
                message_rate=settings.rate_messages,
                outbox=not isinstance(bus, InMemoryBus),
            ),
            local_user=local_user,
            auth=Authenticator(
                store,
                verifier=_verifier(settings),
                required=settings.auth_required,
                local_user=local_user,
                role_claim=settings.jwt_role_claim,
                limiter=limiter,
                failure_rate=settings.rate_auth_failures,
            ),
            vault=vault,
        )
        if isinstance(bus, NatsBus):
            service = await announce(
                bus.client,
                namespace=settings.namespace,
                role=role,
                pod_id=pod_id,
                load=metrics.load,
            )
            stack.push_async_callback(service.stop)
        if role in ("serve", "gateway") and not isinstance(bus, InMemoryBus):
            relay = asyncio.create_task(OutboxRelay(store, bus).run(), name="chatorch-outbox")
            stack.push_async_callback(_cancel, relay)
        if role in ("serve", "worker"):
            container.runner = _runner(container)
            if isinstance(bus, InMemoryBus):  # JetStream redelivers; memory forgot on exit
                await container.runner.recover()
            container.runner.start()
            stack.push_async_callback(container.runner.stop, grace=SHUTDOWN_GRACE)
        yield container


def _verifier(s: Settings) -> TokenVerifier | None:
    """A JWT verifier when an identity provider is configured (issuer, audience, keys)."""
    if not (s.jwt_issuer and s.jwt_audience and (s.jwt_jwks_url or s.jwt_secret)):
        return None
    from chatorch.adapters.auth.jwt import JwtVerifier

    return JwtVerifier(
        issuer=s.jwt_issuer,
        audience=s.jwt_audience,
        jwks_url=s.jwt_jwks_url,
        secret=s.jwt_secret.get_secret_value() if s.jwt_secret else None,
    )


async def _declared_tools(path: str, stack: AsyncExitStack) -> list[Tool]:
    """HTTP tools and MCP servers from CHATORCH_TOOLS_FILE; MCP sessions live in ``stack``."""
    http = httpx.AsyncClient(follow_redirects=False)
    stack.push_async_callback(http.aclose)
    try:
        return await load_tools(path, stack=stack, http=http)
    except (ToolConfigError, OSError) as error:
        raise StartupError(f"CHATORCH_TOOLS_FILE: {error}") from error


async def _bus(settings: Settings, pod_id: str) -> Bus:
    if urlsplit(settings.bus_url).scheme == "memory":
        return InMemoryBus(log_seconds=settings.event_log_seconds)
    return await NatsBus.connect(
        settings.bus_url,
        namespace=settings.namespace,
        log_seconds=settings.event_log_seconds,
        ack_wait=settings.ack_wait,
        name=f"chatorch {pod_id}",
    )


def _cache_and_registry(settings: Settings) -> tuple[Cache, Registry]:
    """Both live in the process, or both on the Redis named by CACHE_URL."""
    if urlsplit(settings.cache_url).scheme == "memory":
        return InMemoryCache(), InMemoryRegistry()
    namespace = settings.namespace
    cache = RedisCache(connect_redis(settings.cache_url), namespace=namespace)
    return cache, RedisRegistry(connect_redis(settings.cache_url), namespace=namespace)


async def _cancel(task: "asyncio.Task[None]") -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def _runner(c: Container) -> Runner:
    s = c.settings
    pipeline = AnswerPipeline(
        store=c.store,
        bus=c.bus,
        think=ThinkEngine(c.llm),
        act=ActionEngine(c.tools, c.metrics, timeout=s.tool_timeout),
        respond=ResponseEngine(),
        tools=c.tools,
        context=ContextManager(max_chars=s.context_chars),
        prompts=PromptManager(),
        metrics=c.metrics,
        limits=Limits(
            max_attempts=s.max_attempts,
            max_tool_steps=s.max_tool_steps,
            context_messages=s.context_messages,
            coalesce=s.coalesce_ms / 1000,
            temperature=s.llm_temperature,
            max_tokens=s.llm_max_tokens,
        ),
    )
    return Runner(
        bus=c.bus,
        store=c.store,
        pipeline=pipeline,
        concurrency=s.worker_concurrency,
        progress_every=s.ack_wait / 3,
    )


def _policy(s: Settings) -> Policy:
    return Policy(
        retries=s.llm_retries,
        backoff=s.llm_backoff,
        deadline=s.llm_deadline,
        stall_timeout=s.stall_timeout,
        breaker_failures=s.breaker_failures,
        breaker_reset=s.breaker_reset,
        cache_seconds=s.response_cache_seconds,
    )


def vault_for(settings: Settings, store: Store) -> Vault | None:
    """The vault over ``store`` with CHATORCH_SECRET_KEYS; None when no key is set."""
    if settings.secret_keys is None:
        return None
    keys = [k for k in settings.secret_keys.get_secret_value().split(",") if k.strip()]
    try:
        return Vault(store, keys)
    except ValueError as error:
        raise StartupError(f"CHATORCH_SECRET_KEYS: not Fernet keys ({error})") from None


async def _provider_key(setting: SecretStr | None, vault: Vault | None, name: str) -> str | None:
    """A provider key from its setting, else from the vault (stored encrypted)."""
    if setting is not None:
        return setting.get_secret_value()
    return None if vault is None else await vault.get(name)


async def _providers(settings: Settings, vault: Vault | None) -> list[LLMProvider]:
    """The chain of CHATORCH_LLM; an SDK is imported only when the chain names it."""
    providers: list[LLMProvider] = []
    for entry in settings.llm.split(","):
        kind, _, model = entry.strip().partition(":")
        if kind == "openai":
            from chatorch.adapters.llm.openai import OpenAIProvider

            providers.append(
                OpenAIProvider(
                    model=model,
                    base_url=settings.openai_base_url,
                    api_key=await _provider_key(settings.openai_api_key, vault, "openai_api_key"),
                    timeout=settings.llm_timeout,
                )
            )
        elif kind == "anthropic":
            from chatorch.adapters.llm.anthropic import AnthropicProvider

            providers.append(
                AnthropicProvider(
                    model=model,
                    base_url=settings.anthropic_base_url,
                    api_key=await _provider_key(
                        settings.anthropic_api_key, vault, "anthropic_api_key"
                    ),
                    timeout=settings.llm_timeout,
                    max_tokens=settings.llm_max_tokens or 1024,
                )
            )
        else:
            providers.append(BuiltinProvider())
    return providers


async def _migrate(url: str) -> None:
    await asyncio.to_thread(migrate.upgrade, url)


async def _connecting(setting: str, work: Awaitable[T]) -> T:
    """Await ``work``; turn any failure into a one-line StartupError naming ``setting``."""
    try:
        return await work
    except ChatorchError as error:
        raise StartupError(f"{setting}: {error.detail}") from error
    except Exception as error:  # a driver's own error type: say what it said
        raise StartupError(f"{setting}: {type(error).__name__}: {error}") from error


async def live_processes(settings: Settings) -> list[dict[str, Any]]:
    """The gateways and workers of this deployment that answer on the bus."""
    if urlsplit(settings.bus_url).scheme == "memory":
        raise StartupError("CHATORCH_BUS_URL: the in-process bus has no other processes to list")
    bus = await _connecting("CHATORCH_BUS_URL", _bus(settings, "status"))
    try:
        assert isinstance(bus, NatsBus)
        return await survey(bus.client, namespace=settings.namespace)
    finally:
        await bus.close()


@asynccontextmanager
async def store_only(settings: Settings) -> AsyncIterator[Authenticator]:
    """Just the store (migrated) and what manages keys: for `chatorch keys`."""
    await _connecting("CHATORCH_DATABASE_URL", _migrate(settings.database_url))
    store = await _connecting("CHATORCH_DATABASE_URL", connect_sql(settings.database_url))
    try:
        async with store.transaction() as tx:
            local_user = await tx.users.ensure_user(LOCAL_USER)
        yield Authenticator(store, verifier=None, required=True, local_user=local_user)
    finally:
        await store.close()


def migrate_database(url: str, *, downgrade: str | None = None) -> str | None:
    """Upgrade to the latest schema (or down to ``downgrade``); return the revision reached."""
    try:
        if downgrade is None:
            migrate.upgrade(url)
        else:
            migrate.downgrade(url, downgrade)
        return migrate.current(url)
    except Exception as error:
        raise StartupError(f"CHATORCH_DATABASE_URL: {type(error).__name__}: {error}") from error
