"""Provider health: every provider of a chain asked at once whether it answers.

`chatorch doctor`, ``GET /v1/admin/health`` and the start-up warning share this. A
provider that is down is only a warning while another of its chain works: the
LLMManager falls back to it. ``ProbeCache`` keeps a round for a few seconds, so a
health page refreshed in a loop cannot hammer the providers (or spend their quota).
"""

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass

from chatorch.ports.llm import PROBE_TIMEOUT, LLMProvider, Probe

CACHE_SECONDS = 10.0  # a round of probes is reused this long


@dataclass(frozen=True, slots=True)
class ProviderHealth:
    """One provider's probe, under the name CHATORCH_LLM gives it (``openai:gpt-4o``)."""

    name: str
    ok: bool
    latency_ms: float
    detail: str
    status: int | None = None  # HTTP status of a refusal (401: the key)


@dataclass(frozen=True, slots=True)
class ChainHealth:
    providers: tuple[ProviderHealth, ...]
    checked_at: float  # s since the epoch

    @property
    def answering(self) -> bool:
        """Whether some provider of the chain works: answers can still be made."""
        return any(p.ok for p in self.providers)

    @property
    def all_ok(self) -> bool:
        return all(p.ok for p in self.providers)


def label(provider: LLMProvider) -> str:
    """A provider as CHATORCH_LLM names it: ``kind:model`` (``builtin`` alone)."""
    return provider.name if provider.name == "builtin" else f"{provider.name}:{provider.model}"


async def probe_chain(
    providers: Sequence[LLMProvider], *, timeout: float = PROBE_TIMEOUT
) -> ChainHealth:
    """Probe every provider concurrently; each has ``timeout`` s, so all of them do."""
    found = await asyncio.gather(*(_probe(p, timeout) for p in providers))
    health = (
        ProviderHealth(label(p), r.ok, r.latency_ms, r.detail, r.status)
        for p, r in zip(providers, found, strict=True)
    )
    return ChainHealth(tuple(health), time.time())


async def _probe(provider: LLMProvider, timeout: float) -> Probe:
    """The provider's own probe, held to ``timeout`` even if it overran its own."""
    started = time.perf_counter()
    try:
        async with asyncio.timeout(timeout + 1):
            return await provider.probe(timeout=timeout)
    except TimeoutError:
        spent = round((time.perf_counter() - started) * 1000, 1)
        detail = f"{label(provider)}: no answer within {timeout:g} s"
        return Probe(ok=False, detail=detail, latency_ms=spent)


class ProbeCache:
    """The chain's latest health, asked again only when older than ``ttl`` s; callers
    who ask while a round runs wait for that round instead of starting another."""

    def __init__(
        self,
        providers: Sequence[LLMProvider],
        *,
        ttl: float = CACHE_SECONDS,
        timeout: float = PROBE_TIMEOUT,
    ) -> None:
        self._providers = tuple(providers)
        self._ttl = ttl
        self._timeout = timeout
        self._latest: ChainHealth | None = None
        self._taken = 0.0  # monotonic s of the latest round
        self._lock = asyncio.Lock()

    async def get(self) -> ChainHealth:
        async with self._lock:
            fresh = self._latest is not None and time.monotonic() - self._taken < self._ttl
            if not fresh:
                self._latest = await probe_chain(self._providers, timeout=self._timeout)
                self._taken = time.monotonic()
            assert self._latest is not None
            return self._latest
