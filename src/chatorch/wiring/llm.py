"""The model chain of CHATORCH_LLM behind the LLMManager: retries, breaker, cache.

At start the chain's providers are probed in the background: one that does not answer
is said once (``llm.provider_unreachable``), without slowing or failing the start —
the chain may fall back from it, and it may be back before the first question.
"""

import asyncio
import contextlib
from collections.abc import Sequence
from contextlib import AsyncExitStack

import structlog
from pydantic import SecretStr

from chatorch.adapters.llm.builtin import BuiltinProvider
from chatorch.domain.errors import InvalidInput
from chatorch.ports.cache import Cache
from chatorch.ports.llm import LLMProvider
from chatorch.ports.store import Store
from chatorch.services.llm import Chains, LLMManager, Policy
from chatorch.services.metrics import MetricsCollector
from chatorch.services.probes import probe_chain
from chatorch.services.secrets import Vault
from chatorch.settings import Settings
from chatorch.wiring.startup import StartupError

log = structlog.get_logger(__name__)


async def build_llm(
    settings: Settings,
    stack: AsyncExitStack,
    *,
    store: Store,
    vault: Vault | None,
    metrics: MetricsCollector,
    cache: Cache,
) -> Chains:
    """The server's chain (CHATORCH_LLM), and the others bots name, made on first use."""

    async def manager(chain: str) -> LLMManager:
        providers = await _providers(chain, settings, vault, store=store)
        return LLMManager(providers, policy=_policy(settings), metrics=metrics, cache=cache)

    default = await manager(settings.llm)
    stack.push_async_callback(default.close)
    chains = Chains(default, manager)
    stack.push_async_callback(chains.close)
    warning = asyncio.create_task(warn_unreachable(default.providers), name="chatorch-llm-probe")
    stack.push_async_callback(_cancel, warning)  # before the providers close
    return chains


async def chain_providers(
    settings: Settings, stack: AsyncExitStack, *, store: Store | None, vault: Vault | None
) -> list[LLMProvider]:
    """CHATORCH_LLM's providers alone, closed with ``stack``: for `chatorch doctor`
    (``store``: None when its tables are not there, so keys come from settings alone)."""
    providers = await _providers(settings.llm, settings, vault, store=store)
    for provider in providers:
        stack.push_async_callback(provider.close)
    return providers


async def warn_unreachable(providers: Sequence[LLMProvider]) -> None:
    """Probe the chain once; log each provider that does not answer (never raises)."""
    health = await probe_chain(providers)
    for provider in health.providers:
        if not provider.ok:
            log.warning(
                "llm.provider_unreachable",
                provider=provider.name,
                detail=provider.detail,
                fallback="another provider of CHATORCH_LLM answers"
                if health.answering
                else "no provider of CHATORCH_LLM answers: answers will fail",
            )


async def _cancel(task: "asyncio.Task[None]") -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


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


async def _provider_key(
    setting: SecretStr | None, vault: Vault | None, name: str, *, store: Store | None
) -> str | None:
    """A provider key from its setting, else from the vault (stored encrypted); with no
    ``store`` (its schema not made yet), from its setting alone.

    Raises:
        StartupError: the stored key does not decrypt with CHATORCH_SECRET_KEYS.
    """
    if setting is not None:
        return setting.get_secret_value()
    if store is None:
        return None
    if vault is None:
        async with store.transaction() as tx:
            if await tx.secrets.get_secret(name) is not None:
                log.warning(
                    "secret.ignored",
                    secret=name,
                    detail="a secret of this name is stored, but CHATORCH_SECRET_KEYS is not"
                    " set to decrypt it; the provider is called without it",
                )
        return None
    try:
        return await vault.get(name)
    except InvalidInput as error:
        raise StartupError(
            f"CHATORCH_SECRET_KEYS: {error.detail}; put the key it was stored with first"
            " (after a rotation, keep the old key until `chatorch secrets rotate` has run)"
        ) from None


async def _providers(
    chain: str, settings: Settings, vault: Vault | None, *, store: Store | None
) -> list[LLMProvider]:
    """The providers of ``chain`` (CHATORCH_LLM's syntax); an SDK is imported only when
    the chain names it."""
    providers: list[LLMProvider] = []
    for entry in chain.split(","):
        kind, _, model = entry.strip().partition(":")
        if kind == "openai":
            from chatorch.adapters.llm.openai import OpenAIProvider

            providers.append(
                OpenAIProvider(
                    model=model,
                    base_url=settings.openai_base_url,
                    api_key=await _provider_key(
                        settings.openai_api_key, vault, "openai_api_key", store=store
                    ),
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
                        settings.anthropic_api_key, vault, "anthropic_api_key", store=store
                    ),
                    timeout=settings.llm_timeout,
                    max_tokens=settings.llm_max_tokens or 1024,
                )
            )
        else:
            providers.append(BuiltinProvider())
    return providers
