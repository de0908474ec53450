"""LLMProvider: a streamed chat completion that may ask for tool calls."""

from collections.abc import AsyncIterator
from typing import Protocol

from chatorch.domain.llm import Chunk, LLMRequest


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

    async def close(self) -> None: ...
