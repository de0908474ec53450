"""The model chain of CHATORCH_LLM behind the LLMManager: retries, breaker, cache."""

from contextlib import AsyncExitStack

from pydantic import SecretStr

from chatorch.adapters.llm.builtin import BuiltinProvider
from chatorch.ports.cache import Cache
from chatorch.ports.llm import LLMProvider
from chatorch.services.llm import LLMManager, Policy
from chatorch.services.metrics import MetricsCollector
from chatorch.services.secrets import Vault
from chatorch.settings import Settings


async def build_llm(
    settings: Settings,
    stack: AsyncExitStack,
    *,
    vault: Vault | None,
    metrics: MetricsCollector,
    cache: Cache,
) -> LLMManager:
    llm = LLMManager(
        await _providers(settings, vault), policy=_policy(settings), metrics=metrics, cache=cache
    )
    stack.push_async_callback(llm.close)
    return llm


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
