"""LLMManager: the chain of providers, made resilient.

For each provider in the chain (``CHATORCH_LLM``): a circuit breaker that skips it
while it keeps failing; retries with exponential backoff and jitter (or the wait the
provider asked for) on retryable failures before its first chunk; a watchdog on every
chunk (stall) and on the whole call (deadline). A provider that fails before its first
chunk is replaced by the next one and the client never notices; one that fails after
chunks went out is replaced too, announced by a ``restart`` chunk (the client sees a
``reset``). Deterministic requests (temperature 0) may be answered from the cache.
"""

import asyncio
import hashlib
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
import structlog

from chatorch import tracing
from chatorch.domain.errors import ChatorchError, GenerationStalled, LLMError
from chatorch.domain.llm import Chunk, LLMRequest, ToolCall, Usage
from chatorch.ports.cache import Cache
from chatorch.ports.llm import LLMProvider
from chatorch.services.breaker import CircuitBreaker
from chatorch.services.metrics import MetricsCollector, labelled

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Policy:
    retries: int = 2  # per provider, before its first chunk
    backoff: float = 0.5  # s before the first retry; doubles each time, with jitter
    deadline: float = 120.0  # s for one provider call, first byte to last
    stall_timeout: float = 30.0  # s without a chunk
    breaker_failures: int = 5
    breaker_reset: float = 30.0  # s
    cache_seconds: float = 0.0  # 0: no response cache


@dataclass(slots=True)
class Generation:
    """One streamed completion, and how it came about (for the answer's metadata)."""

    chunks: AsyncIterator[Chunk] = field(init=False)
    provider: str = ""
    model: str = ""
    skipped: list[dict[str, Any]] = field(default_factory=list)
    retries: int = 0
    cached: bool = False
    first_chunk_ms: float | None = None


class LLMManager:
    def __init__(
        self,
        providers: Sequence[LLMProvider],
        *,
        policy: Policy,
        metrics: MetricsCollector,
        cache: Cache | None = None,
    ) -> None:
        if not providers:
            raise ValueError("LLMManager needs at least one provider")
        self._providers = tuple(providers)
        self._policy = policy
        self._metrics = metrics
        self._cache = cache
        self._breakers = [
            CircuitBreaker(failures=policy.breaker_failures, reset_after=policy.breaker_reset)
            for _ in self._providers
        ]

    @property
    def providers(self) -> tuple[LLMProvider, ...]:
        return self._providers

    def generate(self, request: LLMRequest) -> Generation:
        generation = Generation()
        generation.chunks = self._answer(request, generation)
        return generation

    async def _answer(self, request: LLMRequest, generation: Generation) -> AsyncIterator[Chunk]:
        key = self._cache_key(request)
        cached = None if key is None else await self._from_cache(key, generation)
        if cached is not None:
            for chunk in cached:
                yield chunk
            return
        kept: list[Chunk] = []
        async for chunk in self._chain(request, generation):
            kept = [] if chunk.restart else [*kept, chunk]
            yield chunk
        if key is not None:
            await self._remember(key, generation, kept)

    async def _chain(self, request: LLMRequest, generation: Generation) -> AsyncIterator[Chunk]:
        sent = False  # chunks went out: a switch of provider must be announced
        last_error: ChatorchError | None = None
        for index, provider in enumerate(self._providers):
            if not self._breakers[index].allow():
                generation.skipped.append(_skip(provider, "circuit open: failing repeatedly"))
                continue
            if sent:
                yield Chunk(restart=True)
            generation.provider, generation.model = provider.name, provider.model
            try:
                async for chunk in self._with_retries(index, request, generation):
                    sent = True
                    yield chunk
                return
            except (LLMError, GenerationStalled) as error:
                last_error = error
                generation.skipped.append(_skip(provider, error.detail))
                log.warning("llm.fallback", provider=provider.name, error=error.detail)
        if last_error is not None:
            raise last_error
        raise LLMError("every provider of CHATORCH_LLM is failing; none is tried now")

    async def _with_retries(
        self, index: int, request: LLMRequest, generation: Generation
    ) -> AsyncIterator[Chunk]:
        provider, breaker = self._providers[index], self._breakers[index]
        label = f"{provider.name}:{provider.model}"
        for attempt in range(self._policy.retries + 1):
            started = False
            try:
                async for chunk in self._watched(provider, request, generation):
                    started = True
                    yield chunk
            except (LLMError, GenerationStalled) as error:
                breaker.failed()
                labelled(self._metrics.llm_calls, label, "error").inc()
                labelled(self._metrics.llm_breaker_state, label).set(breaker.state)
                retryable = isinstance(error, GenerationStalled) or error.retryable
                last = attempt == self._policy.retries
                if started or not retryable or last or not breaker.allow():
                    raise
                generation.retries += 1
                labelled(self._metrics.llm_retries, label).inc()
                await asyncio.sleep(self._pause(attempt, error))
            else:
                breaker.succeeded()
                labelled(self._metrics.llm_calls, label, "ok").inc()
                labelled(self._metrics.llm_breaker_state, label).set(breaker.state)
                return

    def _pause(self, attempt: int, error: ChatorchError) -> float:
        """The provider's own Retry-After if it gave one, else backoff with jitter."""
        asked = getattr(error, "retry_after", None)
        if asked is not None:
            return float(asked)
        return float(self._policy.backoff * 2**attempt * random.uniform(0.5, 1.5))

    async def _watched(
        self, provider: LLMProvider, request: LLMRequest, generation: Generation
    ) -> AsyncIterator[Chunk]:
        """The provider's chunks, each within the stall timeout, all within the deadline."""
        policy = self._policy
        started = time.monotonic()
        stream = provider.stream(request)
        call = tracing.model_call(provider.name, provider.model)  # one span per call
        usage, asked = Usage(), False
        try:
            while True:
                left = policy.deadline - (time.monotonic() - started)
                wait = min(policy.stall_timeout, left)
                try:
                    async with asyncio.timeout(max(wait, 0.0)):
                        chunk = await anext(stream)
                except StopAsyncIteration:
                    tracing.model_answered(
                        call,
                        input_tokens=usage.prompt_tokens,
                        output_tokens=usage.completion_tokens,
                        tool_calls=asked,
                    )
                    return
                except TimeoutError:
                    raise _overdue(provider, wait, stalled=wait < left) from None
                if generation.first_chunk_ms is None:
                    elapsed = time.monotonic() - started
                    generation.first_chunk_ms = round(elapsed * 1000, 2)
                    label = f"{provider.name}:{provider.model}"
                    labelled(self._metrics.llm_first_chunk_seconds, label).observe(elapsed)
                if chunk.usage is not None:
                    usage += chunk.usage
                asked = asked or bool(chunk.tool_calls)
                yield chunk
        except Exception as error:
            tracing.failed(call, error)
            raise
        finally:
            call.end()
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                await aclose()

    def _cache_key(self, request: LLMRequest) -> str | None:
        """Only deterministic requests are cached: temperature 0, and the cache is on."""
        if self._cache is None or self._policy.cache_seconds <= 0 or request.temperature != 0:
            return None
        chain = [f"{p.name}:{p.model}" for p in self._providers]
        body = orjson.dumps([chain, request.turns, request.tools, request.max_tokens])
        return "llm:" + hashlib.sha256(body).hexdigest()

    async def _from_cache(self, key: str, generation: Generation) -> list[Chunk] | None:
        assert self._cache is not None
        raw = await self._cache.get(key)
        labelled(self._metrics.llm_cache, "miss" if raw is None else "hit").inc()
        if raw is None:
            return None
        entry = orjson.loads(raw)
        generation.provider, generation.model = entry["provider"], entry["model"]
        generation.cached = True
        return _decode(entry["chunks"])

    async def _remember(self, key: str, generation: Generation, chunks: list[Chunk]) -> None:
        assert self._cache is not None
        entry = {"provider": generation.provider, "model": generation.model}
        raw = orjson.dumps({**entry, "chunks": _encode(chunks)})
        await self._cache.set(key, raw, ttl=self._policy.cache_seconds)

    async def close(self) -> None:
        for provider in self._providers:
            await provider.close()


def _skip(provider: LLMProvider, error: str) -> dict[str, Any]:
    return {"provider": provider.name, "model": provider.model, "error": error}


def _overdue(provider: LLMProvider, wait: float, *, stalled: bool) -> ChatorchError:
    who = f"{provider.name} {provider.model}"
    if stalled:
        return GenerationStalled(f"{who} sent nothing for {wait:g} s")
    return LLMError(f"{who} did not finish within its deadline", retryable=True)


def _encode(chunks: list[Chunk]) -> list[dict[str, Any]]:
    return [
        {
            "text": c.text,
            "tool_calls": [[t.id, t.name, t.arguments] for t in c.tool_calls],
            "usage": None
            if c.usage is None
            else [c.usage.prompt_tokens, c.usage.completion_tokens],
        }
        for c in chunks
    ]


def _decode(raw: list[dict[str, Any]]) -> list[Chunk]:
    return [
        Chunk(
            text=c["text"],
            tool_calls=tuple(ToolCall(i, n, a) for i, n, a in c["tool_calls"]),
            usage=None if c["usage"] is None else Usage(*c["usage"]),
        )
        for c in raw
    ]


class Chains:
    """The LLMManager of each model chain in use: the server's, and the chains bots name
    (``Bot.llm``), each made once, on its first use, by ``make`` (the wiring's)."""

    def __init__(self, default: LLMManager, make: Callable[[str], Awaitable[LLMManager]]) -> None:
        self.default = default
        self._make = make
        self._made: dict[str, LLMManager] = {}
        self._making = asyncio.Lock()

    async def get(self, chain: str | None) -> LLMManager:
        """The manager for ``chain``; the server's for None."""
        if chain is None:
            return self.default
        made = self._made.get(chain)
        if made is None:
            async with self._making:
                made = self._made.get(chain)
                if made is None:
                    made = self._made[chain] = await self._make(chain)
        return made

    async def close(self) -> None:
        for manager in self._made.values():
            await manager.close()
        self._made.clear()
