"""LLMManager: the chain of providers, with a stall watchdog and fallback.

A provider that fails or stalls before its first chunk is skipped for the next one
in the chain, so the client never notices. Once chunks have gone out, a failure is
the caller's to report (the pipeline ends the answer with an ``error`` event).
"""

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog

from chatorch.domain.errors import GenerationStalled, LLMError
from chatorch.domain.llm import Chunk, LLMRequest
from chatorch.ports.llm import LLMProvider

log = structlog.get_logger(__name__)


@dataclass(slots=True)
class Generation:
    """One streamed completion; ``provider`` and ``model`` name who is answering."""

    chunks: AsyncIterator[Chunk] = field(init=False)
    provider: str = ""
    model: str = ""
    skipped: list[dict[str, Any]] = field(default_factory=list)


class LLMManager:
    def __init__(self, providers: Sequence[LLMProvider], *, stall_timeout: float) -> None:
        if not providers:
            raise ValueError("LLMManager needs at least one provider")
        self._providers = tuple(providers)
        self._stall_timeout = stall_timeout

    @property
    def providers(self) -> tuple[LLMProvider, ...]:
        return self._providers

    def generate(self, request: LLMRequest) -> Generation:
        generation = Generation()
        generation.chunks = self._fallback(request, generation)
        return generation

    async def _fallback(self, request: LLMRequest, generation: Generation) -> AsyncIterator[Chunk]:
        last = len(self._providers) - 1
        for index, provider in enumerate(self._providers):
            generation.provider, generation.model = provider.name, provider.model
            started = False
            stream = provider.stream(request)
            try:
                while True:
                    try:
                        async with asyncio.timeout(self._stall_timeout):
                            chunk = await anext(stream)
                    except StopAsyncIteration:
                        return
                    except TimeoutError:
                        raise GenerationStalled(
                            f"{provider.name} {provider.model} sent nothing for "
                            f"{self._stall_timeout:g} s"
                        ) from None
                    started = True
                    yield chunk
            except (LLMError, GenerationStalled) as error:
                if started or index == last:
                    raise
                generation.skipped.append(
                    {"provider": provider.name, "model": provider.model, "error": error.detail}
                )
                log.warning("llm.fallback", provider=provider.name, error=error.detail)
            finally:
                await _close(stream)

    async def close(self) -> None:
        for provider in self._providers:
            await provider.close()


async def _close(stream: AsyncIterator[Chunk]) -> None:
    aclose = getattr(stream, "aclose", None)
    if aclose is not None:
        await aclose()
