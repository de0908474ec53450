"""LLMProvider: a streamed chat completion that may ask for tool calls."""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

from chatorch.domain.llm import Chunk, LLMRequest

PROBE_TIMEOUT = 5.0  # s a probe may take: a health check must not hang on a provider


@dataclass(frozen=True, slots=True)
class Probe:
    """Whether a provider answers, without generating anything.

    ``status`` is the HTTP status of a refusal (401: the key was refused), None when
    the provider answered or could not be reached at all.
    """

    ok: bool
    detail: str
    latency_ms: float
    status: int | None = None


class LLMProvider(Protocol):
    @property
    def name(self) -> str:
        """The provider kind, e.g. ``openai`` or ``builtin``."""
        ...

    @property
    def model(self) -> str: ...

    def stream(self, request: LLMRequest) -> AsyncIterator[Chunk]:
        """Generate an answer chunk by chunk.

        Raises:
            LLMError: the provider refused or failed; ``retryable`` tells if trying
                again may help.
        """
        ...

    async def probe(self, *, timeout: float = PROBE_TIMEOUT) -> Probe:
        """Ask the provider whether it answers and takes the key (a models list, never a
        generation: no tokens are spent). Never raises: a failure is ``ok=False`` with a
        ``detail`` that says what went wrong, the key never in it."""
        ...

    async def close(self) -> None: ...
